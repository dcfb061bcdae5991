"""State aggregation: item state from its services, order state from its items (TMF622 rules).

Item (in progress):
- every service finished, no mandatory one failed           -> completed (an optional one may be missing)
- every service finished, a mandatory one failed            -> failed (compensations, if any, done)
- anything still running                                    -> stays inProgress
Order:
- any item held                                             -> held (and the channel is told information is needed)
- nothing held any more                                     -> back to inProgress
- every item finished: all completed, nothing missing       -> completed
  some completed and some failed, or optional CFS missing   -> partial
  none completed                                            -> failed
A finished order is stable: inventory and billing are written then, and only then.
"""
from django.utils import timezone

from orders.models import ItemState, OrderEvent, OrderState, ProductOrder, SomState

from .common import record_event, save_with_reason, touch
from .notifications import notify_order_event

_FAILED = {SomState.FAILED, SomState.REJECTED}


def item_outcome(item, services) -> str | None:
    """completed, failed, or None while work remains."""
    if not services:
        return ItemState.COMPLETED
    if not all(s.is_terminal for s in services):
        return None
    primaries = [s for s in services if s.compensates_id is None]
    if any(s.mandatory and s.state in _FAILED for s in primaries):
        return ItemState.FAILED
    return ItemState.COMPLETED


def order_outcome(items, services_by_item) -> str:
    completed = [i for i in items if i.state == ItemState.COMPLETED]
    degraded = any(s.state in _FAILED and not s.mandatory and s.compensates_id is None
                   for i in completed for s in services_by_item.get(i.pk, []))
    if completed and len(completed) == len(items) and not degraded:
        return OrderState.COMPLETED
    if completed:
        return OrderState.PARTIAL
    return OrderState.FAILED


def refresh_states(order: ProductOrder, *, actor: str) -> None:
    """Recompute item and order states after a change. The caller holds the order lock."""
    items = list(order.items.all())
    services_by_item = {}
    for item in items:
        services_by_item[item.pk] = list(item.service_items.all())
    for item in items:
        if item.state != ItemState.IN_PROGRESS:
            continue
        outcome = item_outcome(item, services_by_item[item.pk])
        if outcome == ItemState.COMPLETED:
            item.complete()
        elif outcome == ItemState.FAILED:
            item.fail()
        else:
            continue
        save_with_reason(item, f"services finished: {outcome}")
        record_event(order, OrderEvent.Type.ITEM_STATE_CHANGED, actor=actor, item=item,
                     message=f"Item {item.item_id} {outcome}")

    before = order.state
    held = any(i.state == ItemState.HELD for i in items)
    if held and order.state in (OrderState.IN_PROGRESS, OrderState.PENDING):
        order.hold()
        order.state_reason_code = "FALLOUT"
        order.state_reason = "; ".join(i.state_reason for i in items if i.state == ItemState.HELD)[:500]
    elif not held and order.state == OrderState.HELD and any(i.state != ItemState.ACKNOWLEDGED for i in items):
        order.resume()
    if order.state == OrderState.IN_PROGRESS and all(i.is_terminal for i in items):
        outcome = order_outcome(items, services_by_item)
        {OrderState.COMPLETED: order.complete, OrderState.PARTIAL: order.complete_partially,
         OrderState.FAILED: order.fail}[outcome]()
        order.completion_date = timezone.now()
    if order.state == before:
        return
    touch(order, reason=f"{before} -> {order.state}")
    record_event(order, OrderEvent.Type.STATE_CHANGED, actor=actor, message=f"Order {before} -> {order.state}",
                 payload={"from": before, "to": order.state})
    notify_order_event(order, "ProductOrderStateChangeEvent")
    if order.state == OrderState.HELD:
        notify_order_event(order, "ProductOrderInformationRequiredEvent")
    if order.is_terminal:
        from .completion import finalize_order

        finalize_order(order, actor=actor)
