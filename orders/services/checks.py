"""Run the business checks of an order and act on them: reject, hold, defer or start fulfilment.

Each evaluation is a ``CheckRun`` with its trigger: at capture (once: a redelivered task finds the run and
does nothing), when an agent asks again, when a product another order was changing is free, after a
mutation. A run on an order that was held re-pins the products it changes (their current version and
characteristics, with the change the channel asked for applied on top), so what it completes against is
what it was validated against.
"""
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from comapp.errors import NotAllowed
from orders.models import CheckOutcome, CheckRun, ItemAction, ItemState, OrderCheckResult, OrderEvent, OrderState

from .common import lock_order, record_event, save_with_reason, touch
from .notifications import notify_order_event
from .submission import begin_fulfilment

RERUN_FROM = {CheckRun.Trigger.AGENT_RETRY: (OrderState.HELD,),
              CheckRun.Trigger.PRODUCT_RELEASED: (OrderState.HELD,),
              CheckRun.Trigger.MUTATION: (OrderState.HELD, OrderState.ACKNOWLEDGED)}


def configured_checks():
    return [import_string(path)() for path in settings.COM_ORDER_CHECKS]


def _repin_products(order) -> None:
    for item in order.items.select_related("product"):
        if item.action in (ItemAction.MODIFY, ItemAction.DELETE) and item.product is not None:
            product = item.product
            item.product_version = product.version
            if item.action == ItemAction.MODIFY:
                item.characteristics = {**product.characteristics, **item.requested_characteristics}
            save_with_reason(item, f"re-pinned to product {product.pk} version {product.version}")


def wait_for_start(order, *, actor: str) -> None:
    """Checks passed but the requested start date is ahead: the order waits (``start_due_order`` starts it)."""
    if order.state == OrderState.HELD:
        order.resume()
    order.defer()
    order.state_reason_code, order.state_reason = "", ""
    for item in order.items.all():
        if item.state == ItemState.HELD:
            item.resume()
        item.defer()
        save_with_reason(item, "waiting for the requested start date")
    touch(order, reason="scheduled")
    record_event(order, OrderEvent.Type.STATE_CHANGED, actor=actor,
                 message=f"Waiting for the requested start date {order.requested_start_date.isoformat()}")
    notify_order_event(order, "ProductOrderStateChangeEvent")


def evaluate(order, *, trigger: str, actor: str) -> str:
    """Run every check on a locked order and act on the outcome; returns rejected, held, deferred or started."""
    sequence = order.check_runs.count() + 1
    checks = configured_checks()
    if trigger != CheckRun.Trigger.CAPTURE:
        _repin_products(order)
    run = CheckRun.objects.create(order=order, sequence=sequence, trigger=trigger, checks=[c.code for c in checks],
                                  actor=actor)
    if order.checks_started_at is None:
        order.checks_started_at = timezone.now()
    results = []
    for check in checks:
        result = check.run(order)
        OrderCheckResult.objects.create(order=order, run=run, check_code=check.code, outcome=result.outcome,
                                        reason_code=result.reason_code, message=result.message[:500],
                                        details=result.details)
        record_event(order, OrderEvent.Type.CHECK_RECORDED, actor=actor,
                     message=f"{check.code}: {result.outcome} {result.message}"[:500],
                     payload={"check": check.code, "outcome": result.outcome, "reasonCode": result.reason_code,
                              "run": sequence})
        results.append(result)
    failures = [r for r in results if r.outcome == CheckOutcome.FAIL]
    holds = [r for r in results if r.outcome == CheckOutcome.HOLD]
    run.outcome = CheckOutcome.FAIL if failures else CheckOutcome.HOLD if holds else CheckOutcome.PASS
    run.save(update_fields=["outcome"])
    if failures:
        order.reject()
        for item in order.items.all():
            item.reject()
            save_with_reason(item, "order rejected")
        order.state_reason_code = failures[0].reason_code
        order.state_reason = "; ".join(r.message for r in failures)[:500]
        touch(order, reason="rejected by checks")
        record_event(order, OrderEvent.Type.REJECTED, actor=actor, message=order.state_reason,
                     payload={"reasonCodes": [r.reason_code for r in failures]})
        notify_order_event(order, "ProductOrderStateChangeEvent")
        return "rejected"
    if holds:
        newly = order.state != OrderState.HELD
        if newly:
            order.hold()
        order.state_reason_code = holds[0].reason_code
        order.state_reason = "; ".join(r.message for r in holds)[:500]
        touch(order, reason="held by checks")
        record_event(order, OrderEvent.Type.HELD, actor=actor, message=order.state_reason,
                     payload={"reasonCodes": [r.reason_code for r in holds]})
        if newly:
            notify_order_event(order, "ProductOrderStateChangeEvent")
        notify_order_event(order, "ProductOrderInformationRequiredEvent")
        return "held"
    if order.requested_start_date and order.requested_start_date > timezone.now():
        wait_for_start(order, actor=actor)
        return "deferred"
    touch(order, reason="checks passed")
    begin_fulfilment(order, actor=actor)
    return "started"


@transaction.atomic
def run_order_checks(*, order_id: str, actor: str = "system") -> str:
    """Run the checks of a captured order once and move it on; a second run (a redelivered task) does nothing."""
    order = lock_order(order_id)
    if order.state != OrderState.ACKNOWLEDGED or order.check_runs.exists():
        return f"skipped: {order.state}"
    return evaluate(order, trigger=CheckRun.Trigger.CAPTURE, actor=actor)


@transaction.atomic
def rerun_order_checks(*, order_id: str, trigger: str, actor: str = "system") -> str:
    """Check a held order again (an agent asked, a product it waits for is free). NotAllowed otherwise."""
    order = lock_order(order_id)
    if order.state not in RERUN_FROM.get(trigger, ()):
        raise NotAllowed(f"Order {order.pk} is {order.state}: its checks cannot be run again now")
    if order.fallouts.filter(resolved_at__isnull=True).exclude(stage="checks").exists():
        raise NotAllowed(f"Order {order.pk} has fallout to resolve first")
    record_event(order, OrderEvent.Type.CHECKS_RERUN, actor=actor, message=f"Checks run again: {trigger}")
    return evaluate(order, trigger=trigger, actor=actor)


@transaction.atomic
def start_due_order(*, order_id: str) -> str:
    """A deferred order whose requested start date has come: fulfilment starts."""
    order = lock_order(order_id)
    if order.state != OrderState.PENDING or (order.requested_start_date and
                                             order.requested_start_date > timezone.now()):
        return "not due"
    begin_fulfilment(order, actor="system")
    return "started"
