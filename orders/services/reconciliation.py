"""When SOM goes quiet: ask it, and after too long, hand the work to an agent.

A service order SOM has accepted but not spoken of for ``COM_SOM_POLL_AFTER_SECONDS`` is read back with
TMF641 ``GET serviceOrder/{id}``; what SOM answers is applied like an event (keyed by its content, so
the same answer twice changes nothing). Still no progress after ``COM_SOM_SILENCE_FALLOUT_SECONDS``: its
unfinished items go to the fallout queue (SOM_SILENT).
"""
import hashlib
import json
import logging
from datetime import timedelta

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.models import InboundEvent, ServiceOrder, SomState

from . import fulfilment
from .common import lock_order

log = logging.getLogger(__name__)


def silent_service_orders():
    cutoff = timezone.now() - timedelta(seconds=settings.COM_SOM_POLL_AFTER_SECONDS)
    live = [SomState.ACKNOWLEDGED, SomState.IN_PROGRESS, SomState.PENDING, SomState.HELD]
    return ServiceOrder.objects.filter(state__in=live, last_heard_at__lt=cutoff).exclude(som_order_id="")


def _snapshot_key(service_order: ServiceOrder, snapshot: dict) -> str:
    states = [snapshot.get("state")] + sorted(
        f"{i.get('id')}={i.get('state')}" for i in snapshot.get("serviceOrderItem") or [] if isinstance(i, dict))
    return f"poll:{service_order.pk}:" + hashlib.sha256(json.dumps(states).encode()).hexdigest()[:24]


def poll_service_order(*, service_order_id: str) -> str:
    """Read one quiet service order back from SOM and apply what changed; fallout if silent too long."""
    service_order = ServiceOrder.objects.get(pk=service_order_id)
    if service_order.is_terminal or service_order.state == SomState.PLANNED:
        return "nothing to do"
    url = f"{settings.COM_SOM_ENDPOINTS[service_order.som].rstrip('/')}/serviceOrder/{service_order.som_order_id}"
    outcome = "unreachable"
    try:
        response = requests.get(url, timeout=settings.COM_HTTP_TIMEOUT, headers={"Accept": "application/json"})
        outcome = f"HTTP {response.status_code}"
        if response.status_code == 200 and isinstance(response.json(), dict):
            snapshot = response.json()
            key = _snapshot_key(service_order, snapshot)
            try:
                with transaction.atomic():
                    event = InboundEvent.objects.create(
                        event_id=key, source="som-poll", event_type="ServiceOrderPolled", service_order=service_order,
                        payload={"eventId": key, "eventType": "ServiceOrderPolled",
                                 "event": {"serviceOrder": snapshot}})
                outcome = fulfilment.apply_som_event(inbound_event_id=event.pk)
            except IntegrityError:
                outcome = "no change since the last poll"
    except (requests.RequestException, ValueError) as exc:
        log.warning("polling %s failed: %s", service_order.external_id, exc)
    _fallout_if_silent_too_long(service_order_id)
    return outcome


@transaction.atomic
def _fallout_if_silent_too_long(service_order_id: str) -> None:
    service_order = ServiceOrder.objects.get(pk=service_order_id)
    order = lock_order(service_order.order_id)
    service_order = ServiceOrder.objects.select_for_update().get(pk=service_order_id)
    limit = timezone.now() - timedelta(seconds=settings.COM_SOM_SILENCE_FALLOUT_SECONDS)
    if service_order.is_terminal or not service_order.last_heard_at or service_order.last_heard_at >= limit:
        return
    for item in service_order.items.exclude(state__in=[SomState.COMPLETED, SomState.FAILED, SomState.CANCELLED,
                                                       SomState.REJECTED]):
        if item.fallouts.filter(reason_code="SOM_SILENT").exists():
            continue
        item.error = {"code": "SOM_SILENT", "lastHeard": service_order.last_heard_at.isoformat()}
        item.save(update_fields=["error"])
        fulfilment.open_fallout(order, item, reason_code="SOM_SILENT",
                                message=f"SOM has said nothing of {service_order.external_id} since "
                                        f"{service_order.last_heard_at:%Y-%m-%d %H:%M} UTC", actor="system")
    from . import aggregation

    aggregation.refresh_states(order, actor="system")
