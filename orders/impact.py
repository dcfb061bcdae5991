"""The impact of a mutation on an order: which items, which services, how far each has gone. Reads only.

``cancellation_impact`` builds the impact graph of cancelling items (or the whole order): the items targeted,
the items that rely on them (cancelling the fibre cancels the static IP that relies on it; cancelling the
static IP leaves the fibre), and for every service those items use: kept (another product still needs it),
cancelled locally (never sent), cancelled at SOM (sent, before its point of no return), or compensated (past
its point of no return, or built: a return process or a termination), with the billing consequences. The
furthest execution point reached decides, with the policy matrix, what happens.

It works on a ``Snapshot`` of the order: as it stands (``snapshot``) or as it was at an earlier version
(``snapshot_at_version``, from the history tables), so a request made against an old version can be judged
as its requester saw it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from orders.models import LIVE_SOM_STATES, BillingIntent, ItemRelationship, ItemState, ProductOrder, SomState
from orders.models import ServiceOrderItem as ServiceRow
from orders.models.fulfilment import past_point_of_no_return

POINT_RANK = {"none": 0, "notStarted": 1, "inFlight": 2, "pastPointOfNoReturn": 3, "completed": 4}
DEPENDENCY_TYPES = {"reliesOn", "relieson", "relies_on"}


@dataclass(frozen=True)
class ItemView:
    pk: int
    item_id: str
    state: str
    sequence: int


@dataclass(frozen=True)
class ServiceView:
    pk: int
    ref: str
    code: str
    action: str
    state: str
    milestone: str
    point_of_no_return: str
    milestones: tuple[str, ...]
    reversible: bool
    compensation_action: str
    sent: bool
    serves: frozenset[int]

    @property
    def past_point_of_no_return(self) -> bool:
        return past_point_of_no_return(self.milestone, self.point_of_no_return, self.milestones)


@dataclass(frozen=True)
class Snapshot:
    order_id: str
    version: int
    state: str
    items: tuple[ItemView, ...]
    relations: tuple[tuple[int, int], ...]  # (item pk, pk of the item it relies on)
    services: tuple[ServiceView, ...]  # the plan rows in force, compensations excluded
    billed: tuple[tuple[int, str, str], ...]  # (item pk, product id, action) handed to billing


@dataclass
class ServiceImpact:
    ref: str
    service: str
    action: str
    state: str
    milestone: str
    point: str  # none, notStarted, inFlight, pastPointOfNoReturn, completed
    outcome: str  # keep, cancelLocally, cancelAtSom, compensate, nothing
    serves: list[str]
    note: str = ""


@dataclass
class Impact:
    order_id: str
    order_version: int
    order_state: str
    targeted: list[str]
    items: list[dict] = field(default_factory=list)  # {id, state, why}
    services: list[ServiceImpact] = field(default_factory=list)
    billing: list[dict] = field(default_factory=list)
    execution_point: str = "none"
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["services"] = [asdict(s) for s in self.services]
        return data


def _service_view(row: ServiceRow, serves) -> ServiceView:
    return ServiceView(pk=row.pk, ref=row.item_ref, code=row.service_specification.code,
                       action=row.action, state=row.state, milestone=row.milestone,
                       point_of_no_return=row.point_of_no_return, milestones=tuple(row.milestones or ()),
                       reversible=row.reversible, compensation_action=row.compensation_action,
                       sent=reached_som(row), serves=frozenset(serves))


def reached_som(row: ServiceRow) -> bool:
    """Sent and accepted (or reported on) by SOM; a service order still in COM's outbox can be withdrawn."""
    return row.service_order_id is not None and row.service_order.state != SomState.PLANNED


def snapshot(order: ProductOrder) -> Snapshot:
    """The order as it stands."""
    items = list(order.items.all())
    rows = list(order.service_items.filter(superseded_by__isnull=True, compensates__isnull=True)
                .select_related("service_specification", "service_order").prefetch_related("product_items"))
    return Snapshot(
        order_id=order.pk, version=order.version, state=order.state,
        items=tuple(ItemView(i.pk, i.item_id, i.state, i.sequence) for i in items),
        relations=relations_of(order),
        services=tuple(_service_view(r, {p.pk for p in r.product_items.all()}) for r in rows),
        billed=tuple(BillingIntent.objects.filter(order=order).values_list("item_id", "product_id", "action")),
    )


def relations_of(order: ProductOrder) -> tuple[tuple[int, int], ...]:
    """(item pk, pk of the item it relies on) for every dependency between the order's items."""
    return tuple(ItemRelationship.objects.filter(item__order=order, relationship_type__in=DEPENDENCY_TYPES)
                 .values_list("item_id", "related_item_id"))


def snapshot_at_version(order: ProductOrder, version: int) -> Snapshot | None:
    """The order as it was when it reached ``version`` (None if no record of that version exists)."""
    first = order.history.filter(version=version).order_by("history_date", "history_id").first()
    if first is None:
        return None
    at = order.history.filter(version=version).order_by("-history_date", "-history_id").first().history_date

    def as_of(history_model, **filters):
        latest = {}
        for record in history_model.objects.filter(history_date__lte=at, **filters).order_by("history_date",
                                                                                              "history_id"):
            latest[record.id] = record
        return [r for r in latest.values() if r.history_type != "-"]

    items = as_of(order.items.model.history.model, order_id=order.pk)
    rows = [r for r in as_of(ServiceRow.history.model, order_id=order.pk)
            if r.superseded_by_id is None and r.compensates_id is None]
    current = {r.pk: r for r in ServiceRow.objects.filter(pk__in=[r.id for r in rows])
               .select_related("service_specification", "service_order").prefetch_related("product_items")}
    services = []
    for record in rows:
        row = record.instance
        row.service_specification = current[record.id].service_specification
        if row.service_order_id:  # its state then, from its own history
            history = current[record.id].service_order.history
            then = history.filter(history_date__lte=at).order_by("-history_date").first()
            row.service_order = then.instance if then else current[record.id].service_order
        services.append(_service_view(row, {p.pk for p in current[record.id].product_items.all()}))
    return Snapshot(
        order_id=order.pk, version=version, state=first.state,
        items=tuple(ItemView(r.id, r.item_id, r.state, r.sequence) for r in items),
        relations=relations_of(order), services=tuple(services),
        billed=tuple(BillingIntent.objects.filter(order=order, created_at__lte=at)
                     .values_list("item_id", "product_id", "action")),
    )


def execution_point(service) -> str:
    """How far a service has gone: notStarted, inFlight, pastPointOfNoReturn, completed, or none (not built)."""
    sent = service.sent if isinstance(service, ServiceView) else reached_som(service)
    if service.state == SomState.PLANNED and not sent:
        return "notStarted"
    if service.state in LIVE_SOM_STATES:
        return "pastPointOfNoReturn" if service.past_point_of_no_return else "inFlight"
    if service.state == SomState.COMPLETED and service.action in ("add", "modify"):
        return "completed"
    return "none"


def furthest(points) -> str:
    return max(points, key=POINT_RANK.__getitem__, default="none")


def relying_items(relations, targets: set) -> set:
    """The targets and every item that relies on one of them, transitively."""
    closure = set(targets)
    changed = True
    while changed:
        changed = False
        for item_pk, related_pk in relations:
            if related_pk in closure and item_pk not in closure:
                closure.add(item_pk)
                changed = True
    return closure


def cancellation_impact(snap: Snapshot, target_item_ids: list[str] | None = None) -> Impact:
    """What cancelling these items (none: the whole order) would do to the order in this snapshot."""
    by_pk = {i.pk: i for i in snap.items}
    whole = not target_item_ids
    if whole:
        targets = {i.pk for i in snap.items if i.state not in (ItemState.REJECTED, ItemState.CANCELLED,
                                                                ItemState.FAILED)}
    else:
        targets = {i.pk for i in snap.items if i.item_id in target_item_ids}
    affected = targets if whole else relying_items(snap.relations, targets)
    impact = Impact(order_id=snap.order_id, order_version=snap.version, order_state=snap.state,
                    targeted=sorted(by_pk[pk].item_id for pk in targets))
    for pk in sorted(affected, key=lambda k: by_pk[k].sequence):
        item = by_pk[pk]
        why = "targeted" if pk in targets else "relies on a cancelled item"
        if item.state in (ItemState.REJECTED, ItemState.CANCELLED, ItemState.FAILED):
            why = f"already {item.state}"
        impact.items.append({"id": item.item_id, "state": item.state, "why": why})
    kept = set(by_pk) - affected
    for service in snap.services:
        if not service.serves & affected:
            continue
        point = execution_point(service)
        if service.serves & kept:
            outcome, note, point = "keep", "another product of the order still needs it", "none"
        elif point == "notStarted":
            outcome, note = "cancelLocally", "not at SOM yet: cancelled in COM (its request withdrawn)"
        elif point == "inFlight":
            outcome, note = "cancelAtSom", "TMF641 cancelServiceOrder (undone once built if SOM cannot cancel it)"
        elif point in ("pastPointOfNoReturn", "completed"):
            how = {"return": "a return process", "cancel": "a cancellation"}.get(service.compensation_action,
                                                                                 "a termination")
            outcome = "compensate"
            if service.action != "add" and point == "completed":
                note = ("a change to the customer's existing product: COM cannot undo it, a fallout "
                        "(COMPENSATION_MANUAL) asks an agent to revert it; the product is not terminated")
            elif service.reversible:
                note = f"undone by {how} (a delete service order item)"
            else:
                note = ("cannot be undone (not reversible): a fallout (COMPENSATION_MANUAL) asks an agent to finish "
                        "the clean-up; the item is not cancelled before that")
        elif service.state == SomState.COMPLETED and service.action == "delete":
            outcome, note = "compensate", ("removed a product the customer had: COM cannot undo it, a fallout "
                                           "(COMPENSATION_MANUAL) asks an agent to restore it")
        else:
            outcome, note = "nothing", f"{service.state}: nothing to undo"
        impact.services.append(ServiceImpact(
            ref=service.ref, service=service.code, action=service.action, state=service.state,
            milestone=service.milestone, point=point, outcome=outcome, note=note,
            serves=sorted(by_pk[p].item_id for p in service.serves if p in by_pk)))
    impact.execution_point = furthest(s.point for s in impact.services)
    for item_pk, product_id, action in snap.billed:
        if item_pk in affected and action == BillingIntent.Action.ACTIVATE:
            impact.billing.append({"item": by_pk[item_pk].item_id, "product": product_id, "intent": "deactivate",
                                   "because": f"{action} was handed to billing"})
        elif item_pk in affected and action == BillingIntent.Action.CHANGE:
            # a change to an existing product: it is not terminated; billing follows the agent's revert
            impact.billing.append({"item": by_pk[item_pk].item_id, "product": product_id, "intent": "none",
                                   "because": "a change to an existing product: an agent reverts it by hand"})
    return impact
