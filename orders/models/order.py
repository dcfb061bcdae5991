r"""Product orders and their items: the TMF622 state machines, the business event log, check results.

Product order (TMF622 ``ProductOrderStateType``)::

    acknowledged --start--> inProgress --complete-----------> completed
         |  |  \                |  \----complete_partially--> partial
         |  |   \--defer--> pending     \--fail------------> failed
         |  |                 |   ^
         |  |       resume <--+   +--defer-- inProgress
         |  +--hold--> held --resume--> inProgress
         |              |
         +--reject--> rejected <--reject-- held   (an agent rejects an order held by the checks)

    acknowledged | pending | held | inProgress --assess_cancellation--> assessingCancellation
    assessingCancellation --accept_cancellation--> pendingCancellation --cancel--> cancelled
    assessingCancellation --refuse_cancellation--> the state it came from

Items (TMF622 ``ProductOrderItemStateType``) follow the same graph without ``partial``. The order
state is derived from its items by ``services.aggregation``; nothing sets a state by assignment
(``protected=True``): every move is one of the transitions below, called by a command in
``orders/services``.

``held -> rejected`` is the one move TMF622's diagram does not draw: an order held by a business check
(credit, fraud, duplicate) has not started fulfilment, so an agent's decision not to release it is a
rejection, not a cancellation.
"""
import uuid

from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords


def new_order_id() -> str:
    return f"PO-{uuid.uuid4().hex[:12].upper()}"


class OrderState(models.TextChoices):
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


class ItemState(models.TextChoices):
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    REJECTED = "rejected", "rejected"
    PENDING = "pending", "pending"
    HELD = "held", "held"
    IN_PROGRESS = "inProgress", "inProgress"
    CANCELLED = "cancelled", "cancelled"
    COMPLETED = "completed", "completed"
    FAILED = "failed", "failed"
    ASSESSING_CANCELLATION = "assessingCancellation", "assessingCancellation"
    PENDING_CANCELLATION = "pendingCancellation", "pendingCancellation"


TERMINAL_ORDER_STATES = frozenset(
    {OrderState.REJECTED, OrderState.CANCELLED, OrderState.COMPLETED, OrderState.FAILED, OrderState.PARTIAL}
)
TERMINAL_ITEM_STATES = frozenset({ItemState.REJECTED, ItemState.CANCELLED, ItemState.COMPLETED, ItemState.FAILED})
_CANCELLABLE = [OrderState.ACKNOWLEDGED, OrderState.PENDING, OrderState.HELD, OrderState.IN_PROGRESS]


class ItemAction(models.TextChoices):
    ADD = "add", "add"
    MODIFY = "modify", "modify"
    DELETE = "delete", "delete"
    NO_CHANGE = "noChange", "noChange"


class ProductOrder(FSMModelMixin, models.Model):
    """A customer's order as a channel submitted it: the system of record for the order lifecycle."""

    id = models.CharField(primary_key=True, max_length=40, default=new_order_id, editable=False)
    external_id = models.CharField(max_length=120, blank=True, db_index=True)
    channel = models.ForeignKey("orders.Channel", on_delete=models.PROTECT, related_name="orders")
    state = FSMField(default=OrderState.ACKNOWLEDGED, choices=OrderState.choices, protected=True, db_index=True)
    priority = models.PositiveSmallIntegerField(default=4, help_text="0 is the highest, 4 the lowest (TMF622).")
    category = models.CharField(max_length=80, blank=True)
    description = models.TextField(blank=True)
    notification_contact = models.CharField(max_length=200, blank=True)
    order_date = models.DateTimeField(default=timezone.now, db_index=True)
    requested_start_date = models.DateTimeField(null=True, blank=True)
    requested_completion_date = models.DateTimeField(null=True, blank=True)
    expected_completion_date = models.DateTimeField(null=True, blank=True)
    completion_date = models.DateTimeField(null=True, blank=True)
    cancellation_date = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=300, blank=True)
    customer_id = models.CharField(max_length=80, db_index=True, help_text="The relatedParty with role customer.")
    related_parties = models.JSONField(default=list, blank=True, help_text="[{id, name, role, referred_type}]")
    billing_account_id = models.CharField(max_length=80, blank=True)
    notes = models.JSONField(default=list, blank=True, help_text="[{id, author, date, text}], appended only.")
    state_reason_code = models.CharField(max_length=60, blank=True, help_text="Why the order is held or rejected.")
    state_reason = models.CharField(max_length=500, blank=True)
    version = models.PositiveIntegerField(default=1, help_text="Incremented by every change.")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    checks_started_at = models.DateTimeField(null=True, blank=True, help_text="When the first check run began.")
    checks_queued_until = models.DateTimeField(
        null=True, blank=True, help_text="A checks task is queued for the order until then: the sweep leaves it be.")
    start_queued_until = models.DateTimeField(
        null=True, blank=True, help_text="Deferred and due: a start task is queued for it until then (the sweep "
                                         "leaves it be).")
    cancellation_return_state = models.CharField(
        max_length=30, blank=True, help_text="The state the order left when a cancellation was assessed: a refused "
                                             "cancellation returns there.")
    replaces = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by",
                                 help_text="Supersession: the order this one replaces.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-order_date", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], condition=~models.Q(external_id=""), name="uniq_channel_external_id"
            ),
            models.UniqueConstraint(
                fields=["channel", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="uniq_channel_idempotency_key",
            ),
        ]
        indexes = [models.Index(fields=["channel", "state"]), models.Index(fields=["customer_id", "order_date"]),
                   # the held queue: state=held, sorted by priority then age
                   models.Index(fields=["state", "priority", "order_date"], name="order_state_priority_date"),
                   # the order list filtered by state, newest first
                   models.Index(fields=["state", "order_date"], name="order_state_date"),
                   # the dashboard's cycle times: orders completed in the last days
                   models.Index(fields=["completion_date"], name="order_completion_date")]

    def __str__(self) -> str:
        return self.id

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_ORDER_STATES

    # --- transitions: each changes only the row; the command that calls it writes event and outbox ---
    @transition(field=state, source=[OrderState.ACKNOWLEDGED, OrderState.HELD], target=OrderState.REJECTED)
    def reject(self):
        """Validation or a business check refused the order."""

    @transition(field=state, source=[OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS, OrderState.PENDING],
                target=OrderState.HELD)
    def hold(self):
        """Processing paused on an issue an agent must resolve."""

    @transition(field=state, source=OrderState.ACKNOWLEDGED, target=OrderState.IN_PROGRESS)
    def start(self):
        """Checks passed and fulfilment began."""

    @transition(field=state, source=[OrderState.HELD, OrderState.PENDING], target=OrderState.IN_PROGRESS)
    def resume(self):
        """The hold was released or the awaited event arrived."""

    @transition(field=state, source=[OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS], target=OrderState.PENDING)
    def defer(self):
        """Waiting for an event (a future requested start date, an appointment)."""

    @transition(field=state, source=OrderState.IN_PROGRESS, target=OrderState.COMPLETED)
    def complete(self):
        """Every item completed."""

    @transition(field=state, source=OrderState.IN_PROGRESS, target=OrderState.PARTIAL)
    def complete_partially(self):
        """Some items (or optional services) completed and some failed."""

    @transition(field=state, source=OrderState.IN_PROGRESS, target=OrderState.FAILED)
    def fail(self):
        """No item could be fulfilled."""

    @transition(field=state, source=_CANCELLABLE, target=OrderState.ASSESSING_CANCELLATION)
    def assess_cancellation(self):
        """A cancellation request is being assessed."""

    @transition(field=state, source=OrderState.ASSESSING_CANCELLATION, target=OrderState.PENDING_CANCELLATION)
    def accept_cancellation(self):
        """The cancellation was accepted and is being carried out."""

    @transition(field=state, source=OrderState.ASSESSING_CANCELLATION, target=RETURN_VALUE(*_CANCELLABLE))
    def refuse_cancellation(self, back_to: str):
        """The cancellation was refused: back to where the order was."""
        return back_to

    @transition(field=state, source=OrderState.PENDING_CANCELLATION, target=OrderState.CANCELLED)
    def cancel(self):
        """Cancellation carried out."""


_ITEM_CANCELLABLE = [ItemState.ACKNOWLEDGED, ItemState.PENDING, ItemState.HELD, ItemState.IN_PROGRESS]


class ProductOrderItem(FSMModelMixin, models.Model):
    """One line of an order: an action on one product, priced and configured."""

    order = models.ForeignKey(ProductOrder, on_delete=models.CASCADE, related_name="items")
    item_id = models.CharField(max_length=40, help_text="The channel's id of the line within the order.")
    sequence = models.PositiveSmallIntegerField(default=0)
    action = models.CharField(max_length=10, choices=ItemAction.choices)
    state = FSMField(default=ItemState.ACKNOWLEDGED, choices=ItemState.choices, protected=True)
    quantity = models.PositiveIntegerField(default=1)
    product_offering = models.ForeignKey("catalog.ProductOffering", on_delete=models.PROTECT, related_name="order_items")
    offering_version = models.CharField(max_length=20, help_text="Offering version at capture.")
    product_specification = models.ForeignKey(
        "catalog.ProductSpecification", on_delete=models.PROTECT, related_name="order_items",
        help_text="The specification version at capture: decomposition reads its rules, not the current ones.",
    )
    product = models.ForeignKey(
        "inventory.Product", on_delete=models.PROTECT, null=True, blank=True, related_name="order_items",
        help_text="modify/delete: the existing product; add: the product created on completion.",
    )
    product_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="modify/delete: the product's version this item was validated against; "
                                         "completion refuses to apply it to a product changed since.")
    characteristics = models.JSONField(default=dict, blank=True, help_text="name -> typed value (desired state).")
    requested_characteristics = models.JSONField(
        default=dict, blank=True, help_text="What the channel asked for; modify: the change applied on the product.")
    place = models.JSONField(null=True, blank=True, help_text="{id, role, name}: the installation address.")
    item_prices = models.JSONField(default=list, blank=True, help_text="Unit prices of the pinned offering version.")
    appointment = models.JSONField(null=True, blank=True, help_text="{id, href}")
    state_reason = models.CharField(max_length=500, blank=True)
    compensation_started_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when what was built for this item is being undone: it will fail.")
    cancellation_return_state = models.CharField(max_length=30, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "sequence"]
        constraints = [models.UniqueConstraint(fields=["order", "item_id"], name="uniq_item_per_order")]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.item_id}"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_ITEM_STATES

    @transition(field=state, source=[ItemState.ACKNOWLEDGED, ItemState.HELD], target=ItemState.REJECTED)
    def reject(self):
        """Refused before fulfilment."""

    @transition(field=state, source=[ItemState.ACKNOWLEDGED, ItemState.IN_PROGRESS, ItemState.PENDING],
                target=ItemState.HELD)
    def hold(self):
        """Needs an agent (a held check, a fallout)."""

    @transition(field=state, source=ItemState.ACKNOWLEDGED, target=ItemState.IN_PROGRESS)
    def start(self):
        """Decomposed; its services are on their way to SOM."""

    @transition(field=state, source=[ItemState.HELD, ItemState.PENDING], target=ItemState.IN_PROGRESS)
    def resume(self):
        """Back to work after a hold or wait."""

    @transition(field=state, source=[ItemState.ACKNOWLEDGED, ItemState.IN_PROGRESS], target=ItemState.PENDING)
    def defer(self):
        """Waiting for an event."""

    @transition(field=state, source=ItemState.IN_PROGRESS, target=ItemState.COMPLETED)
    def complete(self):
        """Every mandatory service completed."""

    @transition(field=state, source=[ItemState.IN_PROGRESS, ItemState.HELD], target=ItemState.FAILED)
    def fail(self):
        """A mandatory service failed for good (after retries or compensation, or an agent's decision)."""

    @transition(field=state, source=_ITEM_CANCELLABLE, target=ItemState.ASSESSING_CANCELLATION)
    def assess_cancellation(self):
        """Cancellation requested."""

    @transition(field=state, source=ItemState.ASSESSING_CANCELLATION, target=ItemState.PENDING_CANCELLATION)
    def accept_cancellation(self):
        """Cancellation accepted."""

    @transition(field=state, source=ItemState.ASSESSING_CANCELLATION, target=RETURN_VALUE(*_ITEM_CANCELLABLE))
    def refuse_cancellation(self, back_to: str):
        """Cancellation refused."""
        return back_to

    @transition(field=state, source=ItemState.PENDING_CANCELLATION, target=ItemState.CANCELLED)
    def cancel(self):
        """Cancelled."""


class ItemRelationship(models.Model):
    """A TMF622 productOrderItemRelationship as a row, so the impact graph is a query.

    ``item`` relies on (or brings, ...) ``related_item``: cancelling the related item affects ``item``.
    """

    item = models.ForeignKey(ProductOrderItem, on_delete=models.CASCADE, related_name="relationships")
    related_item = models.ForeignKey(ProductOrderItem, on_delete=models.CASCADE, related_name="related_from")
    relationship_type = models.CharField(max_length=40)

    class Meta:
        ordering = ["item", "id"]
        constraints = [models.UniqueConstraint(fields=["item", "related_item", "relationship_type"],
                                               name="uniq_item_relationship")]

    def __str__(self) -> str:
        return f"{self.item} {self.relationship_type} {self.related_item.item_id}"


class OrderEvent(models.Model):
    """The business timeline of an order, appended and never rewritten. Agents read this."""

    class Type(models.TextChoices):
        CAPTURED = "captured"
        CAPTURE_REPLAYED = "captureReplayed"
        CHECK_RECORDED = "checkRecorded"
        REJECTED = "rejected"
        HELD = "held"
        HOLD_RELEASED = "holdReleased"
        DECOMPOSED = "decomposed"
        FULFILMENT_STARTED = "fulfilmentStarted"
        SERVICE_ORDER_SUBMITTED = "serviceOrderSubmitted"
        SERVICE_ORDER_ACCEPTED = "serviceOrderAccepted"
        SERVICE_ORDER_REFUSED = "serviceOrderRefused"
        SERVICE_ORDER_UNDELIVERABLE = "serviceOrderUndeliverable"
        SERVICE_STATE_CHANGED = "serviceStateChanged"
        RETRY_SCHEDULED = "retryScheduled"
        COMPENSATION_STARTED = "compensationStarted"
        PARTIAL_ACCEPTED = "partialAccepted"
        FALLOUT_OPENED = "falloutOpened"
        FALLOUT_RESOLVED = "falloutResolved"
        ITEM_STATE_CHANGED = "itemStateChanged"
        STATE_CHANGED = "stateChanged"
        INVENTORY_UPDATED = "inventoryUpdated"
        BILLING_HANDED_OFF = "billingHandedOff"
        ATTRIBUTES_UPDATED = "attributesUpdated"
        NOTE_ADDED = "noteAdded"
        SERVICE_ORDER_ADOPTED = "serviceOrderAdopted"
        SERVICE_CANCELLED = "serviceCancelled"
        SERVICE_MILESTONE = "serviceMilestone"
        SOM_INFORMATION_REQUIRED = "somInformationRequired"
        PROCESSING_ERROR = "processingError"
        STALLED = "stalled"
        CHECKS_RERUN = "checksRerun"
        MUTATION_REQUESTED = "mutationRequested"
        MUTATION_DECIDED = "mutationDecided"
        MUTATION_APPLIED = "mutationApplied"
        MUTATION_FAILED = "mutationFailed"
        PLAN_REVISED = "planRevised"
        ITEM_AMENDED = "itemAmended"
        ORDER_CORRECTED = "orderCorrected"
        CANCELLATION_SENT = "serviceCancellationSent"
        ITEM_CANCELLED = "itemCancelled"
        PRODUCT_TERMINATED = "productTerminated"
        INFORMATION_REQUESTED = "informationRequested"

    order = models.ForeignKey(ProductOrder, on_delete=models.CASCADE, related_name="events")
    item = models.ForeignKey(ProductOrderItem, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    mutation = models.ForeignKey("orders.MutationRequest", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="events")
    type = models.CharField(max_length=40, choices=Type.choices, db_index=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=120, help_text="channel:NAME, user:NAME, som:NAME or system")
    order_version = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["order", "id"]
        # when an order was held, its latest events of a kind: the queues' ages read them per order
        indexes = [models.Index(fields=["order", "type", "occurred_at"], name="orderevent_order_type_time")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.type}"

    def save(self, *args, **kwargs):
        # Append-only: a business fact once written is never rewritten.
        if self.pk is not None and not self._state.adding:
            raise ValueError("OrderEvent is append-only")
        super().save(*args, **kwargs)
