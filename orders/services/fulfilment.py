"""Fulfilment: send service orders to SOM, apply what SOM reports, and decide on failures.

Each public command locks the product order first (see ``common.lock_order``) and runs in one
transaction: the state changes, the events and the outbox rows they cause commit together.

A service order SOM refuses (4xx), or that cannot be delivered within the bounded attempts, sends its items
to the fallout queue. Failure policy of a CFS that SOM reports failed, in this order:
1. a compensation that failed goes to fallout (nothing automatic is left);
2. retry with a new service order while ``attempts <= max_retries`` (an explicit, bounded counter);
3. an optional CFS is accepted as missing (the order ends ``partial``);
4. ``compensate``: stop what was not sent, delete what was built of the product, then fail the item;
5. ``fallout``: hold the item for an agent, with the SOM's error.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django_fsm import can_proceed

from catalog.models import FailurePolicy
from orders.api import tmf641
from orders.models import (
    SOM_STATE_RANK,
    Fallout,
    InboundEvent,
    ItemState,
    OrderEvent,
    OrderState,
    OutboxMessage,
    ProductOrder,
    ServiceOrder,
    ServiceOrderItem,
    SomState,
)

from . import aggregation, outbox
from .common import lock_order, record_event, save_with_reason, touch
from .decomposition import decompose_order, ready_items
from .notifications import notify_order_event

log = logging.getLogger(__name__)

_TRANSITION_FOR = {
    SomState.ACKNOWLEDGED: "acknowledge",
    SomState.IN_PROGRESS: "start",
    SomState.HELD: "hold",
    SomState.PENDING: "defer",
    SomState.COMPLETED: "complete",
    SomState.FAILED: "fail",
    SomState.PARTIAL: "complete_partially",
    SomState.REJECTED: "reject",
    SomState.CANCELLED: "cancel",
}


# --- starting ------------------------------------------------------------------------------------

def begin_fulfilment(order: ProductOrder, *, actor: str) -> None:
    """Decompose the order and send what is ready. The caller holds the order lock in a transaction."""
    if order.state == OrderState.ACKNOWLEDGED:
        order.start()
    elif order.state in (OrderState.HELD, OrderState.PENDING):
        order.resume()
    for item in order.items.all():
        if item.state == ItemState.ACKNOWLEDGED:
            item.start()
        elif item.state in (ItemState.HELD, ItemState.PENDING):
            item.resume()
        else:
            continue
        save_with_reason(item, "fulfilment started")
    touch(order, reason="fulfilment started")
    record_event(order, OrderEvent.Type.FULFILMENT_STARTED, actor=actor, message="Fulfilment started")
    notify_order_event(order, "ProductOrderStateChangeEvent")
    decompose_order(order, actor=actor)
    submit_ready_items(order, actor=actor)
    aggregation.refresh_states(order, actor=actor)


def submit_ready_items(order: ProductOrder, *, actor: str = "system") -> list[ServiceOrder]:
    """Group the items that can go now into one service order per SOM, each with its outbox message."""
    ready = ready_items(order)
    groups: dict[str, list[ServiceOrderItem]] = {}
    for item in ready:
        groups.setdefault(item.service_specification.som, []).append(item)
    created = []
    next_sequence = (order.service_orders.aggregate(m=Max("sequence"))["m"] or 0) + 1
    for som in sorted(groups):
        items = groups[som]
        if all(i.compensates_id for i in items):
            purpose = "compensate"
        elif any(i.attempts for i in items):
            purpose = "retry"
        else:
            purpose = "fulfil"
        service_order = ServiceOrder.objects.create(
            order=order, som=som, sequence=next_sequence, purpose=purpose,
            external_id=f"{order.pk}-SO{next_sequence}",
        )
        next_sequence += 1
        for item in items:
            item.service_order = service_order
            item.attempts += 1
            save_with_reason(item, f"sent in {service_order.external_id}")
        outbox.enqueue(
            kind=OutboxMessage.Kind.SERVICE_ORDER, dedup_key=service_order.external_id,
            url=settings.COM_SOM_ENDPOINTS[som].rstrip("/") + "/serviceOrder",
            payload=tmf641.service_order_request(service_order, items), order=order, service_order=service_order,
        )
        record_event(order, OrderEvent.Type.SERVICE_ORDER_SUBMITTED, actor=actor,
                     message=f"{service_order.external_id} ({purpose}) to SOM {som}: "
                             + ", ".join(f"{i.item_ref} {i.action} {i.service_specification.code}" for i in items),
                     payload={"serviceOrder": service_order.external_id, "items": [i.item_ref for i in items]})
        created.append(service_order)
    return created


# --- delivery outcomes (called by the outbox relay in its transaction) -----------------------------

def service_order_accepted(*, service_order_id: str, response: dict) -> None:
    """SOM answered 201 (or 200 for a resend it recognised): accepted, nothing more."""
    service_order = ServiceOrder.objects.get(pk=service_order_id)
    order = lock_order(service_order.order_id)
    service_order = ServiceOrder.objects.select_for_update().get(pk=service_order_id)
    if not service_order.som_order_id and isinstance(response, dict) and response.get("id"):
        service_order.som_order_id = str(response["id"])
    service_order.last_heard_at = timezone.now()
    if service_order.state == SomState.PLANNED:
        service_order.acknowledge()
        service_order.acknowledged_at = timezone.now()
        for item in service_order.items.filter(state=SomState.PLANNED):
            item.acknowledge()
            save_with_reason(item, "SOM accepted the service order")
        record_event(order, OrderEvent.Type.SERVICE_ORDER_ACCEPTED, actor=f"som:{service_order.som}",
                     message=f"{service_order.external_id} accepted by SOM as {service_order.som_order_id}")
        touch(order)
    save_with_reason(service_order, "SOM answered")


def service_order_refused(*, service_order_id: str, error: dict) -> None:
    """SOM refused the service order (4xx), or it could not be delivered within the attempts allowed."""
    service_order = ServiceOrder.objects.get(pk=service_order_id)
    order = lock_order(service_order.order_id)
    service_order = ServiceOrder.objects.select_for_update().get(pk=service_order_id)
    if service_order.state != SomState.PLANNED:
        return
    service_order.reject()
    service_order.error = error
    save_with_reason(service_order, error.get("code", "refused"))
    kind = (OrderEvent.Type.SERVICE_ORDER_UNDELIVERABLE if error.get("code") == "SOM_UNREACHABLE"
            else OrderEvent.Type.SERVICE_ORDER_REFUSED)
    record_event(order, kind, actor=f"som:{service_order.som}",
                 message=f"{service_order.external_id}: {error.get('code')} after {error.get('attempts')} attempt(s)",
                 payload=error)
    # Not a failure of the service but of the request (4xx) or of the road to SOM (attempts spent): sending
    # it again would meet the same answer, so it goes straight to an agent.
    reason = ("SOM refused the service order" if error.get("code") == "SOM_REFUSED"
              else f"SOM unreachable after {error.get('attempts')} attempt(s)")
    for item in list(service_order.items.filter(state=SomState.PLANNED)):
        item.reject()
        item.error = error
        save_with_reason(item, error.get("code", "refused"))
        open_fallout(order, item, reason_code=error.get("code", "SOM_REFUSED"),
                     message=f"{item.service_specification.code}: {reason}", actor="system")
    touch(order)
    aggregation.refresh_states(order, actor="system")


# --- SOM events ----------------------------------------------------------------------------------

def _advance(obj, target: str) -> bool:
    """Move a service order (item) to what SOM reports, never backwards; True if it moved."""
    current = obj.state
    if target == current or obj.is_terminal:
        return False
    if SOM_STATE_RANK.get(target, -1) < SOM_STATE_RANK[current]:
        return False
    method = getattr(obj, _TRANSITION_FOR.get(target, ""), None)
    if method is None or not can_proceed(method):
        if target == SomState.REJECTED and can_proceed(obj.fail):
            obj.fail()  # SOM rejected an item it had already accepted: for COM that is a failure
            return True
        log.warning("ignored SOM state %s for %s in state %s", target, obj, current)
        return False
    method()
    return True


@transaction.atomic
def apply_som_event(*, inbound_event_id: int) -> str:
    """Apply one stored SOM event to the service order and its items; a second run changes nothing."""
    service_order_id = InboundEvent.objects.values_list("service_order_id", flat=True).get(pk=inbound_event_id)
    order_id = ServiceOrder.objects.values_list("order_id", flat=True).get(pk=service_order_id)
    order = lock_order(order_id)
    event = InboundEvent.objects.select_for_update().get(pk=inbound_event_id)
    if event.processed_at is not None:
        return "already processed"
    update = tmf641.parse_event(event.payload)
    service_order = ServiceOrder.objects.select_for_update().get(pk=service_order_id)
    actor = f"som:{service_order.som}"
    if not service_order.som_order_id and update.som_order_id:
        service_order.som_order_id = update.som_order_id
    service_order.last_heard_at = timezone.now()
    order_moved = bool(update.state) and _advance(service_order, update.state)
    if order_moved and service_order.is_terminal:
        service_order.completed_at = timezone.now()
    if update.errors:
        service_order.error = {"errorMessage": list(update.errors)}
    save_with_reason(service_order, f"{update.event_type} {update.event_id}")

    # Only the items of this attempt: a late event about an attempt since retried changes nothing.
    items = {i.item_ref: i for i in service_order.items.select_related("service_specification")}
    moved, failed, completed = [], [], []
    for change in update.items:
        item = items.get(change.item_ref)
        if item is None:
            continue
        before = item.state
        if not _advance(item, change.state):
            continue
        if item.state == SomState.COMPLETED and change.service_id:
            item.service_id = change.service_id
        if item.state == SomState.FAILED:
            item.error = change.error or {"errorMessage": list(update.errors)}
            failed.append(item)
        if item.state == SomState.COMPLETED:
            completed.append(item)
        save_with_reason(item, f"SOM: {before} -> {item.state}")
        moved.append(f"{item.item_ref} {item.service_specification.code}: {before} -> {item.state}")
    event.processed_at = timezone.now()
    event.outcome = "; ".join(moved) or "no change"
    event.save(update_fields=["processed_at", "outcome"])
    if moved:
        record_event(order, OrderEvent.Type.SERVICE_STATE_CHANGED, actor=actor, message="; ".join(moved)[:500],
                     payload={"eventId": update.event_id, "serviceOrder": service_order.external_id,
                              "state": service_order.state})
    for item in failed:
        handle_failed_service_item(order, item, actor=actor)
    for item in completed:
        for product_item in item.product_items.all():
            if _is_compensating(product_item):
                _compensate_item(order, product_item, actor=actor)
    if moved or order_moved:
        touch(order)
    submit_ready_items(order, actor=actor)
    aggregation.refresh_states(order, actor=actor)
    return event.outcome


# --- failure policy ------------------------------------------------------------------------------

def handle_failed_service_item(order: ProductOrder, item: ServiceOrderItem, *, actor: str) -> str:
    """Decide what a failed (or refused) service item leads to; returns the decision."""
    code = item.service_specification.code
    if item.compensates_id:
        open_fallout(order, item, reason_code="COMPENSATION_FAILED",
                     message=f"Undoing {code} failed: an agent must finish the clean-up", actor=actor)
        return "fallout"
    if item.attempts <= item.max_retries:
        item.replan()
        item.service_order = None
        save_with_reason(item, f"retry {item.attempts + 1} of {item.max_retries + 1}")
        record_event(order, OrderEvent.Type.RETRY_SCHEDULED, actor=actor,
                     message=f"{item.item_ref} {code} failed (attempt {item.attempts} of {item.max_retries + 1}): "
                             f"sending it again", payload={"error": item.error})
        return "retry"
    if not item.mandatory:
        record_event(order, OrderEvent.Type.PARTIAL_ACCEPTED, actor=actor,
                     message=f"{item.item_ref} {code} is optional and failed: the product goes on without it",
                     payload={"error": item.error})
        return "partial"
    if item.failure_policy == FailurePolicy.COMPENSATE:
        record_event(order, OrderEvent.Type.COMPENSATION_STARTED, actor=actor,
                     message=f"{item.item_ref} {code} failed for good: undoing what was built of the product",
                     payload={"error": item.error})
        for product_item in item.product_items.all():
            _compensate_item(order, product_item, actor=actor)
        return "compensate"
    open_fallout(order, item, reason_code="SERVICE_FAILED",
                 message=f"{code} failed after {item.attempts} attempt(s)", actor=actor)
    return "fallout"


def _is_compensating(product_item) -> bool:
    return product_item.service_items.filter(
        state=SomState.FAILED, mandatory=True, compensates__isnull=True, failure_policy=FailurePolicy.COMPENSATE,
    ).exists()


def _compensate_item(order: ProductOrder, product_item, *, actor: str) -> None:
    """Cancel the product item's unsent services and queue a delete for each completed one."""
    compensating_ids = {pi.pk for pi in order.items.all() if _is_compensating(pi)}
    for service in product_item.service_items.filter(compensates__isnull=True).prefetch_related("product_items"):
        serves_only_failing = {pi.pk for pi in service.product_items.all()} <= compensating_ids
        if not serves_only_failing:
            continue  # a shared service another product still needs stays
        if service.state == SomState.PLANNED and service.service_order_id is None:
            service.cancel()
            save_with_reason(service, "not needed: product being compensated")
        elif (service.state == SomState.COMPLETED and service.action == "add"
              and service.service_specification.reversible and not service.compensations.exists()):
            undo = ServiceOrderItem.objects.create(
                order=order, item_ref=f"C{service.item_ref}", sequence=1000 + service.sequence,
                plan_key=f"compensate:{service.plan_key}", service_specification=service.service_specification,
                action="delete", quantity=service.quantity, characteristics=service.characteristics,
                place=service.place, mandatory=True, service_id=service.service_id, compensates=service,
                max_retries=service.max_retries, failure_policy=FailurePolicy.FALLOUT,
            )
            undo.product_items.set(service.product_items.all())


def open_fallout(order: ProductOrder, item: ServiceOrderItem | None, *, reason_code: str, message: str,
                 actor: str, product_items=None) -> list[Fallout]:
    """Put the product items of a failed service in the fallout queue (held, with the SOM's error)."""
    product_items = list(product_items if product_items is not None else item.product_items.all())
    fallouts = []
    for product_item in product_items:
        fallouts.append(Fallout.objects.create(
            order=order, item=product_item, service_order_item=item, reason_code=reason_code, message=message,
            context={"error": item.error if item else {}, "attempts": item.attempts if item else 0,
                     "service": item.service_specification.code if item else ""},
        ))
        if product_item.state in (ItemState.IN_PROGRESS, ItemState.PENDING, ItemState.ACKNOWLEDGED):
            product_item.hold()
            product_item.state_reason = message
            save_with_reason(product_item, reason_code)
        record_event(order, OrderEvent.Type.FALLOUT_OPENED, actor=actor, item=product_item,
                     message=f"Item {product_item.item_id} to the fallout queue: {message}",
                     payload={"reasonCode": reason_code, "error": item.error if item else {}})
    return fallouts
