"""An agent's repairs of fallout: retry what stopped (one fallout, or every open one of a root cause), go on
without an optional service, or give up on the items it holds.

What "retry" means depends on where the work stopped (``Fallout.stage``): send a failed service again (a
new service order), resend an undeliverable one (the same request, so SOM never builds it twice), keep
waiting on a silent SOM (read it back, restart the silence clock), apply an event again, run the checks
again, write the inventory again, or restart an order the watchdog found stuck. One repair resolves a
fallout for every product item it holds. A repair the state does not allow raises NotAllowed with a
message for the agent, and changes nothing. (Correcting data, cancelling the item and completing by hand
are mutations: ``mutations.request_mutation``.)
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from comapp.errors import ComError, NotAllowed
from orders import selectors
from orders.models import (
    LIVE_SOM_STATES,
    CheckRun,
    Fallout,
    FalloutCategory,
    FalloutStage,
    InboundEvent,
    ItemState,
    OrderEvent,
    OrderState,
    OutboxMessage,
    ServiceOrder,
    SomState,
)

from . import aggregation, checks, dispatch, failure, fallouts, holds, inbound, outbox
from .common import actor_of, is_transient_db_error, lock_order, record_event, save_with_reason, touch
from .submission import begin_fulfilment, service_order_accepted, service_order_refused, submit_ready_items

_REPLANNABLE = (SomState.FAILED, SomState.REJECTED, SomState.PARTIAL, SomState.CANCELLED)


def _open(fallout_id: int) -> Fallout:
    fallout = Fallout.objects.select_related("service_order_item__service_specification", "order").get(pk=fallout_id)
    if fallout.resolved_at is not None:
        raise NotAllowed(f"Fallout {fallout_id} was already resolved ({fallout.resolution})")
    return fallout


def _guarded(what: str, work) -> None:
    """Run a repair step; an exception that is not the agent's to fix becomes a clear refusal (rolled back)."""
    try:
        with transaction.atomic():
            work()
    except ComError:
        raise
    except Exception as exc:
        if is_transient_db_error(exc):
            raise
        raise NotAllowed(f"{what} failed again: {type(exc).__name__}: {exc}") from exc


def _retry_service(fallout: Fallout, *, actor: str) -> str:
    service = fallout.service_order_item
    order = fallout.order
    if service.superseded_by_id is not None:
        # a correction replaced the failed row in a later plan version: what goes now is its replacement
        replacement = service.replacements.filter(superseded_by__isnull=True).first()
        submit_ready_items(order, actor=actor)
        if replacement is None:
            return f"{service.item_ref} is no longer in the plan: nothing to send"
        return f"sent as corrected: {replacement.item_ref} replaces {service.item_ref}"
    if fallout.reason_code == "SOM_UNREACHABLE" and service.state == SomState.PLANNED and service.service_order_id:
        if service.service_order.state != SomState.PLANNED:
            # its service order was since rejected (another of its services given up): resending it would have
            # SOM build what was given up, so this service goes alone in a new service order
            previous = service.service_order.external_id
            service.service_order, service.attempts = None, max(0, service.attempts - 1)
            save_with_reason(service, f"{previous} was given up: sent anew")
            submit_ready_items(order, actor=actor)
            return f"sent in a new service order ({previous} no longer goes: some of its services were given up)"
        message = OutboxMessage.objects.get(service_order_id=service.service_order_id)
        if message.status == OutboxMessage.Status.DEAD:
            outbox.resend(message)
            ServiceOrder.objects.filter(pk=service.service_order_id).update(error={})
        return f"resending {message.dedup_key} (same request: SOM recognises it if it has it)"
    if service.state in LIVE_SOM_STATES:
        if fallout.reason_code in ("SOM_SILENT", "SOM_INFORMATION_REQUIRED", "UNEXPECTED_SOM_STATE"):
            ServiceOrder.objects.filter(pk=service.service_order_id).update(last_heard_at=timezone.now())
            if service.service_order_id:
                dispatch.after_commit("read_back_service_order", service.service_order_id)
            return "waiting on SOM again (read back now; the silence clock restarts)"
        raise NotAllowed(f"{service.service_specification.code} is still {service.state} at SOM: there is "
                         "nothing to send again")
    if service.state == SomState.COMPLETED and fallout.reason_code in fallouts.WAITING_ON_SOM:
        done = "SOM has since completed it: nothing to send"
        fallouts.close_fallout(fallout, resolution="overtakenBySom", user=None, note=done, actor=actor)
        fallouts.release_items(order, fallout, reason=f"{fallout.reason_code}: {done}")
        return done
    if service.state not in _REPLANNABLE:
        raise NotAllowed(f"{service.service_specification.code} is {service.state}: it cannot be sent again")
    blocked = [d for d in service.depends_on.all() if d.state != SomState.COMPLETED and d.state not in LIVE_SOM_STATES]
    if blocked:
        names = ", ".join(f"{d.item_ref} {d.service_specification.code} ({d.state})" for d in blocked)
        raise NotAllowed(f"{service.service_specification.code} relies on {names}: retry that first")
    service.replan()
    service.service_order = None
    save_with_reason(service, f"retry requested by {actor}")
    submit_ready_items(order, actor=actor)
    return "sent again in a new service order"


def _retry_order_stage(fallout: Fallout, *, actor: str) -> str:
    order = fallout.order
    if fallout.stage == FalloutStage.CHECKS:
        fallouts.close_fallout(fallout, resolution="retried", user=None, note="checks run again", actor=actor)
        _guarded("The checks", lambda: checks.evaluate(order, trigger=CheckRun.Trigger.AGENT_RETRY, actor=actor))
        return "checks run again"
    if fallout.stage == FalloutStage.PLANNING:
        if fallout.reason_code == "PLAN_EMPTY":
            raise NotAllowed("The catalog builds nothing for this item at its address: fail the item (or cancel it); "
                             "sending it again would build nothing")
        _guarded("Starting fulfilment", lambda: begin_fulfilment(order, actor=actor))
        return "fulfilment started again"
    if fallout.stage == FalloutStage.EVENT:
        events = InboundEvent.objects.filter(service_order__order=order, status=InboundEvent.Status.FAILED)
        for event in events:
            event.status = InboundEvent.Status.RECEIVED
            event.attempts = 0
            event.save(update_fields=["status", "attempts"])
            inbound.queue(event)
        return f"{events.count()} event(s) to apply again"
    if fallout.stage == FalloutStage.SUBMISSION:
        _record_som_answers_again(order)
        return "SOM's answers recorded again"
    if fallout.stage == FalloutStage.COMPLETION:
        return "inventory written again"
    return _restart_stalled(order, actor=actor)


def _record_som_answers_again(order) -> None:
    """Service orders whose delivery ended (delivered, or dead: refused or undeliverable) but whose answer was
    never recorded (recording it raised): still planned, with no error. Recorded now."""
    for message in OutboxMessage.objects.filter(order=order, kind=OutboxMessage.Kind.SERVICE_ORDER,
                                                status__in=[OutboxMessage.Status.DELIVERED, OutboxMessage.Status.DEAD],
                                                service_order__state=SomState.PLANNED).select_related("service_order"):
        if message.status == OutboxMessage.Status.DELIVERED:
            _guarded("Recording SOM's answer", lambda m=message: service_order_accepted(
                service_order_id=m.service_order_id, response=m.response_body or {}))
        elif not message.service_order.error:  # an undeliverable one already recorded keeps its error
            refused = message.response_status is not None and 400 <= message.response_status < 500 \
                and message.response_status not in (408, 429)
            error = {"code": "SOM_REFUSED" if refused else "SOM_UNREACHABLE", "status": message.response_status,
                     "attempts": message.attempts, "detail": message.response_excerpt or message.last_error}
            _guarded("Recording SOM's answer", lambda m=message, e=error: service_order_refused(
                service_order_id=m.service_order_id, error=e))


def _restart_stalled(order, *, actor: str) -> str:
    """The watchdog found nothing in flight: look again at everything that could be (a kick, audited)."""
    _record_som_answers_again(order)
    for event in InboundEvent.objects.filter(service_order__order=order, status=InboundEvent.Status.RECEIVED):
        inbound.queue(event)
    for message in OutboxMessage.objects.filter(order=order, status=OutboxMessage.Status.PENDING):
        dispatch.after_commit("deliver_outbox_message", message.pk)
    for service_order in order.service_orders.exclude(state=SomState.PLANNED):
        if not service_order.is_terminal or service_order.items.filter(state__in=LIVE_SOM_STATES).exists():
            dispatch.after_commit("read_back_service_order", service_order.pk)
    submit_ready_items(order, actor=actor)
    return "restarted: events, messages and SOM read-backs queued again"


@transaction.atomic
def retry_fallout(*, fallout: Fallout, user, reason: str = "") -> str:
    """Try again what stopped, for every item the fallout holds; returns what was done."""
    actor = actor_of(user)
    order = lock_order(fallout.order_id)
    fallout = _open(fallout.pk)
    if fallout.service_order_item_id:
        done = _retry_service(fallout, actor=actor)
    else:
        done = _retry_order_stage(fallout, actor=actor)
    if fallout.resolved_at is None:
        fallouts.close_fallout(fallout, resolution="retried", user=user, note=reason or done, actor=actor)
        if fallout.stage != FalloutStage.CHECKS:
            fallouts.release_items(order, fallout, reason=f"fallout retried: {done}")
    else:
        Fallout.objects.filter(pk=fallout.pk).update(resolved_by=user, resolution_note=(reason or done)[:500])
    touch(order, reason=f"fallout {fallout.pk} retried")
    if fallout.stage == FalloutStage.COMPLETION:
        before = Fallout.objects.filter(order=order, resolved_at__isnull=True).count()
        aggregation.refresh_states(order, actor=actor)
        if Fallout.objects.filter(order=order, resolved_at__isnull=True).count() > before:
            raise NotAllowed("Inventory still refuses this item: "
                             + Fallout.objects.filter(order=order, resolved_at__isnull=True).last().message)
    else:
        aggregation.refresh_states(order, actor=actor)
    return done


@transaction.atomic
def fail_fallout(*, fallout: Fallout, user, reason: str = "") -> str:
    """Give up on the items the fallout holds: undo what was built for them, then they fail.

    The order finishes as its other items allow. Refused while a service is still being built at SOM.
    """
    actor = actor_of(user)
    order = lock_order(fallout.order_id)
    fallout = _open(fallout.pk)
    if fallout.stage == FalloutStage.CHECKS and order.state == OrderState.HELD and not order.service_items.exists():
        fallouts.close_fallout(fallout, resolution="failed", user=user, note=reason, actor=actor)
        # a held order that never started is rejected, not failed
        holds.reject_held(order=order, user=user, reason=reason or "its checks could not be run")
        return "order rejected"
    items = list(fallout.items.all())
    for item in items:
        live = [s for s in item.service_items.filter(superseded_by__isnull=True, compensates__isnull=True)
                if s.state in LIVE_SOM_STATES and not (s.state == SomState.PLANNED and (
                    s.service_order_id is None or s.service_order.state == SomState.PLANNED))]
        if live:
            names = ", ".join(f"{s.item_ref} {s.service_specification.code} ({s.state})" for s in live)
            raise NotAllowed(f"Item {item.item_id} still has services at SOM ({names}): they must finish or be "
                             "cancelled before the item can be failed")
    fallouts.close_fallout(fallout, resolution="failed", user=user, note=reason, actor=actor)
    service = fallout.service_order_item
    if service is not None and service.state == SomState.PLANNED:
        service.cancel()  # never reached SOM (undeliverable): nothing to undo there
        save_with_reason(service, f"given up by {actor}")
        if service.service_order_id and service.service_order.state == SomState.PLANNED:
            undelivered = ServiceOrder.objects.select_for_update().get(pk=service.service_order_id)
            undelivered.reject()
            save_with_reason(undelivered, f"given up by {actor}")
    for item in items:
        if item.state in (ItemState.HELD, ItemState.IN_PROGRESS, ItemState.PENDING):
            item.state_reason = (reason or "failed by an agent")[:500]
            save_with_reason(item, "failed by an agent")
            failure.compensate_item(order, item, actor=actor)
    if service is not None:
        failure.cancel_dependents(order, service, actor=actor)
    record_event(order, OrderEvent.Type.COMPENSATION_STARTED, actor=actor,
                 message=f"Agent gave up on item(s) {', '.join(i.item_id for i in items)}: undoing what was built")
    touch(order, reason=f"fallout {fallout.pk} failed")
    submit_ready_items(order, actor=actor)
    aggregation.refresh_states(order, actor=actor)
    return "items failing (what was built is being undone)"


# How many fallouts one group repair works on (each is its own command): a bigger group takes several clicks.
GROUP_REPAIR_LIMIT = 100
# Classes whose retry is safe without looking at each fallout: sending again what stopped. A data fallout needs
# its correction first and a configuration one a catalog fix: sent again unchanged, they fail the same way.
GROUP_SAFE = frozenset({FalloutCategory.TRANSIENT, FalloutCategory.RESOURCE, FalloutCategory.INTERNAL})


def _refuse_unless_group_safe(categories, what: str) -> None:
    unsafe = sorted({c for c in categories if c not in GROUP_SAFE})
    if unsafe:
        names = " and ".join(FalloutCategory(c).label.lower() for c in unsafe)
        raise NotAllowed(f"{what} is {names}: such a fallout needs its own correction or catalog fix before it "
                         "is sent again; retry it from its own page, one by one")


@transaction.atomic
def retry_fallout_in_bulk(*, fallout: Fallout, user, reason: str = "") -> str:
    """``retry_fallout`` for a fallout selected with others (a bulk action): NotAllowed unless its class is one
    a retry without a look is safe for (``GROUP_SAFE``)."""
    _refuse_unless_group_safe([fallout.category], "Its class")
    return retry_fallout(fallout=fallout, user=user, reason=reason)


def retry_fallout_group(*, root_cause: str, user, reason: str = "") -> list[tuple[int, str, bool]]:
    """Retry every open fallout of a root cause, each on its own (own transaction, own event, own outcome).

    Returns (fallout id, what was done or why it was refused, done) for each, at most GROUP_REPAIR_LIMIT.
    NotAllowed, and nothing retried, when any of them is of a class that is not ``GROUP_SAFE``.
    """
    outcomes = []
    group = list(selectors.open_fallouts_of_root_cause(root_cause)[:GROUP_REPAIR_LIMIT])
    _refuse_unless_group_safe([f.category for f in group], f"Root cause {root_cause}")
    for fallout in group:
        try:
            outcomes.append((fallout.pk, retry_fallout(fallout=fallout, user=user, reason=reason), True))
        except ComError as error:
            outcomes.append((fallout.pk, error.message, False))
    return outcomes


@transaction.atomic
def skip_optional_service(*, fallout: Fallout, user, reason: str = "") -> str:
    """Go on without the optional service a fallout is about: it is given up (``failure.give_up``), its items
    resume and may complete without it (the order ends partial).

    NotAllowed for an order-level fallout, a mandatory service, or one SOM is still working on.
    """
    actor = actor_of(user)
    order = lock_order(fallout.order_id)
    fallout = _open(fallout.pk)
    service = fallout.service_order_item
    if service is None:
        raise NotAllowed(f"Fallout {fallout.pk} is about the order as a whole, not one service: nothing to skip")
    code = service.service_specification.code
    if service.mandatory:
        raise NotAllowed(f"{code} is mandatory: the product cannot go without it (cancel the item, or give it up)")
    undelivered = service.state == SomState.PLANNED and (
        service.service_order_id is None or service.service_order.state == SomState.PLANNED)
    if service.state in LIVE_SOM_STATES and not undelivered:
        raise NotAllowed(f"{code} is still {service.state} at SOM: wait for it to end, or cancel the item")
    fallouts.close_fallout(fallout, resolution="skipped", user=user, note=reason or f"{code} skipped", actor=actor)
    if undelivered:
        service.cancel()  # never reached SOM: nothing to undo there
        save_with_reason(service, f"skipped by {actor}")
        if service.service_order_id and service.service_order.state == SomState.PLANNED:
            never_sent = ServiceOrder.objects.select_for_update().get(pk=service.service_order_id)
            never_sent.reject()
            save_with_reason(never_sent, f"skipped by {actor}")
    failure.give_up(order, service, actor=actor, reason=reason or f"{code} skipped by {actor}")
    fallouts.release_items(order, fallout, reason=f"{code} skipped")
    touch(order, reason=f"fallout {fallout.pk} skipped")
    submit_ready_items(order, actor=actor)
    aggregation.refresh_states(order, actor=actor)
    return f"going on without {code} (optional)"
