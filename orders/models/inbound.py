"""Fulfilment events as received from SOM: stored first, processed after, never lost, never applied twice.

The listener stores an event (by its ``eventId``) and answers at once; a task applies it. If that task is
lost (the no-server broker delivers at most once) or keeps failing, the liveness sweep finds the row still
``received`` and runs it again, a bounded number of times: then it is ``failed`` and an INTERNAL_ERROR fallout
puts the order in front of a person. A snapshot COM read back from SOM (``GET serviceOrder``) is stored the
same way, keyed by its content.
"""
from django.db import models
from django.utils import timezone


class InboundEvent(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "received, not yet applied"
        PROCESSED = "processed"
        FAILED = "failed", "failed (in fallout)"
        UNMATCHED = "unmatched", "names no service order COM knows (yet)"
        IGNORED = "ignored", "stored, nothing to apply"

    event_id = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=40, default="som", help_text="som (an event) or som-poll (a read-back).")
    som = models.CharField(max_length=40, blank=True, help_text="The SOM endpoint it came from.")
    event_type = models.CharField(max_length=80)
    received_at = models.DateTimeField(default=timezone.now)
    service_order = models.ForeignKey("orders.ServiceOrder", on_delete=models.CASCADE, null=True, blank=True,
                                      related_name="inbound_events")
    som_order_ref = models.CharField(max_length=80, blank=True, db_index=True,
                                     help_text="SOM's id of the service order it names: an event that overtook "
                                               "SOM's 201 is matched once COM learns that id.")
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times processing was tried.")
    enqueued_until = models.DateTimeField(null=True, blank=True,
                                          help_text="A processing task is queued: the sweep leaves it alone until "
                                                    "then.")
    last_error = models.CharField(max_length=500, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
