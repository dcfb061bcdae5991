"""Reference data the business checks read: customer credit profiles and the serviceability table.

In a full BSS these come from CRM/credit-bureau and a qualification service; here they are tables an
admin maintains (and the demo loads), so every check runs against real data.
"""
from decimal import Decimal

from django.db import models
from simple_history.models import HistoricalRecords


class CustomerProfile(models.Model):
    class PaymentType(models.TextChoices):
        PREPAID = "prepaid"
        POSTPAID = "postpaid"

    party_id = models.CharField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    payment_type = models.CharField(max_length=10, choices=PaymentType.choices, default=PaymentType.POSTPAID)
    credit_limit = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("200.00"),
                                       help_text="Monthly recurring charges allowed without approval.")
    segment = models.CharField(max_length=40, blank=True, help_text="e.g. residential, business, VIP")
    billing_account_id = models.CharField(max_length=80, blank=True,
                                          help_text="The customer's default billing account, used when an order "
                                                    "names none.")
    # Who changed a credit limit, when, from what: the credit check holds orders on it.
    history = HistoricalRecords()

    class Meta:
        ordering = ["party_id"]

    def __str__(self) -> str:
        return f"{self.party_id} {self.name}"


class ServiceabilityRecord(models.Model):
    """Which access technology reaches an address, and how fast."""

    place_id = models.CharField(max_length=80, db_index=True, help_text="Address id as channels send it.")
    address = models.CharField(max_length=300, blank=True)
    technology = models.CharField(max_length=20, help_text="e.g. GPON, HFC")
    max_download_mbps = models.PositiveIntegerField()
    preference = models.PositiveSmallIntegerField(default=10, help_text="Lower is chosen first.")

    class Meta:
        ordering = ["place_id", "preference"]
        constraints = [models.UniqueConstraint(fields=["place_id", "technology"], name="uniq_place_tech")]

    def __str__(self) -> str:
        return f"{self.place_id}: {self.technology} {self.max_download_mbps} Mbps"
