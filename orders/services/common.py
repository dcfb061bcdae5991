"""Helpers every order command uses: row locks, the version counter, the event log, history reasons."""
from django.db import transaction

from orders.models import OrderEvent, ProductOrder


def lock_order(order_id: str) -> ProductOrder:
    """Lock the order row for the rest of the transaction.

    Lock order, everywhere: the ProductOrder first, then its items, service orders and service items.
    Every command touching an order's fulfilment takes this lock first, so two workers handling two
    events of the same order run one after the other and see each other's result.
    """
    return ProductOrder.objects.select_for_update().get(pk=order_id)


def touch(order: ProductOrder, *, reason: str = "") -> None:
    """Bump the order's version and save it: every change of an order or its items goes through here."""
    order.version += 1
    if reason:
        order._change_reason = reason  # read by django-simple-history
    order.save()


def record_event(order: ProductOrder, type_: str, *, actor: str, message: str = "", payload: dict | None = None,
                 item=None) -> OrderEvent:
    assert transaction.get_connection().in_atomic_block, "events are written with the change they record"
    return OrderEvent.objects.create(
        order=order, item=item, type=type_, actor=actor, message=message[:500], payload=payload or {},
        order_version=order.version,
    )


def save_with_reason(obj, reason: str, **kwargs) -> None:
    obj._change_reason = reason
    obj.save(**kwargs)
