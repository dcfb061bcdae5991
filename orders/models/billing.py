"""Billing intents: what a billing system must start, change or stop charging, and why. Append-only.

COM does not bill; it hands billing clear intents with their evidence. Each intent names the order item and
product it comes from, the catalog unit prices and the quantity, the effective date, and (for a mutation)
the request that caused it. A correction is a new intent (adjust, credit), never an edit of an old one.
"""
from django.db import models
from django.utils import timezone


class BillingIntent(models.Model):
    class Action(models.TextChoices):
        ACTIVATE = "activate"
        CHANGE = "change"
        ADJUST = "adjust"
        CREDIT = "credit"
        DEACTIVATE = "deactivate"

    order = models.ForeignKey("orders.ProductOrder", on_delete=models.PROTECT, related_name="billing_intents")
    item = models.ForeignKey("orders.ProductOrderItem", on_delete=models.PROTECT, related_name="billing_intents")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="billing_intents")
    action = models.CharField(max_length=12, choices=Action.choices)
    dedup_key = models.CharField(max_length=200, unique=True, help_text="Writing the same intent twice is a no-op.")
    customer_id = models.CharField(max_length=80)
    billing_account_id = models.CharField(max_length=80, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    prices = models.JSONField(default=list, help_text="Catalog unit prices with their totals for the quantity.")
    effective_date = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True)
    mutation = models.ForeignKey("orders.MutationRequest", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="billing_intents", help_text="The mutation that caused it, if any.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.product_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("BillingIntent is append-only")
        super().save(*args, **kwargs)
