"""When SOM is quiet, or finished without saying how: read the service order back, and after too long, a person.

A service order SOM accepted but has not spoken of for ``COM_SOM_POLL_AFTER_SECONDS``, and one SOM ended
while some of its items never got a final state from it, is read back with TMF641 ``GET serviceOrder/{id}``.
The answer is stored and applied like an event, keyed by its content, so the same answer twice changes
nothing. No progress after ``COM_SOM_SILENCE_FALLOUT_SECONDS`` (an unfinished service order: no event and no
read-back that changed anything) or ``COM_SOM_READBACK_FALLOUT_SECONDS`` (a finished one with unexplained
items): those items go to fallout, in front of a person. An answer that repeats the same state is not progress:
a SOM that accepts an order and never moves it must not keep it waiting for ever.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.integrations import som as som_api
from orders.integrations import tmf641
from orders.models import LIVE_SOM_STATES, FalloutStage, InboundEvent, OrderEvent, ServiceOrder, SomState

from . import aggregation, fallouts, som_events
from .common import lock_order, record_event, save_with_reason, touch
from .submission import submit_ready_items

log = logging.getLogger(__name__)
# read_back's answer when SOM could not be read and the caller should ask again later (its task retries).
TRY_AGAIN = "SOM unavailable: try again"


def read_back(*, service_order_id: str, last_try: bool = True) -> str:
    """Read one service order back from SOM and apply what changed; fallout if it has said nothing too long.

    A service order SOM ended without saying how its items ended, and that SOM cannot be read back: the
    items follow the order-level state only on the ``last_try``; before, ``TRY_AGAIN`` is answered and
    nothing changes (a SOM down for a minute must not turn "completed, items not said" into a guess).
    """
    service_order = ServiceOrder.objects.get(pk=service_order_id)
    if service_order.state == SomState.PLANNED or not service_order.som_order_id:
        return "not at SOM yet"
    if service_order.is_terminal and not service_order.items.filter(state__in=LIVE_SOM_STATES).exists():
        outcome = "nothing to learn"
    else:
        outcome = _read_and_apply(service_order, last_try=last_try)
        if outcome == TRY_AGAIN:
            return outcome
    _fallout_if_silent_too_long(service_order_id)
    return outcome


def _read_and_apply(service_order: ServiceOrder, *, last_try: bool) -> str:
    try:
        snapshot = som_api.get_service_order(service_order.som, service_order.som_order_id)
    except som_api.SomUnavailable as exc:
        log.warning("reading back %s failed: %s", service_order.external_id, exc)
        if service_order.is_terminal and service_order.state != SomState.PARTIAL:
            if not last_try:
                return TRY_AGAIN
            return _follow_order(service_order.pk, why=f"SOM could not be read ({exc})")
        return f"SOM unavailable: {exc}"
    if snapshot is None:
        return "SOM does not know it"
    try:
        update, payload = tmf641.read_back(service_order.pk, snapshot)
    except Exception as exc:  # noqa: BLE001 - what SOM answered cannot be read: say so, the silence clock runs
        return f"unreadable answer: {exc}"
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                event_id=update.event_id, source="som-poll", som=service_order.som, event_type=tmf641.READ_BACK,
                service_order=service_order, som_order_ref=service_order.som_order_id, payload=payload)
    except IntegrityError:
        return "no change since the last read-back"
    return som_events.apply_som_event(inbound_event_id=event.pk)


@transaction.atomic
def _follow_order(service_order_id: str, *, why: str) -> str:
    """SOM ended the service order (completed, failed, cancelled) and cannot be asked more: its items follow."""
    service_order = ServiceOrder.objects.get(pk=service_order_id)
    order = lock_order(service_order.order_id)
    service_order = ServiceOrder.objects.select_for_update().get(pk=service_order_id)
    lines = som_events.items_follow_order(order, service_order, actor=f"som:{service_order.som}")
    if lines:
        record_event(order, OrderEvent.Type.SERVICE_STATE_CHANGED, actor=f"som:{service_order.som}",
                     message=f"{why}: " + "; ".join(lines)[:400])
        touch(order)
    submit_ready_items(order, actor="system")
    aggregation.refresh_states(order, actor="system")
    return "; ".join(lines) or "no change"


@transaction.atomic
def _fallout_if_silent_too_long(service_order_id: str) -> None:
    service_order = ServiceOrder.objects.get(pk=service_order_id)
    order = lock_order(service_order.order_id)
    service_order = ServiceOrder.objects.select_for_update().get(pk=service_order_id)
    heard = service_order.last_heard_at or service_order.created_at
    if service_order.is_terminal:
        limit, why = settings.COM_SOM_READBACK_FALLOUT_SECONDS, "ended it without saying how this service ended"
    else:
        limit, why = settings.COM_SOM_SILENCE_FALLOUT_SECONDS, "has said nothing of it"
    if heard >= timezone.now() - timedelta(seconds=limit):
        return
    opened = False
    for item in service_order.items.filter(state__in=LIVE_SOM_STATES).select_related("service_specification"):
        if item.fallouts.filter(resolved_at__isnull=True).exists():
            continue
        item.error = {"code": "SOM_SILENT", "lastHeard": heard.isoformat(), "serviceOrder": service_order.external_id}
        save_with_reason(item, "SOM silent")
        fallouts.open_service_fallout(order, item, reason_code="SOM_SILENT", actor="system",
                                      stage=FalloutStage.FULFILMENT,
                                      message=f"SOM {why} ({service_order.external_id}) since "
                                              f"{heard:%Y-%m-%d %H:%M} UTC")
        opened = True
    if opened:
        aggregation.refresh_states(order, actor="system")
