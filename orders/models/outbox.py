"""The outbox: every outbound effect, written in the same transaction as the state change causing it.

A relay (``services.outbox``, run by Celery tasks) delivers each message over HTTP. A message is claimed
for a short lease, sent outside any transaction, and its result recorded; a crash in between leaves the
lease to expire and the message is sent again, which the receiver recognises by ``dedup_key``
(TMF641 ``externalId``, event ``eventId``). Attempts are counted on the row and bounded.
"""
from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    class Kind(models.TextChoices):
        SERVICE_ORDER = "serviceOrder", "TMF641 service order submission"
        NOTIFICATION = "notification", "TMF622 event to a channel listener"

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        DEAD = "dead", "dead (gave up)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    dedup_key = models.CharField(max_length=200, unique=True)
    url = models.URLField(max_length=500)
    payload = models.JSONField()
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=10)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="outbox_messages")
    service_order = models.OneToOneField("orders.ServiceOrder", on_delete=models.CASCADE, null=True, blank=True,
                                         related_name="outbox_message")
    subscription = models.ForeignKey("orders.HubSubscription", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="outbox_messages")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.dedup_key} ({self.status})"
