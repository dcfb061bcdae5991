"""Run the business checks of an order and act on them: reject, hold, defer or start fulfilment."""
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from orders.models import CheckOutcome, OrderCheckResult, OrderEvent, OrderState

from .common import lock_order, record_event, save_with_reason, touch
from .fulfilment import begin_fulfilment
from .notifications import notify_order_event


def configured_checks():
    return [import_string(path)() for path in settings.COM_ORDER_CHECKS]


@transaction.atomic
def run_order_checks(*, order_id: str, actor: str = "system") -> str:
    """Run every check once and move the order on; a second run (a redelivered task) does nothing."""
    order = lock_order(order_id)
    if order.state != OrderState.ACKNOWLEDGED or order.checks_started_at is not None:
        return f"skipped: {order.state}"
    order.checks_started_at = timezone.now()
    results = []
    for check in configured_checks():
        result = check.run(order)
        OrderCheckResult.objects.create(order=order, check_code=check.code, outcome=result.outcome,
                                        reason_code=result.reason_code, message=result.message[:500],
                                        details=result.details)
        record_event(order, OrderEvent.Type.CHECK_RECORDED, actor=actor,
                     message=f"{check.code}: {result.outcome} {result.message}"[:500],
                     payload={"check": check.code, "outcome": result.outcome, "reasonCode": result.reason_code})
        results.append((check.code, result))

    failures = [(code, r) for code, r in results if r.outcome == CheckOutcome.FAIL]
    holds = [(code, r) for code, r in results if r.outcome == CheckOutcome.HOLD]
    if failures:
        order.reject()
        for item in order.items.all():
            item.reject()
            save_with_reason(item, "order rejected")
        order.state_reason_code = failures[0][1].reason_code
        order.state_reason = "; ".join(r.message for _, r in failures)[:500]
        touch(order, reason="rejected by checks")
        record_event(order, OrderEvent.Type.REJECTED, actor=actor, message=order.state_reason,
                     payload={"reasonCodes": [r.reason_code for _, r in failures]})
        notify_order_event(order, "ProductOrderStateChangeEvent")
        return "rejected"
    if holds:
        order.hold()
        order.state_reason_code = holds[0][1].reason_code
        order.state_reason = "; ".join(r.message for _, r in holds)[:500]
        touch(order, reason="held by checks")
        record_event(order, OrderEvent.Type.HELD, actor=actor, message=order.state_reason,
                     payload={"reasonCodes": [r.reason_code for _, r in holds]})
        notify_order_event(order, "ProductOrderStateChangeEvent")
        notify_order_event(order, "ProductOrderInformationRequiredEvent")
        return "held"
    if order.requested_start_date and order.requested_start_date > timezone.now():
        order.defer()
        for item in order.items.all():
            item.defer()
            save_with_reason(item, "waiting for the requested start date")
        touch(order, reason="scheduled")
        record_event(order, OrderEvent.Type.STATE_CHANGED, actor=actor,
                     message=f"Waiting for the requested start date {order.requested_start_date.isoformat()}")
        notify_order_event(order, "ProductOrderStateChangeEvent")
        return "deferred"
    touch(order, reason="checks passed")
    begin_fulfilment(order, actor=actor)
    return "started"


@transaction.atomic
def start_due_order(*, order_id: str) -> str:
    """A deferred order whose requested start date has come: fulfilment starts."""
    order = lock_order(order_id)
    if order.state != OrderState.PENDING or (order.requested_start_date and
                                             order.requested_start_date > timezone.now()):
        return "not due"
    begin_fulfilment(order, actor="system")
    return "started"
