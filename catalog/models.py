"""The product catalog (a TMF620 subset) and the decomposition rules COM reads from it.

What is sold (``ProductOffering``) points at what it is (``ProductSpecification``, with its
characteristics); the specification says which customer-facing services (``ServiceSpecification``,
CFS) realise it (``DecompositionRule``).

Versioning: a ``ProductSpecification`` row is one version. Its characteristics and rules are frozen
once an order item has been captured against it; a change is made on a new version
(``services.revise_specification``), which the offerings then sell. Order items keep the version they
were captured with, so decomposition of an old order never sees a newer rule.

A ``ServiceSpecification`` row is one version of a CFS too, and a rule names a version, not a code. A CFS
version is frozen once a product specification version in use names it (or a service order item was
planned with it); a change of its settings is a new version (``services.revise_service_specification``),
which new versions of the product specifications using it name and the offerings then sell. So an order
is decomposed and replanned with the whole catalog as it was captured: its product specification
versions, their rules, and the CFS versions those rules name.
"""
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


class LifecycleStatus(models.TextChoices):
    IN_DESIGN = "inDesign", "in design"
    ACTIVE = "active", "active"
    RETIRED = "retired", "retired"


class ValueType(models.TextChoices):
    STRING = "string", "string"
    INTEGER = "integer", "integer"
    NUMBER = "number", "number"
    BOOLEAN = "boolean", "boolean"


class FailurePolicy(models.TextChoices):
    """What COM does when a CFS has failed and its retries are spent."""

    COMPENSATE = "compensate", "compensate: undo what completed of the product, then fail the item"
    FALLOUT = "fallout", "fallout: hold the item for an agent with the SOM's error"


class ServiceSpecification(models.Model):
    """One version of a customer-facing service (CFS) that a SOM knows how to build, and how COM fulfils it."""

    code = models.CharField(max_length=80, help_text="Stable id shared by every version: the TMF641 "
                                                     "serviceSpecification id and name.")
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    som = models.CharField(max_length=40, default="default", help_text="Key of the SOM that builds it (COM_SOM_ENDPOINTS).")
    max_retries = models.PositiveSmallIntegerField(default=0, help_text="New service orders sent after a failure.")
    failure_policy = models.CharField(max_length=20, choices=FailurePolicy.choices, default=FailurePolicy.FALLOUT)
    shareable = models.BooleanField(
        default=False, help_text="One instance serves every product of the same order at the same place."
    )
    reversible = models.BooleanField(default=True, help_text="Can be undone by a delete once completed.")
    milestones = models.JSONField(default=list, blank=True,
                                  help_text="The milestones SOM reports while building it, in order "
                                            "(e.g. reserved, dispatched, delivered).")
    compensation_action = models.CharField(
        max_length=20, choices=[("cancel", "cancel at SOM"), ("return", "return process"),
                                ("terminate", "termination")], default="terminate",
        help_text="How it is undone once past its point of no return or built (a delete service order item, which "
                  "SOM carries out as a return or a termination).")
    point_of_no_return = models.CharField(
        max_length=40, blank=True, help_text="The SOM milestone (e.g. dispatched, activated) after which cancelling "
                                             "it means compensating it; empty: cancellable until completed.")
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="required_by",
        help_text="Services that must be completed before this one is submitted, named by their code (whichever "
                  "version of them an order builds).",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["code", "-version"]
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="uniq_service_spec_version")]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"

    @property
    def in_use(self) -> bool:
        """True once a product specification version in use names it, or a service was planned with it: it is
        frozen from then on."""
        return (self.rules.filter(specification__order_items__isnull=False).exists()
                or self.serviceorderitem_set.exists())


class ProductSpecification(models.Model):
    """One version of a product specification: its characteristics and decomposition rules."""

    spec_id = models.CharField(max_length=80, help_text="Stable id shared by every version.")
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    brand = models.CharField(max_length=80, blank=True)
    lifecycle_status = models.CharField(max_length=20, choices=LifecycleStatus.choices, default=LifecycleStatus.ACTIVE)
    requires_place = models.BooleanField(default=False, help_text="Needs a serviceable installation address.")
    requires_appointment = models.BooleanField(default=False)
    last_update = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["spec_id", "-version"]
        constraints = [models.UniqueConstraint(fields=["spec_id", "version"], name="uniq_spec_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def in_use(self) -> bool:
        """True once an order item was captured against this version: it is frozen from then on."""
        return self.order_items.exists()


class ProductSpecCharacteristic(models.Model):
    specification = models.ForeignKey(ProductSpecification, on_delete=models.CASCADE, related_name="characteristics")
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    value_type = models.CharField(max_length=20, choices=ValueType.choices, default=ValueType.STRING)
    mandatory = models.BooleanField(default=False)
    configurable = models.BooleanField(default=True)
    allowed_values = models.JSONField(default=list, blank=True, help_text="Empty: any value of the type.")
    default_value = models.JSONField(null=True, blank=True)
    unit = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["specification", "id"]
        constraints = [models.UniqueConstraint(fields=["specification", "name"], name="uniq_spec_char")]

    def __str__(self) -> str:
        return self.name


class ConditionOperator(models.TextChoices):
    EQUALS = "eq", "equals"
    NOT_EQUALS = "ne", "does not equal"
    IN = "in", "is one of"
    AT_LEAST = "gte", "is at least"


class DecompositionRule(models.Model):
    """Product specification version -> one CFS, with the condition under which it is needed."""

    specification = models.ForeignKey(ProductSpecification, on_delete=models.CASCADE, related_name="decomposition_rules")
    service_specification = models.ForeignKey(ServiceSpecification, on_delete=models.PROTECT, related_name="rules")
    sequence = models.PositiveSmallIntegerField(default=10, help_text="Fixes the order of the plan.")
    mandatory = models.BooleanField(default=True, help_text="Optional CFS may fail without failing the product.")
    condition_characteristic = models.CharField(max_length=80, blank=True)
    condition_operator = models.CharField(max_length=5, choices=ConditionOperator.choices, blank=True)
    condition_value = models.JSONField(null=True, blank=True)
    technology = models.CharField(max_length=20, blank=True, help_text="Only for this access technology (serviceability).")
    input_characteristics = models.JSONField(
        default=list, blank=True, help_text="Product characteristics the CFS receives; a change to any of them modifies it."
    )

    class Meta:
        ordering = ["specification", "sequence", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["specification", "service_specification", "technology"], name="uniq_rule_per_cfs"
            )
        ]

    def __str__(self) -> str:
        return f"{self.specification} -> {self.service_specification}"


class ProductOffering(models.Model):
    """What a channel sells: a specification version at a price, within a validity period."""

    offering_id = models.CharField(max_length=80, unique=True, help_text="TMF620 id.")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    version = models.CharField(max_length=20, default="1")
    lifecycle_status = models.CharField(max_length=20, choices=LifecycleStatus.choices, default=LifecycleStatus.ACTIVE)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True)
    specification = models.ForeignKey(ProductSpecification, on_delete=models.PROTECT, related_name="offerings")
    category = models.CharField(max_length=80, blank=True, help_text="e.g. residential, business")
    is_sellable = models.BooleanField(default=True)
    last_update = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.offering_id} v{self.version})"

    @property
    def in_use(self) -> bool:
        """True once an order item was captured against this version of the offering: its prices are frozen
        (a price change waits for the next version, ``services.revise_specification``)."""
        return self.order_items.filter(offering_version=self.version).exists()

    def is_orderable_at(self, when) -> bool:
        if self.lifecycle_status != LifecycleStatus.ACTIVE or not self.is_sellable:
            return False
        return self.valid_from <= when and (self.valid_to is None or when < self.valid_to)


class PriceType(models.TextChoices):
    RECURRING = "recurring", "recurring"
    ONE_TIME = "oneTime", "one-time"
    USAGE = "usage", "usage"


class ProductOfferingPrice(models.Model):
    offering = models.ForeignKey(ProductOffering, on_delete=models.CASCADE, related_name="prices")
    name = models.CharField(max_length=120)
    price_type = models.CharField(max_length=20, choices=PriceType.choices)
    # A charge of nothing or less is a mistake (an order priced at -500.00 was once billed): at least a cent.
    amount = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(max_length=3, default="EUR")
    recurring_period = models.CharField(max_length=20, blank=True, help_text="e.g. month")
    condition_characteristic = models.CharField(
        max_length=80, blank=True, help_text="Charged only when the product's characteristic of this name has "
                                             "the value below (TMF620 prodSpecCharValueUse); empty: always.")
    condition_value = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["offering", "id"]

    def __str__(self) -> str:
        return f"{self.name}: {self.amount} {self.currency}"

    def applies_to(self, characteristics: dict | None) -> bool:
        if not self.condition_characteristic:
            return True
        return (characteristics or {}).get(self.condition_characteristic) == self.condition_value
