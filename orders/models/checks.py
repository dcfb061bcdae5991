"""Business checks: one run per trigger (capture, an agent's retry, a product freed, a mutation), its results.

A run is append-only history: a second run after a hold or a mutation never rewrites what the first said;
``OrderCheckResult`` rows hang off their run. The latest finished run is what the order stands on.
"""
from django.db import models
from django.utils import timezone


class CheckOutcome(models.TextChoices):
    PASS = "pass"
    FAIL = "fail"
    HOLD = "hold"


class CheckRun(models.Model):
    """One evaluation of the order's checks, for one reason."""

    class Trigger(models.TextChoices):
        CAPTURE = "capture", "captured"
        AGENT_RETRY = "agentRetry", "an agent asked to check again"
        PRODUCT_RELEASED = "productReleased", "the product another order was changing is free"
        MUTATION = "mutation", "a mutation changed the order"

    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, related_name="check_runs")
    sequence = models.PositiveSmallIntegerField(help_text="1, 2, ...: the n-th run of this order.")
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    checks = models.JSONField(default=list, help_text="Codes of the checks this run evaluated.")
    outcome = models.CharField(max_length=10, choices=CheckOutcome.choices, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=120, default="system")

    class Meta:
        ordering = ["order", "sequence"]
        constraints = [models.UniqueConstraint(fields=["order", "sequence"], name="uniq_check_run_seq")]

    def __str__(self) -> str:
        return f"{self.order_id} run {self.sequence} ({self.trigger}): {self.outcome or 'running'}"


class OrderCheckResult(models.Model):
    """What one business check said about one order in one run."""

    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, related_name="check_results")
    run = models.ForeignKey(CheckRun, on_delete=models.CASCADE, related_name="results")
    check_code = models.CharField(max_length=60)
    outcome = models.CharField(max_length=10, choices=CheckOutcome.choices)
    reason_code = models.CharField(max_length=60, blank=True)
    message = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ran_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "check_code"], name="uniq_check_per_run")]

    def __str__(self) -> str:
        return f"{self.check_code}: {self.outcome}"
