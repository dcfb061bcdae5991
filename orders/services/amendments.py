"""Changing an order in flight: corrections, amendments, reschedules and supersession, applied as a new plan.

A change names order attributes and item attributes (domain terms, from the API's mapper)::

    {"order": {"notification_contact", "description", "notes": [text], "requested_start_date",
               "requested_completion_date"},
     "items": {item_id: {"characteristics": {...}, "quantity", "offering_id", "place": {...}, "appointment": {...}}}}

It is classified: an amendment when it changes what the customer pays for (quantity, offering, a price), a
reschedule when it moves dates or an appointment only, a correction otherwise (contact, notes, a technical
parameter that changes no price). Applying it re-runs only the checks it touches (a new address re-runs
serviceability; a price change the credit check; a new appointment the appointment check), then revises
the plan (``replanning``): only the delta is sent. ``preview`` does the same and keeps nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.models import ProductOffering
from comapp.errors import NotAllowed, ValidationFailed
from comapp.tmf import iso
from orders import pricing
from orders.models import (
    CheckOutcome,
    CheckRun,
    ItemAction,
    ItemState,
    MutationKind,
    MutationRequest,
    OrderCheckResult,
    OrderEvent,
    ProductOrder,
)

from . import replanning
from .capture import capture_order, draft_from_json
from .checks import configured_checks
from .common import record_event, save_with_reason

ORDER_FIELDS = ("notification_contact", "description", "requested_start_date", "requested_completion_date")
ITEM_FIELDS = ("characteristics", "quantity", "offering_id", "place", "appointment")
# Which checks a change of each attribute touches.
TOUCHES = {
    "characteristics": {"serviceability", "credit"},
    "quantity": {"businessRules", "credit"},
    "offering_id": {"businessRules", "serviceability", "credit", "duplicate"},
    "place": {"serviceability", "duplicate"},
    "appointment": {"appointment"},
}


@dataclass
class Change:
    kind: str
    execution_point: str
    impact: dict
    notes: list[str] = field(default_factory=list)


class _Rollback(Exception):
    def __init__(self, change: Change):
        super().__init__("preview")
        self.change = change


def classify(order: ProductOrder, changes: dict, priced: dict) -> str:
    """amendment (commercial), reschedule (dates, appointment) or correction (everything else)."""
    items = changes.get("items") or {}
    if any("quantity" in c or "offering_id" in c for c in items.values()) or any(
            before != after for before, after in priced.values()):
        return MutationKind.AMENDMENT
    order_changes = set(changes.get("order") or {})
    item_changes = {name for c in items.values() for name in c}
    if (order_changes or item_changes) and order_changes <= {"requested_start_date", "requested_completion_date"} \
            and item_changes <= {"appointment"}:
        return MutationKind.RESCHEDULE
    return MutationKind.CORRECTION


def _date(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise ValidationFailed(f"{value!r} is not a date")
    return parsed


def _change_order(order: ProductOrder, changes: dict, *, actor: str, mutation=None) -> list[str]:
    done = []
    for name, value in (changes.get("order") or {}).items():
        if name not in ORDER_FIELDS:
            continue
        value = _date(value) if name.endswith("_date") else value
        if getattr(order, name) != value:
            done.append(f"{name}: {getattr(order, name)!s} -> {value!s}")
            setattr(order, name, value)
    for text in (changes.get("order") or {}).get("notes") or []:
        order.notes = [*order.notes, {"id": str(len(order.notes) + 1), "author": actor, "by": actor,
                                      "date": iso(timezone.now()),
                                      "text": text}]
        done.append("note added")
    if done:
        save_with_reason(order, f"corrected by {actor}")
        record_event(order, OrderEvent.Type.ORDER_CORRECTED, actor=actor, mutation=mutation,
                     message="; ".join(done)[:500])
    return done


def _change_items(order: ProductOrder, changes: dict, *, actor: str, mutation=None) -> tuple[set, dict]:
    """Apply item changes; returns (the checks they touch, {item_id: (unit prices before, after)})."""
    touched, priced = set(), {}
    items = {i.item_id: i for i in order.items.select_related("product_offering", "product")}
    for item_id, change in (changes.get("items") or {}).items():
        item = items.get(item_id)
        if item is None:
            raise NotAllowed(f"Order {order.pk} has no item {item_id}")
        if item.is_terminal:
            raise NotAllowed(f"Item {item_id} is {item.state}: it can no longer be changed in this order")
        if item.state in (ItemState.ASSESSING_CANCELLATION, ItemState.PENDING_CANCELLATION):
            raise NotAllowed(f"Item {item_id} is {item.state}: a cancellation of it is under way, it cannot be "
                             "changed (reject the cancellation first, or order it again)")
        before = {"characteristics": dict(item.characteristics), "quantity": item.quantity,
                  "offering": item.product_offering.offering_id, "place": item.place, "appointment": item.appointment}
        prices_before = list(item.item_prices)
        if "offering_id" in change and change["offering_id"] != item.product_offering.offering_id:
            if item.action != ItemAction.ADD:
                raise NotAllowed(f"Item {item_id} changes an existing product: its offering cannot be swapped")
            offering = ProductOffering.objects.select_related("specification").filter(
                offering_id=change["offering_id"]).first()
            if offering is None or not offering.is_orderable_at(timezone.now()):
                raise ValidationFailed(f"offering {change['offering_id']!r} cannot be ordered")
            item.product_offering, item.offering_version = offering, offering.version
            item.product_specification = offering.specification
        if "characteristics" in change:
            item.requested_characteristics = {**item.requested_characteristics, **change["characteristics"]}
            item.characteristics = {**item.characteristics, **change["characteristics"]}
        if "quantity" in change:
            item.quantity = int(change["quantity"])
        if "place" in change:
            item.place = change["place"]
        if "appointment" in change:
            item.appointment = change["appointment"]
        item.item_prices = pricing.unit_prices(item.product_offering, item.characteristics)
        after = {"characteristics": item.characteristics, "quantity": item.quantity,
                 "offering": item.product_offering.offering_id, "place": item.place, "appointment": item.appointment}
        changed = {k for k in before if before[k] != after[k]}
        if not changed:
            continue
        for name in change:
            touched |= TOUCHES.get(name, set())
        priced[item_id] = (pricing.item_total(prices_before, before["quantity"]),
                           pricing.item_total(item.item_prices, item.quantity))
        save_with_reason(item, f"changed by {actor}")
        record_event(order, OrderEvent.Type.ITEM_AMENDED, actor=actor, item=item, mutation=mutation,
                     message=f"Item {item_id}: " + ", ".join(f"{k} {before[k]} -> {after[k]}" for k in sorted(changed)),
                     payload={"before": {k: before[k] for k in changed}, "after": {k: after[k] for k in changed}})
    return touched, priced


def _recheck(order: ProductOrder, touched: set, *, actor: str, record: bool) -> tuple[list, list]:
    """Run only the touched checks; returns (failures, holds) as (code, message)."""
    checks = [c for c in configured_checks() if c.code in touched]
    if not checks:
        return [], []
    run = None
    if record:
        run = CheckRun.objects.create(order=order, sequence=order.check_runs.count() + 1,
                                      trigger=CheckRun.Trigger.MUTATION, checks=[c.code for c in checks], actor=actor)
    failures, holds = [], []
    for check in checks:
        result = check.run(order)
        if run is not None:
            OrderCheckResult.objects.create(order=order, run=run, check_code=check.code, outcome=result.outcome,
                                            reason_code=result.reason_code, message=result.message[:500],
                                            details=result.details)
        if result.outcome == CheckOutcome.FAIL:
            failures.append((check.code, result.message))
        elif result.outcome == CheckOutcome.HOLD:
            holds.append((check.code, result.message))
    if run is not None:
        run.outcome = CheckOutcome.FAIL if failures else CheckOutcome.HOLD if holds else CheckOutcome.PASS
        run.save(update_fields=["outcome"])
    return failures, holds


def _work(order: ProductOrder, kind: str, changes: dict, *, actor: str, mutation=None, record: bool) -> Change:
    """Apply the change to the order (the caller keeps it or rolls it back); what it did, as a Change."""
    done = _change_order(order, changes, actor=actor, mutation=mutation)
    touched, priced = _change_items(order, changes, actor=actor, mutation=mutation)
    if kind != MutationKind.SUPERSESSION:
        kind = classify(order, changes, priced)
    failures, holds = _recheck(order, touched, actor=actor, record=record)
    notes = [f"REFUSE:{code}: {message}" for code, message in failures]
    notes += [f"APPROVAL:{code}: {message}" for code, message in holds]
    delta = replanning.revise(order, reason=f"{kind} {mutation.pk if mutation else '(preview)'}", actor=actor,
                              mutation=mutation, items=set((changes.get("items") or {}).keys()))
    impact = {"orderVersion": order.version, "orderState": order.state, "orderChanges": done,
              "prices": {k: {"before": b, "after": a} for k, (b, a) in priced.items()},
              "checks": sorted(touched), "services": delta.services, "plan": delta.summary}
    return Change(kind=kind, execution_point=delta.execution_point, impact=impact, notes=notes)


def preview(order: ProductOrder, kind: str, draft) -> Change:
    """What the change would do now, and nothing kept (a savepoint rolled back)."""
    if kind == MutationKind.SUPERSESSION:
        from . import cancellation

        found = cancellation.impact_of(order)
        return Change(kind=kind, execution_point=found.execution_point, impact=found.as_dict())
    try:
        with transaction.atomic():
            raise _Rollback(_work(order, kind, draft.changes, actor="preview", record=False))
    except _Rollback as preview_done:
        order.refresh_from_db()
        return preview_done.change


def apply(order: ProductOrder, mutation: MutationRequest, *, actor: str, user=None) -> None:
    """Carry out an approved change (raises a ComError if it can no longer be done: the caller fails it)."""
    if mutation.kind == MutationKind.SUPERSESSION:
        _supersede(order, mutation, actor=actor, user=user)
        return
    change = _work(order, mutation.kind, mutation.changes, actor=actor, mutation=mutation, record=True)
    refusals = [n[7:] for n in change.notes if n.startswith("REFUSE:")]
    if refusals:
        raise NotAllowed("; ".join(refusals))
    record_event(order, OrderEvent.Type.MUTATION_APPLIED, actor=actor, mutation=mutation,
                 message=f"{mutation.kind} {mutation.pk} applied", payload={"services": change.impact["services"]})
    from .submission import submit_ready_items

    submit_ready_items(order, actor=actor)  # what the new plan can send now (nothing waits for a SOM event)


def _supersede(order: ProductOrder, mutation: MutationRequest, *, actor: str, user=None) -> None:
    from . import cancellation

    replacement = mutation.changes.get("replacement")
    if not replacement:
        raise ValidationFailed("A supersession names the order that replaces this one")
    new_order, _ = capture_order(channel=order.channel, draft=draft_from_json(replacement))
    new_order.replaces = order
    new_order.save(update_fields=["replaces"])
    mutation.replacement_order = new_order
    mutation.save()
    cancellation.open_cancellation(order, mutation, cancellation.impact_of(order), actor=actor)
    cancellation.apply_cancellation(order, mutation, cancellation.impact_of(order), actor=actor, user=user)
    record_event(order, OrderEvent.Type.MUTATION_APPLIED, actor=actor, mutation=mutation,
                 message=f"Replaced by {new_order.pk}; this order is being cancelled")
