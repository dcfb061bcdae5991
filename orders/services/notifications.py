"""TMF622 notifications to channels: each event stored once, one outbox message per listener of the channel.

Written in the transaction of the change they announce; delivered (signed, retried) by the outbox relay.
"""
import uuid

from django.db import transaction
from django.utils import timezone

from comapp.tmf import iso
from orders.integrations.tmf622 import product_order
from orders.models import HubSubscription, Notification, OutboxMessage, ProductOrder

from . import outbox

EVENT_TYPES = {
    "ProductOrderCreateEvent",
    "ProductOrderStateChangeEvent",
    "ProductOrderAttributeValueChangeEvent",
    "ProductOrderInformationRequiredEvent",
}


def notify_order_event(order: ProductOrder, event_type: str, *, fields: list[str] | None = None) -> int:
    """Queue ``event_type`` for every listener of the order's channel; returns how many were queued."""
    assert event_type in EVENT_TYPES, event_type
    subscriptions = [s for s in HubSubscription.objects.filter(channel_id=order.channel_id)
                     if _wants(s.query, event_type)]
    if not subscriptions:
        return 0
    event_id = str(uuid.uuid4())
    now = iso(timezone.now())
    body = {
        "eventId": event_id,
        "eventTime": now,
        "timeOcurred": now,  # TMF622 v4 spelling
        "eventType": event_type,
        "correlationId": order.pk,
        "domain": "productOrdering",
        "event": {"productOrder": product_order(order)},
    }
    if fields:
        body["fieldPath"] = ",".join(fields)
    notification = Notification.objects.create(event_id=event_id, event_type=event_type, order=order, payload=body)
    for subscription in subscriptions:
        outbox.enqueue(
            kind=OutboxMessage.Kind.NOTIFICATION, dedup_key=f"{event_id}:{subscription.pk}",
            url=_listener_url(subscription.callback, event_type), notification=notification, order=order,
            subscription=subscription,
        )
    return len(subscriptions)


def _wants(query: str, event_type: str) -> bool:
    """A hub query ``eventType=A,B`` limits a listener to those events; anything else receives all."""
    query = (query or "").strip()
    if not query.startswith("eventType="):
        return True
    return event_type in {part.strip() for part in query.split("=", 1)[1].split(",")}


def _listener_url(callback: str, event_type: str) -> str:
    """TMF listeners live at ``<callback>/listener/<eventType>``-style paths: the callback is the base."""
    return f"{callback.rstrip('/')}/{event_type[0].lower()}{event_type[1:]}"


def subscribe(*, channel, callback: str, query: str = "") -> HubSubscription:
    """Register a listener for the channel's order events.

    Raises ValidationFailed for a callback COM will not call (``orders.webhooks``), Conflict when the
    channel already has COM_MAX_HUB_SUBSCRIPTIONS listeners.
    """
    from django.conf import settings

    from comapp.errors import Conflict
    from orders.models import Channel
    from orders.webhooks import check_callback_url

    check_callback_url(callback)  # before the lock: it may wait for DNS
    limit = settings.COM_MAX_HUB_SUBSCRIPTIONS
    with transaction.atomic():
        # The channel's row lock serialises concurrent registrations, so the limit holds.
        Channel.objects.select_for_update().filter(pk=channel.pk).first()
        if HubSubscription.objects.filter(channel=channel).count() >= limit:
            raise Conflict(f"Channel {channel.name} already has {limit} hub listeners, the most allowed; remove "
                           "one (DELETE hub/{id}) before registering another.", code="TOO_MANY_SUBSCRIPTIONS")
        return HubSubscription.objects.create(channel=channel, callback=callback, query=query)


@transaction.atomic
def unsubscribe(*, channel, subscription_id: int) -> None:
    """Remove one of the channel's listeners. Raises NotFound for another channel's or an unknown one."""
    from comapp.errors import NotFound

    deleted, _ = HubSubscription.objects.filter(channel=channel, pk=subscription_id).delete()
    if not deleted:
        raise NotFound(f"No hub subscription {subscription_id}")
