"""The outbox: every outbound effect, written in the same transaction as the state change causing it.

A relay (``services.delivery``, run by Celery tasks) delivers each message over HTTP. A message is claimed
for a short lease with a fresh ``lease_token``, sent outside any transaction, and its result recorded only
if the token is still the message's (fencing: a worker whose lease expired and was taken over cannot
overwrite the newer attempt's result). A crash in between leaves the lease to expire and the message is
sent again, which the receiver recognises by ``dedup_key`` (TMF641 ``externalId``, event ``eventId``).
Attempts are counted on the row and bounded.

A TMF622 event is stored once (``Notification``) however many listeners receive it.
"""
from django.db import models
from django.utils import timezone


class Notification(models.Model):
    """One TMF622 event about an order, as every listener of its channel receives it."""

    event_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=60)
    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, related_name="notifications")
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class OutboxMessage(models.Model):
    class Kind(models.TextChoices):
        SERVICE_ORDER = "serviceOrder", "TMF641 service order submission"
        NOTIFICATION = "notification", "TMF622 event to a channel listener"
        CANCEL_SERVICE_ORDER = "cancelServiceOrder", "TMF641 service order cancellation"

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        DEAD = "dead", "dead (gave up)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    dedup_key = models.CharField(max_length=200, unique=True)
    url = models.URLField(max_length=500)
    payload = models.JSONField(null=True, blank=True, help_text="The body; for a notification, see notification.")
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, null=True, blank=True,
                                     related_name="deliveries")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=10)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True, help_text="The current claim; a result is recorded "
                                                                         "only by the worker holding it.")
    enqueued_until = models.DateTimeField(null=True, blank=True,
                                          help_text="A delivery task is queued; the sweep leaves it alone until then.")
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    may_have_reached = models.BooleanField(
        default=False, help_text="An attempt may have reached the receiver (an answer came, the connection broke "
                                 "after it was made, or a worker died sending it): it can no longer be withdrawn.")
    response_body = models.JSONField(null=True, blank=True, help_text="What COM kept of SOM's answer (its ids).")
    response_excerpt = models.CharField(max_length=300, blank=True, help_text="The start of the answer.")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="outbox_messages")
    service_order = models.OneToOneField("orders.ServiceOrder", on_delete=models.CASCADE, null=True, blank=True,
                                         related_name="outbox_message")
    cancellation = models.OneToOneField("orders.ServiceOrderCancellation", on_delete=models.CASCADE, null=True,
                                        blank=True, related_name="outbox_message")
    subscription = models.ForeignKey("orders.HubSubscription", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="outbox_messages")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.dedup_key} ({self.status})"

    @property
    def body(self) -> dict:
        return self.notification.payload if self.notification_id else self.payload
