"""Celery tasks: an id in, one service call, bounded retries. Idempotent, so acks_late is safe."""
import logging

from celery import shared_task
from django.db import OperationalError

from orders import selectors
from orders.services import checks, fulfilment, outbox, reconciliation

log = logging.getLogger(__name__)
RETRY = dict(autoretry_for=(OperationalError,), retry_backoff=True, retry_backoff_max=60, max_retries=5)


@shared_task(**RETRY)
def run_order_checks(order_id: str) -> str:
    return checks.run_order_checks(order_id=order_id)


@shared_task(**RETRY)
def deliver_outbox_message(message_id: int) -> str:
    return outbox.deliver(message_id)


@shared_task(**RETRY)
def process_som_event(inbound_event_id: int) -> str:
    return fulfilment.apply_som_event(inbound_event_id=inbound_event_id)


@shared_task
def relay_outbox() -> int:
    """Periodic sweep: hand every due, unclaimed outbox message to a delivery task."""
    ids = outbox.relay_due()
    for message_id in ids:
        deliver_outbox_message.delay(message_id)
    return len(ids)


@shared_task
def resume_stalled_orders() -> int:
    """Periodic sweep: orders whose checks task was lost, and deferred orders now due."""
    count = 0
    for order_id in selectors.stalled_orders().values_list("pk", flat=True):
        run_order_checks.delay(order_id)
        count += 1
    for order_id in selectors.due_deferred_orders().values_list("pk", flat=True):
        start_due_order.delay(order_id)
        count += 1
    return count


@shared_task(**RETRY)
def start_due_order(order_id: str) -> str:
    return checks.start_due_order(order_id=order_id)


@shared_task
def poll_silent_service_orders() -> int:
    """Periodic sweep: read back every service order SOM has been quiet about."""
    ids = list(reconciliation.silent_service_orders().values_list("pk", flat=True))
    for service_order_id in ids:
        poll_service_order.delay(service_order_id)
    return len(ids)


@shared_task(**RETRY)
def poll_service_order(service_order_id: str) -> str:
    return reconciliation.poll_service_order(service_order_id=service_order_id)
