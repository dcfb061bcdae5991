"""Receive a TMF641 event from SOM: authenticate it, correlate it, store it once, process it later.

The listener answers fast: the work (``fulfilment.apply_som_event``) runs in a Celery task. An event
is stored once by its ``eventId``: a duplicate is acknowledged and changes nothing.
"""
import hmac

from django.conf import settings
from django.db import IntegrityError, transaction

from comapp.errors import ComError, NotFound
from orders.api import tmf641
from orders.models import InboundEvent, ServiceOrder

from .outbox import sign


class BadSignature(ComError):
    status, code, reason = 401, "BAD_SIGNATURE", "The event is not signed by a known SOM"


def verify_signature(body: bytes, header: str | None) -> None:
    """Raises BadSignature unless ``header`` is the HMAC-SHA256 of the body with the SOM's secret."""
    if not header:
        raise BadSignature("X-Signature header missing")
    expected = sign(settings.COM_SOM_EVENT_SECRET, body)
    if not hmac.compare_digest(expected, header.strip()):
        raise BadSignature("X-Signature does not match the body")


def receive_som_event(*, body: bytes, signature: str | None, payload) -> tuple[InboundEvent, bool]:
    """Store a signed SOM event for processing; returns (event, created). NotFound for an unknown order."""
    verify_signature(body, signature)
    update = tmf641.parse_event(payload)
    service_order = None
    if update.som_order_id:
        service_order = ServiceOrder.objects.filter(som_order_id=update.som_order_id).first()
    if service_order is None and update.external_id:
        # the event may overtake the 201 that tells COM SOM's id: correlate by COM's own externalId
        service_order = ServiceOrder.objects.filter(external_id=update.external_id).first()
    if service_order is None:
        raise NotFound(f"No service order {update.som_order_id or update.external_id}")
    existing = InboundEvent.objects.filter(event_id=update.event_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(event_id=update.event_id, event_type=update.event_type,
                                                service_order=service_order, payload=payload)
            from orders.tasks import process_som_event

            transaction.on_commit(lambda: process_som_event.delay(event.pk))
    except IntegrityError:
        return InboundEvent.objects.get(event_id=update.event_id), False
    return event, True
