"""COM's listener at each SOM's TMF641 hub: register it where a SOM only notifies registered listeners.

A SOM whose endpoint says ``subscribe`` gets ``POST /hub {"callback": <COM's listener>}`` once; the answer's
id is kept (``SomSubscription``), so running this again (beat does, every minute, until it succeeds) asks
nothing more. A changed public URL registers the new callback.
"""
from django.conf import settings
from django.db import transaction

from orders.integrations import som as som_api
from orders.models import SomSubscription

LISTENER_PATH = "/tmf-api/serviceOrdering/v4/listener"


def listener_url() -> str:
    return settings.COM_PUBLIC_URL.rstrip("/") + LISTENER_PATH


def ensure_subscriptions(*, force: bool = False) -> list[str]:
    """Register COM's listener at every SOM that wants it and does not have it; returns what was done."""
    done = []
    callback = listener_url()
    for som in som_api.endpoints().values():
        if not som.subscribe:
            continue
        current = SomSubscription.objects.filter(som=som.key).first()
        if current is not None and current.callback == callback and not force:
            continue
        hub_id = som_api.register_listener(som.key, callback)  # raises SomUnavailable: tried again later
        with transaction.atomic():
            SomSubscription.objects.update_or_create(som=som.key, defaults={"hub_id": hub_id, "callback": callback})
        done.append(f"{som.key}: listener {callback} registered as hub {hub_id}")
    return done
