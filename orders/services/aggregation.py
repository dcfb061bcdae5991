"""State aggregation: item state from its services, order state from its items (TMF622 rules).

``refresh_states`` runs after every change, with the order locked, in three named steps:

1. ``settle_items``: an item in progress whose services have all ended is completed (its inventory and
   billing are written then: ``completion.complete_item``; a refusal there holds it in fallout instead) or
   failed (a mandatory service will not be built, or what was built was undone);
2. ``settle_order``: any item held -> the order is held; no item held and no fallout open -> back to
   inProgress; every item finished -> completed, partial (some failed, or an optional service is missing)
   or failed (none completed);
3. ``announce``: the state change is recorded and the channel notified; a finished order frees the
   orders that waited for its products.

Only the plan rows in force count (a superseded row is history). An add item always has something to
build: with no service it never completes on its own (decomposition sends such an item to fallout).
"""
from __future__ import annotations

from django.utils import timezone

from orders.models import (
    LIVE_SOM_STATES,
    ItemAction,
    ItemState,
    OrderEvent,
    OrderState,
    ProductOrder,
    SomState,
)

from . import cancellation, completion, dispatch
from .common import record_event, save_with_reason, touch
from .notifications import notify_order_event

_NOT_BUILT = {SomState.FAILED, SomState.REJECTED, SomState.PARTIAL, SomState.CANCELLED}
LIVE = LIVE_SOM_STATES


def item_outcome(item, services) -> str | None:
    """completed, failed, or None while work remains."""
    if any(s.state in LIVE_SOM_STATES for s in services):
        return None
    if item.compensation_started_at is not None:
        return ItemState.FAILED
    primaries = [s for s in services if s.compensates_id is None]
    if not primaries:
        return None if item.action == ItemAction.ADD else ItemState.COMPLETED
    if any(s.mandatory and s.state in _NOT_BUILT for s in primaries):
        return ItemState.FAILED
    return ItemState.COMPLETED


def order_outcome(items, services_by_item) -> str:
    """The end of an order from its items (items cancelled at the customer's request left out)."""
    completed = [i for i in items if i.state == ItemState.COMPLETED]
    degraded = any(s.state in _NOT_BUILT and not s.mandatory and s.compensates_id is None
                   for i in completed for s in services_by_item.get(i.pk, []))
    if completed and len(completed) == len(items) and not degraded:
        return OrderState.COMPLETED
    if completed:
        return OrderState.PARTIAL
    return OrderState.FAILED


def settle_items(order: ProductOrder, items, services_by_item, *, actor: str) -> None:
    for item in items:
        if item.state not in (ItemState.IN_PROGRESS, ItemState.ASSESSING_CANCELLATION):
            continue
        outcome = item_outcome(item, services_by_item[item.pk])
        if outcome is not None and item.state == ItemState.ASSESSING_CANCELLATION:
            # it finished while its cancellation was being assessed: the cancellation is overtaken for it
            item.refuse_cancellation(item.cancellation_return_state or ItemState.IN_PROGRESS)
            if item.state != ItemState.IN_PROGRESS:
                continue
        if outcome == ItemState.COMPLETED:
            if not completion.complete_item(order, item, services_by_item[item.pk], actor=actor):
                continue  # inventory refused: the item is in fallout
        elif outcome == ItemState.FAILED:
            item.fail()
            save_with_reason(item, "services finished: failed")
        else:
            continue
        record_event(order, OrderEvent.Type.ITEM_STATE_CHANGED, actor=actor, item=item,
                     message=f"Item {item.item_id} {item.state}")


def settle_order(order: ProductOrder, items, services_by_item, *, actor: str) -> None:
    if order.state == OrderState.ASSESSING_CANCELLATION and items and all(i.is_terminal for i in items):
        # everything finished while a cancellation was being assessed: it is overtaken, the order ends as it is
        cancellation.overtake_open_mutations(order, reason="the order finished before the cancellation was decided",
                                           actor=actor)
        order.refuse_cancellation(order.cancellation_return_state or OrderState.IN_PROGRESS)
    held = [i for i in items if i.state == ItemState.HELD]
    if held and order.state in (OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS, OrderState.PENDING):
        order.hold()
        order.state_reason_code = "FALLOUT"
        order.state_reason = "; ".join(i.state_reason for i in held if i.state_reason)[:500]
    elif (not held and order.state == OrderState.HELD and order.state_reason_code == "FALLOUT"
          and not order.fallouts.filter(resolved_at__isnull=True).exists()):
        order.resume()
        order.state_reason_code, order.state_reason = "", ""
    if order.state == OrderState.IN_PROGRESS and items and all(i.is_terminal for i in items):
        if all(i.state == ItemState.CANCELLED for i in items):
            order.assess_cancellation()  # every item was cancelled one by one: the order is cancelled
            order.accept_cancellation()
            return
        outcome = order_outcome([i for i in items if i.state != ItemState.CANCELLED], services_by_item)
        {OrderState.COMPLETED: order.complete, OrderState.PARTIAL: order.complete_partially,
         OrderState.FAILED: order.fail}[outcome]()
        order.completion_date = timezone.now()


def announce(order: ProductOrder, before: str, *, actor: str) -> None:
    touch(order, reason=f"{before} -> {order.state}")
    record_event(order, OrderEvent.Type.STATE_CHANGED, actor=actor, message=f"Order {before} -> {order.state}",
                 payload={"from": before, "to": order.state})
    notify_order_event(order, "ProductOrderStateChangeEvent")
    if order.state == OrderState.HELD:
        notify_order_event(order, "ProductOrderInformationRequiredEvent")
    if order.is_terminal:
        cancellation.overtake_open_mutations(order, reason=f"the order ended {order.state} before the request was "
                                                           "decided", actor=actor)
        products = [i.product_id for i in order.items.all() if i.product_id]
        if products:
            dispatch.after_commit("recheck_orders_waiting_for", products)


def refresh_states(order: ProductOrder, *, actor: str) -> None:
    """Recompute item and order states after a change. The caller holds the order lock."""
    items = list(order.items.all())
    services_by_item = {item.pk: [s for s in item.service_items.all() if s.superseded_by_id is None]
                        for item in items}
    settle_items(order, items, services_by_item, actor=actor)
    cancellation.settle_cancelled_items(order, items, services_by_item, actor=actor)
    before = order.state
    settle_order(order, items, services_by_item, actor=actor)
    cancellation.finish_if_done(order, items, actor=actor)
    if order.state != before:
        announce(order, before, actor=actor)
