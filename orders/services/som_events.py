"""SOM events: receive them (verify, correlate, store once) and apply them. Where a SOM event is applied.

``receive_som_event`` is the TMF641 listener's command: it checks the signature with the secret of the SOM
the event's service order was sent to, stores the event once by its ``eventId`` and queues it; it answers
fast. A resent event that was stored but never applied is queued again, not dropped as a duplicate. An event
naming a service order COM does not know yet (it overtook SOM's 201) is kept ``unmatched`` and applied once
COM learns SOM's id for it.

``apply_som_event`` applies one stored event to the service order and its items, never moving a state
back. An event may carry no item list at all (TMF641 requires none): when the service order has ended without
saying how its items ended, COM reads it back (``GET serviceOrder/{id}``) to learn how, and the service
instances built; if that tells no more (or SOM cannot be read), the items follow the order's final state.
Every outcome a service can reach has a policy (``failure``).
"""
from __future__ import annotations

import json
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import can_proceed

from comapp.errors import ValidationFailed
from orders.integrations import som as som_api
from orders.integrations import tmf641
from orders.models import (
    LIVE_SOM_STATES,
    SOM_STATE_RANK,
    CancellationState,
    InboundEvent,
    OrderEvent,
    ProductOrder,
    ServiceOrder,
    ServiceOrderCancellation,
    ServiceOrderItem,
    SomState,
)

from . import aggregation, cancellation, dispatch, failure, fallouts, inbound
from .common import lock_order, record_event, save_with_reason, touch
from .submission import submit_ready_items

log = logging.getLogger(__name__)

_TRANSITION_FOR = {
    SomState.ACKNOWLEDGED: "acknowledge",
    SomState.IN_PROGRESS: "start",
    SomState.HELD: "hold",
    SomState.PENDING: "defer",
    SomState.ASSESSING_CANCELLATION: "assess_cancellation",
    SomState.PENDING_CANCELLATION: "accept_cancellation",
    SomState.COMPLETED: "complete",
    SomState.FAILED: "fail",
    SomState.PARTIAL: "complete_partially",
    SomState.REJECTED: "reject",
    SomState.CANCELLED: "cancel",
}
# Event types that carry nothing to apply beyond being recorded.
_RECORD_ONLY = {"ServiceOrderDeleteEvent", "ServiceOrderJeopardyEvent", "ServiceOrderCreateEvent"}


# --- receiving ----------------------------------------------------------------------------------------

def _find_service_order(raw: dict) -> ServiceOrder | None:
    event = raw.get("event") if isinstance(raw.get("event"), dict) else {}
    order = event.get("serviceOrder")
    if not isinstance(order, dict):
        cancel = event.get("cancelServiceOrder") if isinstance(event.get("cancelServiceOrder"), dict) else {}
        order = cancel.get("serviceOrder") if isinstance(cancel.get("serviceOrder"), dict) else {}
    som_order_id, external_id = order.get("id"), order.get("externalId")
    if isinstance(som_order_id, str) and som_order_id:
        found = ServiceOrder.objects.filter(som_order_id=som_order_id).first()
        if found is not None:
            return found
    if isinstance(external_id, str) and external_id:
        # the event may overtake the 201 that tells COM SOM's id: correlate by COM's own externalId
        return ServiceOrder.objects.filter(external_id=external_id).first()
    return None


def receive_som_event(*, body: bytes, signature: str | None, path_event_type: str) -> tuple[InboundEvent, bool]:
    """Verify and store a SOM event for processing; returns (event, created).

    Raises BadSignature (401) unless signed, recently, by the SOM its service order was sent to (by any
    configured SOM when it names none COM knows), ValidationFailed (400) if it cannot be read.
    """
    try:
        raw = json.loads(body)
    except ValueError:
        raw = None
    service_order = _find_service_order(raw) if isinstance(raw, dict) else None
    endpoints = som_api.endpoints()
    candidates = [endpoints[service_order.som]] if service_order and service_order.som in endpoints \
        else list(endpoints.values())
    som = som_api.verify(body, signature, candidates)
    if raw is None:
        raise ValidationFailed("The event body is not JSON.")
    update = tmf641.parse_event(raw)
    posted_as = update.event_type[:1].lower() + update.event_type[1:]
    if path_event_type and update.event_type and posted_as != path_event_type:
        raise ValidationFailed(f"eventType {update.event_type} posted to the {path_event_type} listener")
    existing = InboundEvent.objects.filter(event_id=update.event_id).first()
    if existing is not None:
        _requeue_if_unapplied(existing)
        return existing, False
    if update.kind == "unknown" or update.event_type in _RECORD_ONLY and service_order is None:
        status = InboundEvent.Status.IGNORED
    elif service_order is None:
        status = InboundEvent.Status.UNMATCHED
    else:
        status = InboundEvent.Status.RECEIVED
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                event_id=update.event_id, event_type=update.event_type or path_event_type, som=som.key,
                service_order=service_order, som_order_ref=update.som_order_id[:80], payload=raw, status=status,
                outcome="" if status == InboundEvent.Status.RECEIVED else status.label,
            )
            if status == InboundEvent.Status.RECEIVED:
                inbound.queue(event)
    except IntegrityError:
        return InboundEvent.objects.get(event_id=update.event_id), False
    return event, True


def _requeue_if_unapplied(event: InboundEvent) -> None:
    """SOM resent an event stored and not applied: queued again, unless a task is queued for it (a backlog)."""
    if (event.status == InboundEvent.Status.RECEIVED and event.processed_at is None
            and (event.enqueued_until is None or event.enqueued_until < timezone.now())):
        with transaction.atomic():
            inbound.queue(event)


# --- applying -----------------------------------------------------------------------------------------

def _advance(obj, target: str) -> str:
    """Move a service order (item) to what SOM reports: moved, same, late (never backwards) or unexpected."""
    current = obj.state
    if target == current:
        return "same"
    if obj.is_terminal:
        return "unexpected" if SOM_STATE_RANK[target] == SOM_STATE_RANK[current] else "late"
    if SOM_STATE_RANK[target] < SOM_STATE_RANK[current]:
        return "late"
    method = getattr(obj, _TRANSITION_FOR[target])
    if not can_proceed(method) and current == SomState.PLANNED and can_proceed(obj.acknowledge):
        obj.acknowledge()  # SOM clearly has it: the 201 was overtaken by this event
    if not can_proceed(method):
        return "unexpected"
    method()
    return "moved"


def _apply_service_order_state(service_order: ServiceOrder, update: tmf641.SomEvent) -> None:
    if not service_order.som_order_id and update.som_order_id:
        service_order.som_order_id = update.som_order_id[:80]
    service_order.last_heard_at = timezone.now()
    if update.state and _advance(service_order, update.state) == "moved" and service_order.is_terminal:
        service_order.completed_at = timezone.now()
    if update.errors:
        service_order.error = {"errorMessage": list(update.errors)}
    save_with_reason(service_order, f"{update.event_type} {update.event_id}")


def furthest_milestone(item: ServiceOrderItem, names) -> str:
    """The furthest milestone an event names for the item, never one before the item's own (an older event,
    delivered late or twice, moves nothing back); the catalog's order decides, else the order SOM listed."""
    sequence = list(item.milestones or ())
    known = [n for n in (item.milestone, *names) if n and n in sequence]
    if known:
        return max(known, key=sequence.index)
    return names[-1] if names else ""


def _apply_item(order: ProductOrder, item: ServiceOrderItem, change: tmf641.ItemUpdate, update, *,
                actor: str) -> str | None:
    """Apply one item line of an event; returns a line for the timeline if anything changed."""
    notes = []
    if change.service_id and not item.service_id:
        item.service_id = change.service_id[:80]
        notes.append(f"service {item.service_id}")
    reached = furthest_milestone(item, change.milestones)
    if reached and reached != item.milestone:
        item.milestone = reached[:40]
        notes.append(f"milestone {reached}")
    before = item.state
    outcome = _advance(item, change.state) if change.state else "same"
    if outcome == "moved":
        notes.append(f"{before} -> {item.state}")
        if item.state in (SomState.FAILED, SomState.REJECTED):
            item.error = change.error or {"errorMessage": list(update.errors)}
    if not notes and outcome != "unexpected":
        return None
    save_with_reason(item, f"SOM: {', '.join(notes) or change.state}")
    if item.superseded_by_id is not None:
        pass  # a row a revised plan replaced: its replacement acts on how it ended
    elif outcome == "moved" and item.state == SomState.CANCELLED and cancellation.is_expected_cancellation(item):
        pass  # COM asked for it
    elif outcome == "moved" and item.state in (SomState.FAILED, SomState.REJECTED):
        failure.handle_failed_service(order, item, actor=actor)
    elif outcome == "moved" and item.state in (SomState.PARTIAL, SomState.CANCELLED):
        failure.handle_unexpected_outcome(order, item, reported=item.state, actor=actor)
    elif outcome == "unexpected":
        failure.handle_unexpected_outcome(order, item, reported=change.state, actor=actor)
        notes.append(f"unexpected {change.state} (is {item.state})")
    elif outcome == "moved" and item.state == SomState.COMPLETED:
        if fallouts.close_overtaken_by_som(order, item, actor=actor, note="SOM has since completed it"):
            notes.append("fallout closed: SOM completed it")
        for product_item in item.product_items.all():
            if product_item.compensation_started_at:
                failure.compensate_item(order, product_item, actor=actor)  # built after the undo began: undo it
    return f"{item.item_ref} {item.service_specification.code}: {', '.join(notes)}"


def items_follow_order(order: ProductOrder, service_order: ServiceOrder, *, actor: str) -> list[str]:
    """SOM ended the service order without saying how its items ended, and reading it back told no more: they
    end as the order did. A ``partial`` order says nothing about which items completed: those stay, and fall
    out if SOM never tells (``reconciliation``)."""
    follows = {SomState.COMPLETED: SomState.COMPLETED, SomState.FAILED: SomState.FAILED,
               SomState.CANCELLED: SomState.CANCELLED, SomState.REJECTED: SomState.REJECTED}
    target = follows.get(service_order.state)
    lines = []
    if target is None:
        return lines
    for item in service_order.items.filter(state__in=LIVE_SOM_STATES).select_related("service_specification"):
        line = _apply_item(order, item, tmf641.ItemUpdate(item_ref=item.item_ref, state=target),
                           tmf641.SomEvent(event_id="", event_type="", kind="serviceOrder"), actor=actor)
        if line:
            lines.append(f"{line} (as the service order)")
    return lines


def _apply_service_order_event(order: ProductOrder, event: InboundEvent, update: tmf641.SomEvent, *,
                               actor: str) -> list[str]:
    service_order = ServiceOrder.objects.select_for_update().get(pk=event.service_order_id)
    _apply_service_order_state(service_order, update)
    # Only the items of this attempt: a late event about an attempt since retried changes nothing.
    items = {i.item_ref: i for i in service_order.items.select_related("service_specification")}
    lines = []
    for change in update.items:
        item = items.get(change.item_ref)
        if item is not None:
            line = _apply_item(order, item, change, update, actor=actor)
            if line:
                lines.append(line)
    if update.event_type == "ServiceOrderInformationRequiredEvent":
        for item in items.values():
            if not item.is_terminal:
                item.error = {"code": "SOM_INFORMATION_REQUIRED", "message": update.description,
                              "errorMessage": list(update.errors)}
                save_with_reason(item, "SOM needs information")
                fallouts.open_service_fallout(order, item, reason_code="SOM_INFORMATION_REQUIRED", actor=actor,
                                              message=f"SOM needs information about "
                                                      f"{item.service_specification.code}: {update.description}")
        lines.append("SOM needs information")
    if service_order.is_terminal and service_order.items.filter(state__in=LIVE_SOM_STATES).exists():
        if update.event_type == tmf641.READ_BACK:
            lines += items_follow_order(order, service_order, actor=actor)  # read back: SOM says no more
        else:
            dispatch.after_commit("read_back_service_order", service_order.pk)
            lines.append("ended without its items: read-back requested")
    return lines


def _apply_cancellation_event(event: InboundEvent, update: tmf641.SomEvent, *, actor: str) -> list[str]:
    """What SOM says of a cancelServiceOrder COM sent: accepted, in progress, done or terminatedWithError."""
    requests = ServiceOrderCancellation.objects.filter(service_order_id=event.service_order_id)
    found = requests.filter(som_cancel_id=update.cancel_id).first() if update.cancel_id else None
    found = found or requests.exclude(state__in=[CancellationState.DONE,
                                                 CancellationState.TERMINATED_WITH_ERROR]).order_by("-created_at").first()
    if found is None or not update.cancel_state:
        return []
    if not found.som_cancel_id and update.cancel_id:
        ServiceOrderCancellation.objects.filter(pk=found.pk).update(som_cancel_id=update.cancel_id[:80])
    state = {"acknowledged": "accepted"}.get(update.cancel_state, update.cancel_state)
    if state in (CancellationState.DONE, CancellationState.TERMINATED_WITH_ERROR, CancellationState.IN_PROGRESS):
        cancellation.cancellation_ended(cancellation_id=found.pk, state=state, errors=update.errors, actor=actor)
        return [f"cancellation {found.pk}: {state}"]
    return []


@transaction.atomic
def apply_som_event(*, inbound_event_id: int) -> str:
    """Apply one stored SOM event to its service order and items; a second run changes nothing."""
    service_order_id = InboundEvent.objects.values_list("service_order_id", flat=True).get(pk=inbound_event_id)
    if service_order_id is None:
        return "not matched to a service order"
    order_id = ServiceOrder.objects.values_list("order_id", flat=True).get(pk=service_order_id)
    order = lock_order(order_id)
    event = InboundEvent.objects.select_for_update().get(pk=inbound_event_id)
    if event.status != InboundEvent.Status.RECEIVED:
        return f"already {event.status}"
    update = tmf641.parse_event(event.payload)
    actor = f"som:{event.som or 'default'}"
    event.attempts += 1
    if update.kind == "serviceOrder" and update.event_type not in _RECORD_ONLY:
        lines = _apply_service_order_event(order, event, update, actor=actor)
    elif update.kind == "cancelServiceOrder":
        lines = _apply_cancellation_event(event, update, actor=actor)
    else:
        lines = []
        ServiceOrder.objects.filter(pk=service_order_id).update(last_heard_at=timezone.now())
    event.status = InboundEvent.Status.PROCESSED
    event.processed_at = timezone.now()
    event.outcome = ("; ".join(lines) or "no change")[:300]
    event.save(update_fields=["status", "processed_at", "outcome", "attempts"])
    if lines:
        record_event(order, OrderEvent.Type.SERVICE_STATE_CHANGED, actor=actor, message="; ".join(lines)[:500],
                     payload={"eventId": update.event_id, "eventType": update.event_type})
        touch(order)
    submit_ready_items(order, actor=actor)
    aggregation.refresh_states(order, actor=actor)
    return event.outcome
