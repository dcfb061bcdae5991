"""TMF641 as SOMs other than our simulator's default speak it, for real: a SOM whose events carry only the
order-level state, and a SOM that notifies only the listeners registered at its hub."""
import pytest

from orders.models import InboundEvent, ProductOrder, ServiceOrderItem, SomSubscription
from orders.services import som_hub
from tests.orders.bodies import item, order_body

from .conftest import Som, wait_for
from .test_fulfilment import settle, submit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def channel(make_channel):
    return make_channel("e2e-dialects")


def test_an_order_sent_to_a_som_that_emits_only_order_level_events_completes(som, channel, settings):
    settings.COM_SOM_POLL_AFTER_SECONDS = 3600  # no polling of quiet orders: only the events and their read-back
    som.rule("order_level_only")
    body = order_body("lvl-1", productOrderItem=[item(downloadSpeed=200, wifiManagement=False)])

    order = settle(submit(channel, body), timeout=40)

    assert order.state == "completed", order.state_reason
    events = InboundEvent.objects.filter(service_order__order=order, source="som")
    assert events.exists() and all("serviceOrderItem" not in e.payload["event"]["serviceOrder"] for e in events)
    # SOM said nothing of the service instances it built: COM read the service order back and learnt them
    services = wait_for(lambda: [s for s in ServiceOrderItem.objects.filter(order=order) if s.service_id] or None,
                        what="service ids from the read-back")
    assert len(services) == 2


def test_a_som_that_notifies_only_registered_listeners_is_subscribed_to(som, channel, settings, live_server,
                                                                       tmp_path):
    hub_only = Som(tmp_path, callback=None)
    hub_only.start()
    try:
        settings.COM_SOM_ENDPOINTS = {"default": {"url": f"{hub_only.url}/tmf-api/serviceOrdering/v4",
                                                  "secret": settings.COM_SOM_EVENT_SECRET, "subscribe": True}}
        settings.COM_PUBLIC_URL = live_server.url
        settings.COM_SOM_POLL_AFTER_SECONDS = 3600  # nothing but the hub's events can complete it in time

        assert len(som_hub.ensure_subscriptions()) == 1  # what beat (and `manage.py som_subscribe`) runs
        assert SomSubscription.objects.get(som="default").callback.startswith(live_server.url)

        order = settle(submit(channel, order_body("hub-1", productOrderItem=[
            item(downloadSpeed=200, wifiManagement=False)])), timeout=40)

        assert order.state == "completed", order.state_reason
        assert hub_only.stats()["eventsSent"] > 0
        assert InboundEvent.objects.filter(service_order__order=order, source="som").exists()
        assert not InboundEvent.objects.filter(service_order__order=order, source="som-poll").exists()
    finally:
        hub_only.call("POST", "/_sim/reset")
        hub_only.stop()
    assert ProductOrder.objects.filter(pk=order.pk, state="completed").exists()
