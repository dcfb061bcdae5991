r"""Fulfilment: the decomposition plan, the TMF641 service orders sent to SOM, inbound events, billing.

Service order item (one CFS to build for one or more product order items; COM's plan)::

    planned --acknowledge--> acknowledged --start--> inProgress --complete--> completed
       |  \                       |  \                   |  \----fail------> failed --replan--> planned
       |   \--cancel--> cancelled  |   \--hold/defer--> held|pending --start--> inProgress
       \--reject--> rejected <-----/

``planned`` is COM's own state before SOM has accepted anything (TMF641 has no word for it); every
other value is TMF641's ``ServiceOrderItemStateType``. SOM events may arrive late or out of order:
``complete``/``fail`` are accepted from any live state, and a state never moves back
(``services.som_events`` compares ranks before calling a transition).

Service order (one TMF641 ``serviceOrder`` sent to one SOM: a wave of ready items, a retry, or a
compensation)::

    planned --acknowledge--> acknowledged --start--> inProgress --> completed | failed | partial
    planned --reject--> rejected   (SOM answered 4xx, or delivery gave up)
"""
import uuid

from django.db import models
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords


class SomState(models.TextChoices):
    PLANNED = "planned", "planned"
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    REJECTED = "rejected", "rejected"
    PENDING = "pending", "pending"
    HELD = "held", "held"
    IN_PROGRESS = "inProgress", "inProgress"
    CANCELLED = "cancelled", "cancelled"
    COMPLETED = "completed", "completed"
    FAILED = "failed", "failed"
    PARTIAL = "partial", "partial"
    ASSESSING_CANCELLATION = "assessingCancellation", "assessingCancellation"
    PENDING_CANCELLATION = "pendingCancellation", "pendingCancellation"


TERMINAL_SOM_STATES = frozenset(
    {SomState.REJECTED, SomState.CANCELLED, SomState.COMPLETED, SomState.FAILED, SomState.PARTIAL}
)
# How far along a state is: an event may move a record forward or sideways, never back.
SOM_STATE_RANK = {
    SomState.PLANNED: 0,
    SomState.ACKNOWLEDGED: 1,
    SomState.PENDING: 2,
    SomState.HELD: 2,
    SomState.IN_PROGRESS: 2,
    SomState.ASSESSING_CANCELLATION: 2,
    SomState.PENDING_CANCELLATION: 2,
    SomState.REJECTED: 3,
    SomState.CANCELLED: 3,
    SomState.COMPLETED: 3,
    SomState.FAILED: 3,
    SomState.PARTIAL: 3,
}
_LIVE = [SomState.PLANNED, SomState.ACKNOWLEDGED, SomState.PENDING, SomState.HELD, SomState.IN_PROGRESS]


def new_service_order_id() -> str:
    return f"SO-{uuid.uuid4().hex[:12].upper()}"


class ServiceOrder(FSMModelMixin, models.Model):
    """One TMF641 service order: what COM asked one SOM to do, and what SOM says of it."""

    id = models.CharField(primary_key=True, max_length=40, default=new_service_order_id, editable=False)
    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, related_name="service_orders")
    som = models.CharField(max_length=40)
    sequence = models.PositiveSmallIntegerField(help_text="1, 2, ...: the n-th service order of this product order.")
    purpose = models.CharField(max_length=20, default="fulfil", help_text="fulfil, retry or compensate")
    external_id = models.CharField(
        max_length=80, unique=True, help_text="Stable id sent to SOM, so a resent request is recognised."
    )
    som_order_id = models.CharField(max_length=80, blank=True, db_index=True, help_text="The id SOM gave it.")
    state = FSMField(default=SomState.PLANNED, choices=SomState.choices, protected=True)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_heard_at = models.DateTimeField(null=True, blank=True, help_text="Last answer or event from SOM.")
    error = models.JSONField(default=dict, blank=True, help_text="The SOM's error context, if any.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "sequence"]
        constraints = [models.UniqueConstraint(fields=["order", "sequence"], name="uniq_service_order_seq")]

    def __str__(self) -> str:
        return self.external_id

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_SOM_STATES

    @transition(field=state, source=SomState.PLANNED, target=SomState.ACKNOWLEDGED)
    def acknowledge(self):
        """SOM answered 201: accepted, nothing more."""

    @transition(field=state, source=SomState.PLANNED, target=SomState.REJECTED)
    def reject(self):
        """SOM refused it (4xx) or it could not be delivered."""

    @transition(field=state, source=[SomState.PLANNED, SomState.ACKNOWLEDGED, SomState.PENDING, SomState.HELD],
                target=SomState.IN_PROGRESS)
    def start(self):
        """SOM is working on it."""

    @transition(field=state, source=[SomState.ACKNOWLEDGED, SomState.IN_PROGRESS], target=SomState.HELD)
    def hold(self):
        """SOM holds it."""

    @transition(field=state, source=[SomState.ACKNOWLEDGED, SomState.IN_PROGRESS], target=SomState.PENDING)
    def defer(self):
        """SOM waits for something."""

    @transition(field=state, source=_LIVE, target=SomState.COMPLETED)
    def complete(self):
        """Every item completed."""

    @transition(field=state, source=_LIVE, target=SomState.FAILED)
    def fail(self):
        """Every item failed."""

    @transition(field=state, source=_LIVE, target=SomState.PARTIAL)
    def complete_partially(self):
        """Some items completed, some failed."""


class ServiceOrderItem(FSMModelMixin, models.Model):
    """One CFS to add, modify or delete: the unit of the decomposition plan and of fulfilment."""

    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, related_name="service_items")
    item_ref = models.CharField(max_length=20, help_text="Line id in the TMF641 request, stable within the order.")
    sequence = models.PositiveSmallIntegerField()
    plan_key = models.CharField(
        max_length=200, help_text="What makes this item unique in the plan: decomposing twice creates nothing new."
    )
    service_specification = models.ForeignKey("catalog.ServiceSpecification", on_delete=models.PROTECT)
    action = models.CharField(max_length=10)
    quantity = models.PositiveIntegerField(default=1)
    characteristics = models.JSONField(default=dict, blank=True, help_text="The CFS inputs (name -> value).")
    place = models.JSONField(null=True, blank=True)
    mandatory = models.BooleanField(default=True)
    product_items = models.ManyToManyField(
        "orders.ProductOrderItem", related_name="service_items",
        help_text="The product order items this CFS serves (two for a shared CFS).",
    )
    depends_on = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="dependents")
    service_id = models.CharField(max_length=80, blank=True, help_text="SOM's id of the service instance.")
    compensates = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="compensations",
        help_text="For a compensation: the completed item this delete undoes.",
    )
    state = FSMField(default=SomState.PLANNED, choices=SomState.choices, protected=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Service orders sent for this item so far.")
    max_retries = models.PositiveSmallIntegerField(default=0)
    failure_policy = models.CharField(max_length=20)
    service_order = models.ForeignKey(
        ServiceOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="items",
        help_text="The service order of the current attempt.",
    )
    error = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["order", "plan_key"], name="uniq_plan_key"),
            models.UniqueConstraint(fields=["order", "item_ref"], name="uniq_item_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.item_ref} {self.action} {self.service_specification_id}"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_SOM_STATES

    @transition(field=state, source=SomState.PLANNED, target=SomState.ACKNOWLEDGED)
    def acknowledge(self):
        """Its service order was accepted by SOM."""

    @transition(field=state, source=SomState.PLANNED, target=SomState.REJECTED)
    def reject(self):
        """Its service order was refused."""

    @transition(field=state, source=SomState.PLANNED, target=SomState.CANCELLED)
    def cancel(self):
        """Never sent: no longer needed (a sibling failed and the product is being compensated)."""

    @transition(field=state, source=[SomState.PLANNED, SomState.ACKNOWLEDGED, SomState.PENDING, SomState.HELD],
                target=SomState.IN_PROGRESS)
    def start(self):
        """SOM is building it."""

    @transition(field=state, source=[SomState.ACKNOWLEDGED, SomState.IN_PROGRESS], target=SomState.HELD)
    def hold(self):
        """SOM holds it."""

    @transition(field=state, source=[SomState.ACKNOWLEDGED, SomState.IN_PROGRESS], target=SomState.PENDING)
    def defer(self):
        """SOM waits for something."""

    @transition(field=state, source=_LIVE, target=SomState.COMPLETED)
    def complete(self):
        """Built (or removed, for a delete)."""

    @transition(field=state, source=_LIVE, target=SomState.FAILED)
    def fail(self):
        """SOM could not build it."""

    @transition(field=state, source=[SomState.FAILED, SomState.REJECTED], target=SomState.PLANNED)
    def replan(self):
        """Try again with a new service order (retry policy or an agent's decision)."""


class InboundEvent(models.Model):
    """A fulfilment event as received: its id makes a duplicate a no-op."""

    event_id = models.CharField(max_length=120, unique=True)
    source = models.CharField(max_length=40, default="som")
    event_type = models.CharField(max_length=80)
    received_at = models.DateTimeField(default=timezone.now)
    service_order = models.ForeignKey(ServiceOrder, on_delete=models.CASCADE, related_name="inbound_events")
    payload = models.JSONField()
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class BillingActivation(models.Model):
    """What a billing system needs to start, change or stop charging: the evidence of the handoff."""

    class Action(models.TextChoices):
        ACTIVATE = "activate"
        CHANGE = "change"
        DEACTIVATE = "deactivate"

    order = models.ForeignKey("orders.ProductOrder", on_delete=models.PROTECT, related_name="billing_activations")
    item = models.OneToOneField("orders.ProductOrderItem", on_delete=models.PROTECT, related_name="billing_activation")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="billing_activations")
    action = models.CharField(max_length=12, choices=Action.choices)
    customer_id = models.CharField(max_length=80)
    billing_account_id = models.CharField(max_length=80, blank=True)
    prices = models.JSONField(default=list)
    effective_date = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} {self.product_id}"
