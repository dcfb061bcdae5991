"""An agent's decisions on held orders: release (the order goes on), reject, check again, ask for information.

Fallout (work that stopped) is repaired in ``repairs``. Every command takes the acting user and a reason,
writes an event, and refuses with a clear message what the order's state does not allow.
"""
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from comapp.errors import NotAllowed, ValidationFailed
from comapp.tmf import iso
from orders import selectors
from orders.models import CheckRun, OrderEvent, OrderState, ProductOrder

from . import cancellation, checks
from .common import actor_of, lock_order, record_event, save_with_reason, touch
from .notifications import notify_order_event
from .submission import begin_fulfilment


def _held_by_a_check(order: ProductOrder) -> None:
    if order.state != OrderState.HELD or order.state_reason_code == "FALLOUT" or \
            order.fallouts.filter(resolved_at__isnull=True).exists():
        raise NotAllowed(f"Order {order.pk} is {order.state} without a check hold to release")


@transaction.atomic
def release_hold(*, order: ProductOrder, user, reason: str) -> ProductOrder:
    """Release an order held by a business check: fulfilment starts (or waits for its start date)."""
    order = lock_order(order.pk)
    _held_by_a_check(order)
    if order.state_reason_code == "PRODUCT_IN_FLIGHT":
        products = [i.product_id for i in order.items.all() if i.product_id]
        busy = selectors.orders_changing_products(products, exclude_id=order.pk)
        if busy.exists():
            others = ", ".join(sorted({i.order_id for i in busy}))
            raise NotAllowed(f"Order {order.pk} waits for {others} to finish changing the same product; it is "
                             "checked again automatically when that order ends")
    record_event(order, OrderEvent.Type.HOLD_RELEASED, actor=actor_of(user), message=reason or "released",
                 payload={"reasonCode": order.state_reason_code})
    if order.requested_start_date and timezone.now() < order.requested_start_date:
        checks.wait_for_start(order, actor=actor_of(user))
        return order
    begin_fulfilment(order, actor=actor_of(user))
    return order


# Why an agent rejects a held order: the code the order (and the channel's event) carries.
REJECTION_REASONS = {
    "CREDIT_REFUSED": "the customer's credit was refused",
    "FRAUD_CONFIRMED": "fraud confirmed",
    "DUPLICATE_ORDER": "a duplicate of another order",
    "CUSTOMER_UNREACHABLE": "the customer could not be reached",
    "CUSTOMER_REQUEST": "the customer asked not to go on",
    "REJECTED_BY_AGENT": "another reason (say which)",
}


@transaction.atomic
def reject_held(*, order: ProductOrder, user, reason: str, reason_code: str = "REJECTED_BY_AGENT") -> ProductOrder:
    """Reject an order held by a business check, with a reason code (``REJECTION_REASONS``); the channel is told.

    NotAllowed unless it is held before fulfilment, or while a fallout is open on it; ValidationFailed for an
    unknown reason code.
    """
    if reason_code not in REJECTION_REASONS:
        raise ValidationFailed(f"Unknown rejection reason {reason_code!r}: one of {', '.join(REJECTION_REASONS)}")
    order = lock_order(order.pk)
    if order.state != OrderState.HELD or order.service_items.exists():
        raise NotAllowed(f"Order {order.pk} is not held before fulfilment; it cannot be rejected")
    if order.fallouts.filter(resolved_at__isnull=True).exists():
        # the fallout's own repair decides (giving it up rejects the order): rejecting around it would leave
        # an open fallout on a rejected order
        raise NotAllowed(f"Order {order.pk} is held by a fallout: repair the fallout, or give it up (that rejects "
                         "the order)")
    order.reject()
    for item in order.items.all():
        item.reject()
        save_with_reason(item, "rejected by an agent")
    order.state_reason_code = reason_code
    order.state_reason = (reason or REJECTION_REASONS[reason_code])[:500]
    touch(order, reason="rejected by an agent")
    record_event(order, OrderEvent.Type.REJECTED, actor=actor_of(user), message=order.state_reason,
                 payload={"reasonCode": reason_code})
    cancellation.overtake_open_mutations(order, reason="the order was rejected before the request was decided",
                                         actor=actor_of(user))
    notify_order_event(order, "ProductOrderStateChangeEvent")
    return order


@transaction.atomic
def request_information(*, order: ProductOrder, user, reason: str) -> ProductOrder:
    """Ask the channel for what a held order lacks: a note says what, and the channel receives TMF622's
    ``ProductOrderInformationRequiredEvent``. NotAllowed unless the order is held; ValidationFailed without
    a question or past the note limit."""
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed("Say what information is required")
    order = lock_order(order.pk)
    if order.state != OrderState.HELD:
        raise NotAllowed(f"Order {order.pk} is {order.state}: information is asked for only while it is held")
    if len(order.notes) >= settings.COM_MAX_NOTES_PER_ORDER:
        raise ValidationFailed(f"Order {order.pk} has {len(order.notes)} notes, the most allowed")
    actor = actor_of(user)
    order.notes = [*order.notes, {"id": str(len(order.notes) + 1), "author": actor, "by": actor,
                                  "date": iso(timezone.now()),
                                  "text": f"Information required: {text}"}]
    touch(order, reason="information requested")
    record_event(order, OrderEvent.Type.INFORMATION_REQUESTED, actor=actor, message=text,
                 payload={"heldFor": order.state_reason_code})
    notify_order_event(order, "ProductOrderInformationRequiredEvent", fields=["note"])
    return order


def recheck_held(*, order: ProductOrder, user, reason: str = "") -> str:
    """Run the checks of a held order again (after the customer's credit was raised, say)."""
    return checks.rerun_order_checks(order_id=order.pk, trigger=CheckRun.Trigger.AGENT_RETRY, actor=actor_of(user))
