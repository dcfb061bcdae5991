r"""Fulfilment: the decomposition plan, the TMF641 service orders sent to SOM, and what SOM says of them.

Service order item (one CFS to build for one or more product order items: COM's plan)::

    planned --acknowledge--> acknowledged --start--> inProgress --complete------------> completed
       |                          |  ^  \               |  \------fail---------------> failed ---+
       |                          v  |   \--hold/defer--> held | pending                          |
       +--cancel--> cancelled     assessingCancellation --> pendingCancellation --cancel--> cancelled
       +--reject--> rejected      (any live state) --complete_partially--> partial              |
                                  failed | rejected | partial | cancelled --replan--> planned <-+
                                  (not completed) --complete_by_hand--> completed  (a manual completion)

``planned`` is COM's own state before SOM has accepted anything (TMF641 has no word for it); every other
value is TMF641's ``ServiceOrderItemStateType``, and every one of them has a transition from every live
state it can follow: SOM events may arrive late, out of order, or skip steps. ``services.som_events``
never moves a state back (``SOM_STATE_RANK``) and sends any report the machine cannot take to fallout.

Service order (one TMF641 ``serviceOrder`` sent to one SOM: a wave of ready items, a retry, or a
compensation)::

    planned --acknowledge--> acknowledged --start--> inProgress --> completed | failed | partial | cancelled
    planned --reject--> rejected   (SOM answered 4xx, or delivery gave up)

A plan has versions (``DecompositionPlan``): the first is made when fulfilment starts; a mutation makes a
new version whose rows supersede some of the previous ones (``superseded_by``), so what was sent to SOM is
never rewritten and the rows in force are those not superseded.
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
LIVE_SOM_STATES = frozenset(set(SomState) - TERMINAL_SOM_STATES)
# States SOM reports while it works: SOM may move sideways among them, never back to planned/acknowledged.
_WORKING = [SomState.PENDING, SomState.HELD, SomState.IN_PROGRESS, SomState.ASSESSING_CANCELLATION,
            SomState.PENDING_CANCELLATION]
_LIVE = [SomState.PLANNED, SomState.ACKNOWLEDGED, *_WORKING]
# How far along a state is: an event may move a record forward or sideways, never back.
SOM_STATE_RANK = {SomState.PLANNED: 0, SomState.ACKNOWLEDGED: 1, **{s: 2 for s in _WORKING},
                  **{s: 3 for s in TERMINAL_SOM_STATES}}


def past_point_of_no_return(milestone: str, point_of_no_return: str, milestones) -> bool:
    """SOM reported a milestone at or after the point of no return: cancelling now means compensating."""
    if not point_of_no_return or not milestone:
        return False
    sequence = list(milestones or ()) or [point_of_no_return]
    if milestone not in sequence or point_of_no_return not in sequence:
        return milestone == point_of_no_return
    return sequence.index(milestone) >= sequence.index(point_of_no_return)


def new_service_order_id() -> str:
    return f"SO-{uuid.uuid4().hex[:12].upper()}"


class DecompositionPlan(models.Model):
    """One version of an order's decomposition: the service order items it introduced, and why."""

    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, related_name="plans")
    version = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    summary = models.JSONField(default=list, blank=True, help_text="What was planned: [{ref, service, action...}]")

    class Meta:
        ordering = ["order", "version"]
        constraints = [models.UniqueConstraint(fields=["order", "version"], name="uniq_plan_version")]

    def __str__(self) -> str:
        return f"{self.order_id} plan v{self.version}"


class SomLifecycle(FSMModelMixin, models.Model):
    """The TMF641 lifecycle a service order and each of its items share.

    TMF641 ServiceOrderStateType and ServiceOrderItemStateType: every state SOM may report has a transition
    from every live state.
    """

    state = FSMField(default=SomState.PLANNED, choices=SomState.choices, protected=True, db_index=True)

    class Meta:
        abstract = True

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_SOM_STATES

    @transition(field=state, source=SomState.PLANNED, target=SomState.ACKNOWLEDGED)
    def acknowledge(self):
        """SOM accepted it (201): accepted, nothing more."""

    @transition(field=state, source=_LIVE, target=SomState.REJECTED)
    def reject(self):
        """SOM refused it (4xx, or a rejected report), or it could not be delivered."""

    @transition(field=state, source=[SomState.PLANNED, SomState.ACKNOWLEDGED, *_WORKING],
                target=SomState.IN_PROGRESS)
    def start(self):
        """SOM is working on it (planned too: an event may overtake the 201)."""

    @transition(field=state, source=[SomState.PLANNED, SomState.ACKNOWLEDGED, *_WORKING], target=SomState.HELD)
    def hold(self):
        """SOM holds it."""

    @transition(field=state, source=[SomState.PLANNED, SomState.ACKNOWLEDGED, *_WORKING], target=SomState.PENDING)
    def defer(self):
        """SOM waits for something."""

    @transition(field=state, source=[SomState.ACKNOWLEDGED, SomState.PENDING, SomState.HELD, SomState.IN_PROGRESS,
                                       SomState.PENDING_CANCELLATION],
                target=SomState.ASSESSING_CANCELLATION)
    def assess_cancellation(self):
        """A cancellation is being assessed at SOM."""

    @transition(field=state, source=[SomState.ACKNOWLEDGED, SomState.PENDING, SomState.HELD, SomState.IN_PROGRESS,
                                       SomState.ASSESSING_CANCELLATION],
                target=SomState.PENDING_CANCELLATION)
    def accept_cancellation(self):
        """SOM accepted the cancellation and is carrying it out."""

    @transition(field=state, source=_LIVE, target=SomState.COMPLETED)
    def complete(self):
        """Built (or removed, for a delete)."""

    @transition(field=state, source=_LIVE, target=SomState.FAILED)
    def fail(self):
        """SOM could not do it."""

    @transition(field=state, source=_LIVE, target=SomState.PARTIAL)
    def complete_partially(self):
        """Part of it was done."""

    @transition(field=state, source=_LIVE, target=SomState.CANCELLED)
    def cancel(self):
        """Stopped: never sent (no longer needed), or cancelled at SOM."""


class ServiceOrder(SomLifecycle):
    """One TMF641 service order: what COM asked one SOM to do, and what SOM says of it."""

    id = models.CharField(primary_key=True, max_length=40, default=new_service_order_id, editable=False)
    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, related_name="service_orders")
    som = models.CharField(max_length=40, help_text="Key of the SOM endpoint (COM_SOM_ENDPOINTS) it was sent to.")
    sequence = models.PositiveSmallIntegerField(help_text="1, 2, ...: the n-th service order of this product order.")
    purpose = models.CharField(max_length=20, default="fulfil", help_text="fulfil, retry or compensate")
    external_id = models.CharField(
        max_length=80, unique=True, help_text="Stable id sent to SOM, so a resent request is recognised."
    )
    som_order_id = models.CharField(max_length=80, blank=True, db_index=True, help_text="The id SOM gave it.")
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_heard_at = models.DateTimeField(null=True, blank=True, help_text="Last answer or event from SOM.")
    readback_queued_until = models.DateTimeField(
        null=True, blank=True, help_text="A read-back task is queued for it until then: the sweep leaves it be.")
    error = models.JSONField(default=dict, blank=True, help_text="The SOM's error context, if any.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "sequence"]
        constraints = [models.UniqueConstraint(fields=["order", "sequence"], name="uniq_service_order_seq")]

    def __str__(self) -> str:
        return self.external_id


class ServiceOrderItem(SomLifecycle):
    """One CFS to add, modify or delete: the unit of the decomposition plan and of fulfilment.

    The CFS settings that drive fulfilment (SOM, retries, failure policy, reversibility, point of no return)
    are copied from the catalog when the row is planned, so an in-flight order keeps behaving as planned.
    """

    order = models.ForeignKey("orders.ProductOrder", on_delete=models.CASCADE, related_name="service_items")
    plan = models.ForeignKey(DecompositionPlan, on_delete=models.PROTECT, related_name="items",
                             help_text="The plan version that introduced this row.")
    superseded_by = models.ForeignKey(DecompositionPlan, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="superseded_items",
                                      help_text="The plan version that replaced this row (empty: in force).")
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
    replaces = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replacements",
        help_text="For a row of a revised plan: the row it replaces, sent once that one has ended (cancelled at "
                  "SOM, or built: then this row modifies what was built).",
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Service orders sent for this item so far.")
    som = models.CharField(max_length=40, default="default", help_text="The SOM that builds it (pinned).")
    max_retries = models.PositiveSmallIntegerField(default=0)
    failure_policy = models.CharField(max_length=20)
    reversible = models.BooleanField(default=True)
    point_of_no_return = models.CharField(max_length=40, blank=True,
                                          help_text="The SOM milestone after which cancelling means compensating.")
    milestones = models.JSONField(default=list, blank=True, help_text="The CFS's milestones, in order (pinned).")
    compensation_action = models.CharField(max_length=20, blank=True,
                                           help_text="How it is undone once built or past its point of no return.")
    milestone = models.CharField(max_length=40, blank=True, help_text="The last milestone SOM reported.")
    appointment = models.JSONField(null=True, blank=True, help_text="{id, href}: the appointment it is built at.")
    service_order = models.ForeignKey(
        ServiceOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="items",
        help_text="The service order of the current attempt.",
    )
    error = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["order", "plan_key"], condition=models.Q(superseded_by__isnull=True),
                                    name="uniq_plan_key_in_force"),
            models.UniqueConstraint(fields=["order", "item_ref"], name="uniq_item_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.item_ref} {self.action} {self.service_specification_id}"

    @property
    def past_point_of_no_return(self) -> bool:
        return past_point_of_no_return(self.milestone, self.point_of_no_return, self.milestones)

    # The TMF641 lifecycle (SomLifecycle), plus COM's own retry and manual completion.
    @transition(field="state", source=[SomState.FAILED, SomState.REJECTED, SomState.PARTIAL, SomState.CANCELLED],
                target=SomState.PLANNED)
    def replan(self):
        """Try again with a new service order (retry policy or an agent's decision): from no milestone."""
        self.milestone = ""

    @transition(field="state", source=[*_LIVE, SomState.FAILED, SomState.REJECTED, SomState.PARTIAL,
                                       SomState.CANCELLED], target=SomState.COMPLETED)
    def complete_by_hand(self):
        """Done outside SOM: an agent recorded it with evidence and a supervisor approved (a manual completion)."""


class SomSubscription(models.Model):
    """COM's listener registered at a SOM's TMF641 hub (``POST /hub``), so the SOM knows where to send events."""

    som = models.CharField(max_length=40, unique=True)
    hub_id = models.CharField(max_length=120)
    callback = models.URLField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.som} -> {self.callback}"
