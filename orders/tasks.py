"""Celery tasks: an id in, one service call. Idempotent, so late acks are safe; never a silent loop.

A task's work runs through ``liveness.run_guarded``: a database that went away is retried (bounded, with
backoff); any other exception is recorded on the order, the work is tried again by its sweep (where one finds
it: see ``services.liveness``), and after ``COM_MAX_PROCESSING_ATTEMPTS`` it stops in an INTERNAL_ERROR
fallout. The periodic sweeps (beat) find work whose task was lost: the no-server default broker delivers at
most once, and this is what makes that safe. A sweep never queues work that is already queued (each marks
what it queued for ``COM_TASK_LEASE_SECONDS``).
"""
import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from comapp.errors import NotAllowed
from orders import selectors
from orders.integrations.som import SomUnavailable
from orders.models import FalloutStage, InboundEvent, OutboxMessage, ProductOrder, ServiceOrder
from orders.services import checks, delivery, dispatch, inbound, liveness, outbox, reconciliation, som_events, som_hub

log = logging.getLogger(__name__)
RETRY = dict(bind=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, retry_backoff_max=60,
             max_retries=5)


def _last_try(task) -> bool:
    return task.request.retries >= task.max_retries


@shared_task(**RETRY)
def run_order_checks(self, order_id: str) -> str:
    return liveness.run_guarded(order_id=order_id, stage=FalloutStage.CHECKS, key="checks", last_try=_last_try(self),
                                work=lambda: checks.run_order_checks(order_id=order_id))


@shared_task(**RETRY)
def recheck_order(self, order_id: str, trigger: str) -> str:
    def work() -> str:
        try:
            return checks.rerun_order_checks(order_id=order_id, trigger=trigger)
        except NotAllowed as refused:  # no longer held (another recheck won the race): nothing to do, not an error
            return f"skipped: {refused.message}"

    return liveness.run_guarded(order_id=order_id, stage=FalloutStage.CHECKS, key="checks", last_try=_last_try(self),
                                work=work)


@shared_task(**RETRY)
def recheck_orders_waiting_for(self, product_ids: list[str]) -> int:
    """A finished order freed these products: check again each order that waited for one of them."""
    ids = list(selectors.orders_held_for_products(product_ids).values_list("pk", flat=True))
    for order_id in ids:
        recheck_order.delay(order_id, "productReleased")
    return len(ids)


@shared_task(**RETRY)
def start_due_order(self, order_id: str) -> str:
    return liveness.run_guarded(order_id=order_id, stage=FalloutStage.PLANNING, key="start",
                                last_try=_last_try(self), work=lambda: checks.start_due_order(order_id=order_id))


@shared_task(**RETRY)
def deliver_outbox_message(self, message_id: int) -> str:
    order_id = OutboxMessage.objects.filter(pk=message_id).values_list("order_id", flat=True).first()
    return liveness.run_guarded(order_id=order_id, stage=FalloutStage.SUBMISSION, key=f"outbox:{message_id}",
                                last_try=_last_try(self), work=lambda: delivery.deliver(message_id))


@shared_task(**RETRY)
def process_som_event(self, inbound_event_id: int) -> str:
    return liveness.run_guarded(
        order_id=None, stage=FalloutStage.EVENT, key=str(inbound_event_id), last_try=_last_try(self),
        work=lambda: som_events.apply_som_event(inbound_event_id=inbound_event_id),
        on_error=lambda exc: liveness.event_failed(inbound_event_id=inbound_event_id, exc=exc),
    )


@shared_task(**RETRY)
def read_back_service_order(self, service_order_id: str) -> str:
    """Read a service order back; SOM unreadable: asked again with backoff, COM_SOM_READBACK_ATTEMPTS in all."""
    order_id = ServiceOrder.objects.filter(pk=service_order_id).values_list("order_id", flat=True).first()
    attempts = max(settings.COM_SOM_READBACK_ATTEMPTS, 1)
    outcome = liveness.run_guarded(
        order_id=order_id, stage=FalloutStage.EVENT, key=f"readback:{service_order_id}", last_try=_last_try(self),
        work=lambda: reconciliation.read_back(service_order_id=service_order_id,
                                              last_try=self.request.retries >= attempts - 1))
    if outcome == reconciliation.TRY_AGAIN:
        raise self.retry(countdown=outbox.backoff_seconds(self.request.retries + 1), max_retries=attempts - 1)
    return outcome


# --- sweeps (beat) -------------------------------------------------------------------------------------
# What a sweep queues again expires if no worker has started it within the lease: by then the sweep queues it
# once more, so under a backlog the copies do not pile up and run one after another (an expired message is
# dropped by the worker without running).

def _requeue(task, *args) -> None:
    task.apply_async(args=args, expires=settings.COM_TASK_LEASE_SECONDS)


@shared_task
def relay_outbox() -> int:
    """Every due, unclaimed outbox message with no delivery task queued gets one."""
    ids = outbox.due()
    for message_id in ids:
        _requeue(deliver_outbox_message, message_id)
    return len(ids)


@shared_task
def sweep_inbound_events() -> int:
    """Stored SOM events whose processing never ran or never finished are applied (bounded by attempts)."""
    ids = list(selectors.unprocessed_events().values_list("pk", flat=True)[:500])
    InboundEvent.objects.filter(pk__in=ids).update(enqueued_until=dispatch.queued_until())
    for event_id in ids:
        _requeue(process_som_event, event_id)
    return len(ids)


@shared_task
def resume_orders() -> int:
    """Orders whose checks task was lost, and deferred orders now due."""
    count = 0
    awaiting = list(selectors.orders_awaiting_checks().values_list("pk", flat=True)[:500])
    ProductOrder.objects.filter(pk__in=awaiting).update(checks_queued_until=dispatch.queued_until())
    for order_id in awaiting:
        _requeue(run_order_checks, order_id)
        count += 1
    due = list(selectors.due_deferred_orders().values_list("pk", flat=True)[:500])
    ProductOrder.objects.filter(pk__in=due).update(start_queued_until=dispatch.queued_until())
    for order_id in due:
        _requeue(start_due_order, order_id)
        count += 1
    return count


@shared_task
def read_back_quiet_service_orders() -> int:
    """Service orders SOM is quiet about, or ended without saying how their items ended, are read back."""
    ids = list(selectors.service_orders_to_read_back().values_list("pk", flat=True)[:500])
    ServiceOrder.objects.filter(pk__in=ids).update(readback_queued_until=dispatch.queued_until())
    for service_order_id in ids:
        _requeue(read_back_service_order, service_order_id)
    return len(ids)


@shared_task
def watchdog() -> int:
    """Orders waiting on nothing and with no one on them get a STALLED fallout."""
    opened = 0
    for order_id, finding in liveness.find_stalled():
        opened += liveness.mark_stalled(order_id=order_id, finding=finding)
    return opened


@shared_task
def ensure_som_subscriptions() -> list[str]:
    """Register COM's listener at each SOM that wants it (``subscribe``); beat runs it until each has it."""
    try:
        return som_hub.ensure_subscriptions()
    except SomUnavailable as exc:
        log.warning("SOM hub registration failed, tried again next minute: %s", exc)
        return []
