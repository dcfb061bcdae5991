"""A new version of an order's plan after a change: only the delta goes to SOM.

The planner is run again on the order as changed, and what it wants is compared, service by service, with
the rows in force (what SOM already has or is building):

- unchanged: kept as it is;
- changed, or no longer wanted, and never sent: cancelled in COM and superseded; a changed one gets a new row;
- changed, or no longer wanted, and sent (before its point of no return): cancelled at SOM (TMF641
  ``cancelServiceOrder``) and superseded; its new row (add, or delete if it is no longer wanted) ``replaces``
  it and is sent only once it has ended: if SOM cancelled it, an add goes as planned and a delete is
  dropped; if SOM built it anyway, the add becomes a modify of what was built;
- changed, or no longer wanted, and ended at SOM without being built (failed, refused, cancelled: a
  fallout being repaired by a correction): superseded; a changed one gets a new row that ``replaces`` it;
- wanted and absent: a new row.

A service past its point of no return, or built, is never changed here: the policy refuses such changes
before they reach this module (the execution point is what ``revise`` reports first).

A new row is built with the CFS version the order's captured catalog names (the rule of its item's product
specification version), as in the first plan; a row kept keeps the version it was planned with.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Max

from orders import impact, planner, selectors
from orders.models import LIVE_SOM_STATES, DecompositionPlan, OrderEvent, ProductOrder, ServiceOrderItem, SomState

from .common import record_event, save_with_reason
from .decomposition import appointment_of, item_inputs, pinned_service_specifications


# Rows SOM ended without building anything: a change replaces them like rows never sent.
_ENDED_UNBUILT = (SomState.FAILED, SomState.REJECTED, SomState.CANCELLED)


@dataclass
class Delta:
    services: list[dict] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)
    execution_point: str = "none"


def _same(row: ServiceOrderItem, wanted: planner.PlannedService, appointment) -> bool:
    return (row.service_specification.code == wanted.service_code and row.action == wanted.action
            and row.characteristics == wanted.characteristics and row.quantity == wanted.quantity
            and (row.place or {}).get("id") == (wanted.place or {}).get("id") and row.mandatory == wanted.mandatory
            and (row.appointment or None) == (appointment or None))


def revise(order: ProductOrder, *, reason: str, actor: str, mutation=None, items: set[str] = frozenset()) -> Delta:
    """Make plan version n+1 from the order as it now is; returns what changed (empty if nothing did)."""
    delta = Delta()
    if not order.plans.exists():
        return delta  # not decomposed yet: the first plan will be made from the changed order
    from . import cancellation

    wanted = {p.plan_key: p for p in planner.plan(item_inputs(order), selectors.technology_by_place(order))}
    product_items = {i.item_id: i for i in order.items.all()}

    def in_force():
        return {r.plan_key: r for r in order.service_items.filter(superseded_by__isnull=True, compensates__isnull=True)
                .select_related("service_specification", "service_order").prefetch_related("product_items")}

    def unchanged(key, row) -> bool:
        want = wanted.get(key)
        return want is not None and _same(row, want, appointment_of([product_items[i] for i in want.item_ids]))

    rows = in_force()
    if _withdraw_unsent(rows, unchanged, reason=reason):
        rows = in_force()
    version = (order.plans.aggregate(m=Max("version"))["m"] or 0) + 1
    plan = None
    next_ref = (order.service_items.aggregate(m=Max("sequence"))["m"] or 0) + 1
    created: dict[str, ServiceOrderItem] = {}
    # The CFS versions the order's captured catalog names (a removal below keeps the version of its row).
    specs = pinned_service_specifications(order, list(wanted.values()))

    def new_plan():
        nonlocal plan
        if plan is None:
            plan = DecompositionPlan.objects.create(order=order, version=version, reason=reason[:200])
        return plan

    def add_row(key: str, want: planner.PlannedService, replaces=None, action=None, spec=None) -> ServiceOrderItem:
        nonlocal next_ref
        spec = spec or specs[key]
        served = [product_items[i] for i in want.item_ids]
        row = ServiceOrderItem.objects.create(
            order=order, plan=new_plan(), plan_key=key, item_ref=str(next_ref), sequence=next_ref,
            service_specification=spec, action=action or want.action, quantity=want.quantity,
            characteristics=want.characteristics, place=want.place, mandatory=want.mandatory,
            service_id=want.service_id or (replaces.service_id if replaces else ""), som=spec.som,
            max_retries=spec.max_retries, failure_policy=spec.failure_policy, reversible=spec.reversible,
            point_of_no_return=spec.point_of_no_return, milestones=spec.milestones,
            compensation_action=spec.compensation_action, appointment=appointment_of(served), replaces=replaces,
        )
        row.product_items.set(served)
        next_ref += 1
        created[key] = row
        return row

    points = []
    for key in sorted(set(wanted) | set(rows)):
        want, row = wanted.get(key), rows.get(key)
        if row is not None and unchanged(key, row):
            continue
        if row is None:
            add_row(key, want)
            delta.services.append({"ref": created[key].item_ref, "service": want.service_code, "change": "add",
                                   "point": "none"})
            continue
        point = impact.execution_point(row)
        points.append(point)
        entry = {"ref": row.item_ref, "service": row.service_specification.code, "point": point,
                 "change": "replace" if want else "remove"}
        if point == "notStarted" and row.service_order_id is None:
            row.cancel()
            row.superseded_by = new_plan()
            save_with_reason(row, f"superseded by plan v{version}")
            if want is not None:
                entry["by"] = add_row(key, want).item_ref
        elif row.state in LIVE_SOM_STATES:
            row.superseded_by = new_plan()
            save_with_reason(row, f"superseded by plan v{version}: cancelled at SOM")
            cancellation.request_at_som_for(row, mutation, actor=actor)
            if want is not None:
                entry["by"] = add_row(key, want, replaces=row).item_ref
            else:
                removal = planner.PlannedService(key, row.service_specification.code, "delete", 1,
                                                 dict(row.characteristics), row.place, True,
                                                 item_ids=[p.item_id for p in row.product_items.all()],
                                                 service_id=row.service_id)
                entry["by"] = add_row(key, removal, replaces=row, action="delete",
                                      spec=row.service_specification).item_ref
        elif row.state in _ENDED_UNBUILT and not any(p.compensation_started_at for p in row.product_items.all()):
            # SOM finished with it without building it (a fallout, say): nothing to cancel or undo, the
            # corrected row goes in its place (sent by the fallout's repair, or with the next wave)
            row.superseded_by = new_plan()
            save_with_reason(row, f"superseded by plan v{version}: {row.state}, replaced as changed")
            if want is not None:
                entry["by"] = add_row(key, want, replaces=row).item_ref
        else:
            entry["change"] = "refused"  # built or past its point of no return: the policy refuses first
        delta.services.append(entry)
    for key, row in created.items():
        want = wanted.get(key)
        if want is not None and want.depends_on:
            row.depends_on.set([created.get(k) or rows[k] for k in want.depends_on if (k in created or k in rows)])
    delta.execution_point = impact.furthest(points)
    if plan is not None:
        delta.summary = delta.services
        plan.summary = delta.services
        plan.save(update_fields=["summary"])
        record_event(order, OrderEvent.Type.PLAN_REVISED, actor=actor, mutation=mutation,
                     message=f"Plan v{version}: " + "; ".join(f"{s['service']} {s['change']}" for s in delta.services),
                     payload={"plan": version, "services": delta.services})
    return delta


def _withdraw_unsent(rows: dict, unchanged, *, reason: str) -> bool:
    """Service orders still in COM's outbox with a row that changes are taken back whole (SOM never sees the
    old version): their rows are unsent again, to be replanned or sent anew. One being sent this very instant
    cannot be: its rows count as sent (replaced once SOM has them). True if any was withdrawn."""
    from . import cancellation

    unsent = {row.service_order for key, row in rows.items() if row.service_order_id and not unchanged(key, row)
              and row.service_order.state == SomState.PLANNED}
    withdrawn = False
    for service_order in sorted(unsent, key=lambda so: so.sequence):
        withdrawn = cancellation.withdraw(service_order, reason=reason) or withdrawn  # its rows unsent again
    return withdrawn


def settle_replacements(order: ProductOrder) -> None:
    """Rows waiting for the row they replace: once it has ended, an add goes (or becomes a modify of what SOM
    built anyway), a delete of something SOM cancelled is dropped. Called before sending ready rows."""
    for row in order.service_items.filter(state=SomState.PLANNED, service_order__isnull=True,
                                          replaces__isnull=False).select_related("replaces"):
        previous = row.replaces
        if not previous.is_terminal:
            continue
        if previous.state == SomState.COMPLETED and row.action == "add":
            row.action, row.service_id = "modify", previous.service_id
            save_with_reason(row, f"{previous.item_ref} was built before SOM could cancel it: modify it instead")
        elif previous.state != SomState.COMPLETED and row.action == "delete":
            row.cancel()
            row.superseded_by = row.plan  # dropped: not in force, never sent
            save_with_reason(row, f"{previous.item_ref} was cancelled at SOM: nothing to delete")
