"""Stored SOM events waiting to be applied: queue them, and match those that overtook SOM's 201."""
from orders.models import InboundEvent, ServiceOrder

from . import dispatch


def queue(event: InboundEvent) -> None:
    """Queue the processing task after commit and mark it queued (the sweep leaves it alone meanwhile)."""
    InboundEvent.objects.filter(pk=event.pk).update(enqueued_until=dispatch.queued_until())
    dispatch.after_commit("process_som_event", event.pk)


def match_waiting_events(service_order: ServiceOrder) -> int:
    """Events that named this service order by SOM's id before COM knew it: attach and queue them."""
    waiting = list(InboundEvent.objects.filter(status=InboundEvent.Status.UNMATCHED,
                                               som_order_ref=service_order.som_order_id))
    for event in waiting:
        event.service_order = service_order
        event.status = InboundEvent.Status.RECEIVED
        event.outcome = ""
        event.save(update_fields=["service_order", "status", "outcome"])
        queue(event)
    return len(waiting)
