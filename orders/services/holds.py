"""An agent's decisions on held orders and on fallout: release, reject, retry, fail."""
from django.db import transaction
from django.utils import timezone

from comapp.errors import NotAllowed
from orders.models import Fallout, ItemState, OrderEvent, OrderState, ProductOrder

from . import aggregation
from .common import lock_order, record_event, save_with_reason, touch
from .fulfilment import begin_fulfilment, submit_ready_items
from .notifications import notify_order_event


def _actor(user) -> str:
    return f"user:{user.username}" if user is not None else "system"


@transaction.atomic
def release_hold(*, order: ProductOrder, user, reason: str) -> ProductOrder:
    """Release an order held by a business check: fulfilment starts. Raises NotAllowed unless held."""
    order = lock_order(order.pk)
    if order.state != OrderState.HELD or order.fallouts.filter(resolved_at__isnull=True).exists():
        raise NotAllowed(f"Order {order.pk} is {order.state} without a check hold to release")
    record_event(order, OrderEvent.Type.HOLD_RELEASED, actor=_actor(user), message=reason or "released",
                 payload={"reasonCode": order.state_reason_code})
    order.state_reason_code, order.state_reason = "", ""
    if order.requested_start_date and order.requested_start_date > timezone.now():
        # released early: it waits for its start date like any scheduled order (start_due_order starts it)
        order.resume()
        order.defer()
        for item in order.items.all():
            item.defer()
            save_with_reason(item, "waiting for the requested start date")
        touch(order, reason="released, waiting for the requested start date")
        notify_order_event(order, "ProductOrderStateChangeEvent")
        return order
    begin_fulfilment(order, actor=_actor(user))
    return order


@transaction.atomic
def reject_held(*, order: ProductOrder, user, reason: str) -> ProductOrder:
    """Reject an order held by a business check. Raises NotAllowed unless it is held before fulfilment."""
    order = lock_order(order.pk)
    if order.state != OrderState.HELD or order.service_items.exists():
        raise NotAllowed(f"Order {order.pk} is not held before fulfilment; it cannot be rejected")
    order.reject()
    for item in order.items.all():
        item.reject()
        save_with_reason(item, "rejected by an agent")
    order.state_reason_code, order.state_reason = "REJECTED_BY_AGENT", (reason or "rejected by an agent")[:500]
    touch(order, reason="rejected by an agent")
    record_event(order, OrderEvent.Type.REJECTED, actor=_actor(user), message=order.state_reason)
    notify_order_event(order, "ProductOrderStateChangeEvent")
    return order


def _open_fallout(fallout_id: int) -> Fallout:
    fallout = Fallout.objects.select_related("item", "service_order_item").get(pk=fallout_id)
    if fallout.resolved_at is not None:
        raise NotAllowed(f"Fallout {fallout_id} was already resolved ({fallout.resolution})")
    return fallout


def _close(fallout: Fallout, *, resolution: str, user, reason: str) -> None:
    fallout.resolved_at = timezone.now()
    fallout.resolution = resolution
    fallout.resolved_by = user
    fallout.save()
    record_event(fallout.order, OrderEvent.Type.FALLOUT_RESOLVED, actor=_actor(user), item=fallout.item,
                 message=f"{resolution}: {reason}"[:500], payload={"fallout": fallout.pk})


@transaction.atomic
def retry_fallout(*, fallout: Fallout, user, reason: str = "") -> None:
    """Send the failed service again with a new service order; the item resumes."""
    order = lock_order(fallout.order_id)
    fallout = _open_fallout(fallout.pk)
    service = fallout.service_order_item
    if service is None or not service.is_terminal:
        raise NotAllowed("Only a failed service can be retried")
    service.replan()
    service.service_order = None
    save_with_reason(service, f"retry requested by {_actor(user)}")
    _close(fallout, resolution="retried", user=user, reason=reason)
    item = fallout.item
    if item.state == ItemState.HELD and not item.fallouts.filter(resolved_at__isnull=True).exists():
        item.resume()
        save_with_reason(item, "fallout retried")
    touch(order)
    submit_ready_items(order, actor=_actor(user))
    aggregation.refresh_states(order, actor=_actor(user))


@transaction.atomic
def fail_fallout(*, fallout: Fallout, user, reason: str = "") -> None:
    """Give up on the item: it fails, and the order finishes as its other items allow."""
    order = lock_order(fallout.order_id)
    fallout = _open_fallout(fallout.pk)
    _close(fallout, resolution="failed", user=user, reason=reason)
    item = fallout.item
    if item.state == ItemState.HELD:
        item.fail()
        item.state_reason = (reason or "failed by an agent")[:500]
        save_with_reason(item, "failed by an agent")
    touch(order)
    aggregation.refresh_states(order, actor=_actor(user))
