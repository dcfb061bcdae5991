"""Helpers every order command uses: row locks, the version counter, the event log, history reasons."""
from django.db import transaction

from orders.models import OrderEvent, ProductOrder

HISTORY_REASON_LENGTH = 100  # django-simple-history's history_change_reason column


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
        order._change_reason = reason[:HISTORY_REASON_LENGTH]  # read by django-simple-history
    order.save()


def record_event(order: ProductOrder, type_: str, *, actor: str, message: str = "", payload: dict | None = None,
                 item=None, mutation=None) -> OrderEvent:
    assert transaction.get_connection().in_atomic_block, "events are written with the change they record"
    return OrderEvent.objects.create(
        order=order, item=item, mutation=mutation, type=type_, actor=actor, message=message[:500],
        payload=payload or {}, order_version=order.version,
    )


def save_with_reason(obj, reason: str, **kwargs) -> None:
    obj._change_reason = reason[:HISTORY_REASON_LENGTH]
    obj.save(**kwargs)


def actor_of(user) -> str:
    """How a person appears in the timeline: ``user:NAME``; ``system`` when no one acted."""
    return f"user:{user.username}" if user is not None else "system"


def is_transient_db_error(exc: BaseException) -> bool:
    """A database that went away or a lock that timed out: the work is retried as it is, not recorded as a bug."""
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError))
