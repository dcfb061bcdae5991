"""Sending work to SOM: start fulfilment, group ready services into TMF641 service orders, and record SOM's
answer (accepted, refused, undeliverable).

Each function runs inside the caller's transaction with the order locked (``common.lock_order``): the
state changes, the events and the outbox rows they cause commit together. A 201 from SOM means accepted,
never done: only SOM's events (``som_events``) move a service further.
"""
from __future__ import annotations

from django.db.models import Max
from django.utils import timezone

from orders.integrations import som as som_api
from orders.integrations import tmf641
from orders.models import (
    FalloutStage,
    ItemState,
    OrderEvent,
    OrderState,
    OutboxMessage,
    ProductOrder,
    ServiceOrder,
    ServiceOrderItem,
    SomState,
)

from . import aggregation, cancellation, fallouts, inbound, outbox, replanning
from .common import lock_order, record_event, save_with_reason, touch
from .decomposition import decompose_order, ready_items
from .notifications import notify_order_event


def begin_fulfilment(order: ProductOrder, *, actor: str) -> None:
    """Decompose the order and send what is ready. The caller holds the order lock in a transaction."""
    if order.state == OrderState.ACKNOWLEDGED:
        order.start()
    elif order.state in (OrderState.HELD, OrderState.PENDING):
        order.resume()
    order.state_reason_code, order.state_reason = "", ""
    for item in order.items.all():
        if item.state == ItemState.ACKNOWLEDGED:
            item.start()
        elif item.state in (ItemState.HELD, ItemState.PENDING):
            item.resume()
        else:
            continue
        item.state_reason = ""
        save_with_reason(item, "fulfilment started")
    touch(order, reason="fulfilment started")
    record_event(order, OrderEvent.Type.FULFILMENT_STARTED, actor=actor, message="Fulfilment started")
    notify_order_event(order, "ProductOrderStateChangeEvent")
    decompose_order(order, actor=actor)
    submit_ready_items(order, actor=actor)
    aggregation.refresh_states(order, actor=actor)


def submit_ready_items(order: ProductOrder, *, actor: str = "system") -> list[ServiceOrder]:
    """Group the items that can go now into one service order per SOM, each with its outbox message."""
    replanning.settle_replacements(order)
    groups: dict[str, list[ServiceOrderItem]] = {}
    for item in ready_items(order):
        groups.setdefault(item.som, []).append(item)
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
            url=som_api.endpoint(som).url + "/serviceOrder",
            payload=tmf641.service_order_request(service_order, items), order=order, service_order=service_order,
        )
        record_event(order, OrderEvent.Type.SERVICE_ORDER_SUBMITTED, actor=actor,
                     message=f"{service_order.external_id} ({purpose}) to SOM {som}: "
                             + ", ".join(f"{i.item_ref} {i.action} {i.service_specification.code}" for i in items),
                     payload={"serviceOrder": service_order.external_id, "items": [i.item_ref for i in items]})
        created.append(service_order)
    return created


def service_order_accepted(*, service_order_id: str, response: dict, adopted: bool = False) -> None:
    """SOM answered 201 (or 200 for a resend it recognised), or COM found the order at SOM: accepted."""
    service_order = ServiceOrder.objects.get(pk=service_order_id)
    order = lock_order(service_order.order_id)
    service_order = ServiceOrder.objects.select_for_update().get(pk=service_order_id)
    if not service_order.som_order_id and isinstance(response, dict) and response.get("id"):
        service_order.som_order_id = str(response["id"])[:80]
    service_order.last_heard_at = timezone.now()
    if service_order.state == SomState.PLANNED:
        service_order.acknowledge()
        service_order.acknowledged_at = timezone.now()
        for item in service_order.items.filter(state=SomState.PLANNED):
            item.acknowledge()
            save_with_reason(item, "SOM accepted the service order")
        kind = OrderEvent.Type.SERVICE_ORDER_ADOPTED if adopted else OrderEvent.Type.SERVICE_ORDER_ACCEPTED
        record_event(order, kind, actor=f"som:{service_order.som}",
                     message=(f"{service_order.external_id} found at SOM as {service_order.som_order_id} after the "
                              "delivery attempts were spent: adopted" if adopted else
                              f"{service_order.external_id} accepted by SOM as {service_order.som_order_id}"))
        touch(order)
    save_with_reason(service_order, "SOM answered")
    if service_order.som_order_id:
        inbound.match_waiting_events(service_order)
        cancellation.cancel_if_sent_too_late(service_order, actor="system")


def service_order_refused(*, service_order_id: str, error: dict) -> None:
    """SOM refused the service order (4xx), or it could not be delivered and SOM does not have it.

    Either way sending it again would meet the same answer, so its services go straight to an agent. A
    refused order is over (its services rejected; a retry makes a new one). An undeliverable one stays
    planned: a retry resends the same request, with the same ``externalId``, so SOM can never build it twice.
    """
    service_order = ServiceOrder.objects.get(pk=service_order_id)
    order = lock_order(service_order.order_id)
    service_order = ServiceOrder.objects.select_for_update().get(pk=service_order_id)
    if service_order.state != SomState.PLANNED:
        return
    undeliverable = error.get("code") == "SOM_UNREACHABLE"
    if not undeliverable:
        service_order.reject()
    service_order.error = error
    save_with_reason(service_order, error.get("code", "refused"))
    record_event(order, OrderEvent.Type.SERVICE_ORDER_UNDELIVERABLE if undeliverable
                 else OrderEvent.Type.SERVICE_ORDER_REFUSED, actor=f"som:{service_order.som}",
                 message=f"{service_order.external_id}: {error.get('code')} after {error.get('attempts')} attempt(s)",
                 payload=error)
    reason = (f"SOM unreachable after {error.get('attempts')} attempt(s), and it does not have the order"
              if undeliverable else "SOM refused the service order")
    for item in list(service_order.items.filter(state=SomState.PLANNED).select_related("service_specification")):
        if not undeliverable:
            item.reject()
        item.error = error
        save_with_reason(item, error.get("code", "refused"))
        fallouts.open_service_fallout(order, item, reason_code=error.get("code", "SOM_REFUSED"),
                                      message=f"{item.service_specification.code}: {reason}", actor="system",
                                      stage=FalloutStage.SUBMISSION)
    touch(order)
    aggregation.refresh_states(order, actor="system")
