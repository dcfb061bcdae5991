"""Fallout: work that stopped and needs a person, with the reason; and the errors COM itself raised.

One ``Fallout`` per stuck thing: per service order item when a service failed (a CFS shared by two product
items is one fallout holding both), per order when the order itself is stuck (checks that keep raising, a
watchdog finding nothing in flight). Its product items are held while it is open; one repair resolves it
for every item it holds. ``stage`` says where the work stopped, which decides what "retry" means.
"""
from django.conf import settings
from django.db import models
from django.utils import timezone


class FalloutStage(models.TextChoices):
    CHECKS = "checks", "business checks"
    PLANNING = "planning", "decomposition"
    SUBMISSION = "submission", "sending to SOM"
    FULFILMENT = "fulfilment", "fulfilment at SOM"
    EVENT = "event", "applying a SOM event"
    COMPLETION = "completion", "inventory and billing"
    WATCHDOG = "watchdog", "nothing in flight"


class FalloutCategory(models.TextChoices):
    """The class of a fallout decides the repair the order desk is offered first."""

    TRANSIENT = "transient", "transient downstream"
    DATA = "data", "data error"
    RESOURCE = "resource", "resource shortage"
    CONFIGURATION = "configuration", "configuration"
    INTERNAL = "internal", "internal error"


class Fallout(models.Model):
    """Something an agent must look at: a service that failed with no automatic way forward, or a stuck order."""

    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, related_name="fallouts")
    service_order_item = models.ForeignKey(
        "orders.ServiceOrderItem", on_delete=models.CASCADE, null=True, blank=True, related_name="fallouts",
        help_text="The failed service; empty for a fallout of the order as a whole.",
    )
    items = models.ManyToManyField("orders.ProductOrderItem", related_name="fallouts", blank=True,
                                   help_text="The product order items held by it.")
    stage = models.CharField(max_length=20, choices=FalloutStage.choices)
    category = models.CharField(max_length=20, choices=FalloutCategory.choices)
    reason_code = models.CharField(max_length=60)
    root_cause = models.CharField(max_length=200, db_index=True,
                                  help_text="Fallouts with the same root cause are grouped on the order desk.")
    message = models.CharField(max_length=500)
    context = models.JSONField(default=dict, blank=True, help_text="The SOM's error, attempts, a traceback summary.")
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=20, blank=True)
    resolution_note = models.CharField(max_length=500, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)

    class Meta:
        ordering = ["opened_at", "id"]
        constraints = [
            # A service is in the queue once at a time (an order-level problem joins its open fallout: fallouts).
            models.UniqueConstraint(fields=["service_order_item"], condition=models.Q(resolved_at__isnull=True),
                                    name="uniq_open_fallout_per_service"),
        ]
        indexes = [models.Index(fields=["resolved_at", "opened_at"]),
                   # the order desk: open fallouts grouped by root cause, filtered by class
                   models.Index(fields=["resolved_at", "root_cause"], name="fallout_open_root_cause"),
                   models.Index(fields=["category", "resolved_at", "opened_at"], name="fallout_category_open")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.reason_code}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class ProcessingError(models.Model):
    """An exception COM raised while working on an order: what, where, when, and a traceback summary.

    Counted per (order, stage, key) until a fallout takes them over: after ``COM_MAX_PROCESSING_ATTEMPTS``
    the work stops and an INTERNAL_ERROR fallout puts it in front of a person.
    """

    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, related_name="processing_errors")
    stage = models.CharField(max_length=20, choices=FalloutStage.choices)
    key = models.CharField(max_length=120, blank=True, help_text="What was being processed (an event id, an item).")
    error = models.CharField(max_length=500, help_text="Exception type and message.")
    traceback = models.TextField(blank=True, help_text="The last frames of the traceback.")
    occurred_at = models.DateTimeField(default=timezone.now)
    fallout = models.ForeignKey(Fallout, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="processing_errors")

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["order", "stage", "key"])]

    def __str__(self) -> str:
        return f"{self.order_id} {self.stage}: {self.error[:60]}"
