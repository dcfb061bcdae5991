"""Liveness: no order is ever stranded.

The invariant: a non-terminal order is either waiting on something named, with a deadline (its checks, an
outbox message, an inbound event not yet applied, a service order SOM has not finished, a scheduled start, a
read-back of a service order), or it is in front of a person (held by a check with a reason, or by an open
fallout). ``selectors.waiting_on`` says which; the watchdog (``find_stalled`` + ``mark_stalled``, run by beat)
opens a STALLED fallout on any order that is neither, saying what it found.

Poison: an exception while working on an order is recorded (``ProcessingError``: what, where, a traceback
summary). Work a sweep finds again from the database is tried again by it: checks never run and due deferred
starts, decomposition with them (``resume_orders``); stored events not applied, and the inventory and billing
written when one is applied (``sweep_inbound_events``); outbox messages (``relay_outbox``); read-backs
(``read_back_quiet_service_orders``). After ``COM_MAX_PROCESSING_ATTEMPTS`` it stops and an INTERNAL_ERROR
fallout holds the order (an event is failed then, even on an order that has ended). Work no sweep finds again
(recording SOM's answer to a delivery that has ended: ``final``) goes to that fallout at once; a recheck of a
held order that raises leaves it held, in front of a person. A database that went away is not poison: that
work is retried as it is.
"""
from __future__ import annotations

import logging
import traceback as tb
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders import selectors
from orders.models import FalloutStage, OrderEvent, ProcessingError

from . import aggregation, fallouts
from .common import is_transient_db_error, lock_order, record_event, touch

log = logging.getLogger(__name__)


def is_transient(exc: BaseException) -> bool:
    return is_transient_db_error(exc)


def _summary(exc: BaseException) -> str:
    frames = tb.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(frames)[-4000:]


@transaction.atomic
def record_processing_error(*, order_id: str, stage: str, key: str, exc: BaseException, actor: str = "system",
                            final: bool = False):
    """Record an exception raised while working on an order; at the limit, an INTERNAL_ERROR fallout.

    ``final``: nothing will try this work again (the caller says so): the fallout is opened at once.
    Returns the fallout when one is opened (or joined), else None (the work will be tried again).
    """
    log.error("processing error on %s at %s (%s): %s", order_id, stage, key, exc, exc_info=exc)
    order = lock_order(order_id)
    error = f"{type(exc).__name__}: {exc}"[:500]
    ProcessingError.objects.create(order=order, stage=stage, key=key[:120], error=error, traceback=_summary(exc))
    record_event(order, OrderEvent.Type.PROCESSING_ERROR, actor=actor,
                 message=f"{FalloutStage(stage).label} failed: {error}", payload={"stage": stage, "key": key})
    pending = ProcessingError.objects.filter(order=order, stage=stage, key=key[:120], fallout__isnull=True)
    attempts = pending.count()
    if (attempts < settings.COM_MAX_PROCESSING_ATTEMPTS and not final) or order.is_terminal:
        touch(order, reason=f"processing error at {stage}")
        return None
    fallout = fallouts.open_order_fallout(
        order, stage=stage, reason_code="INTERNAL_ERROR", actor=actor,
        message=f"{FalloutStage(stage).label} failed " + ("and will not be tried again" if final and attempts == 1
                                                           else f"{attempts} times") + f": {error}",
        context={"error": error, "key": key, "attempts": attempts, "traceback": _summary(exc)[-1500:]},
    )
    pending.update(fallout=fallout)
    touch(order, reason=f"internal error at {stage}")
    aggregation.refresh_states(order, actor=actor)
    return fallout


# --- the watchdog ----------------------------------------------------------------------------------------

def find_stalled(*, quiet_seconds: int | None = None) -> list[tuple[str, str]]:
    """(order id, what was found) for each non-terminal order waiting on nothing and with no one on it."""
    quiet = quiet_seconds if quiet_seconds is not None else settings.COM_WATCHDOG_QUIET_SECONDS
    stalled = []
    for order in selectors.quiet_live_orders(older_than=timezone.now() - timedelta(seconds=quiet)):
        wait = selectors.waiting_on(order)
        if wait.stalled:
            stalled.append((order.pk, wait.description))
    return stalled


@transaction.atomic
def mark_stalled(*, order_id: str, finding: str) -> bool:
    """Open a STALLED fallout if the order is (still, under its lock) waiting on nothing; True if opened."""
    order = lock_order(order_id)
    wait = selectors.waiting_on(order)
    if not wait.stalled:
        return False
    fallouts.open_order_fallout(order, stage=FalloutStage.WATCHDOG, reason_code="STALLED", actor="system",
                                message=f"Nothing in flight and no one on it: {wait.description}"[:500],
                                context={"finding": wait.description, "state": order.state})
    record_event(order, OrderEvent.Type.STALLED, actor="system", message=wait.description[:500])
    touch(order, reason="stalled")
    aggregation.refresh_states(order, actor="system")
    return True


def event_failed(*, inbound_event_id: int, exc: BaseException) -> None:
    """Applying a stored event raised: count it on the event; at the limit it is failed (never swept again), and
    in fallout unless its order has already ended (nothing left to hold)."""
    from orders.models import InboundEvent

    event = InboundEvent.objects.select_related("service_order").get(pk=inbound_event_id)
    fallout = record_processing_error(order_id=event.service_order.order_id, stage=FalloutStage.EVENT,
                                      key=event.event_id, exc=exc, actor=f"som:{event.som or 'default'}")
    spent = fallout is not None or event.attempts + 1 >= settings.COM_MAX_PROCESSING_ATTEMPTS
    InboundEvent.objects.filter(pk=event.pk, status=InboundEvent.Status.RECEIVED).update(
        attempts=event.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:500],
        **({"status": InboundEvent.Status.FAILED} if spent else {}))


def run_guarded(*, order_id: str | None, stage: str, key: str, work, on_error=None, last_try: bool = True):
    """Run a task's work; a non-transient exception is recorded (poison handling) instead of raised.

    A transient database error is raised for the task's bounded retry, and recorded on its last try.
    """
    try:
        return work()
    except Exception as exc:
        if is_transient(exc) and not last_try:
            raise
        if on_error is not None:
            on_error(exc)
        elif order_id is not None:
            record_processing_error(order_id=order_id, stage=stage, key=key, exc=exc)
        else:
            log.exception("error without an order at %s (%s)", stage, key)
        return f"error recorded: {type(exc).__name__}: {exc}"[:300]
