"""TMF622 hub: channels register listeners, COM queues events for them and delivers them signed."""
import http.server
import json
import threading

import pytest

from comapp import signing
from orders.models import HubSubscription, Notification, OutboxMessage
from orders.services import delivery
from orders.services.checks import run_order_checks
from tests.tmf_schema import TMF622, assert_valid

from .flows import installation, submit, superfibre

BASE = "/tmf-api/productOrderingManagement/v4"
pytestmark = pytest.mark.usefixtures("demo")


def register(client, callback="http://listener.test/web", query=None):
    body = {"callback": callback} if query is None else {"callback": callback, "query": query}
    return client.post(f"{BASE}/hub", data=json.dumps(body), content_type="application/json")


def create_order(client, body):
    response = client.post(f"{BASE}/productOrder", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def notifications(**filters):
    return list(OutboxMessage.objects.filter(kind=OutboxMessage.Kind.NOTIFICATION, **filters).order_by("id"))


def event_types(subscription_id):
    return [m.body["eventType"] for m in notifications(subscription_id=subscription_id)]


class Listener:
    """A channel's real HTTP listener on 127.0.0.1, recording what it receives."""

    def __init__(self, status=201, answer=b"", headers=None):
        self.received = []
        self.status = status
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                listener.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(listener.status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/listener"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# --- the hub -----------------------------------------------------------------------------------------

def test_register_a_listener(web):
    response = register(web, query="eventType=ProductOrderStateChangeEvent")

    assert response.status_code == 201
    body = response.json()
    subscription = HubSubscription.objects.get()
    assert body == {"id": str(subscription.pk), "callback": "http://listener.test/web",
                    "query": "eventType=ProductOrderStateChangeEvent"}
    assert_valid(TMF622, "EventSubscription", body)
    assert response["Location"] == f"http://testserver{BASE}/hub/{subscription.pk}"
    assert subscription.channel == web.channel


def test_a_listener_needs_a_callback_url(web):
    response = register(web, callback="not a url")

    assert response.status_code == 400
    assert not HubSubscription.objects.exists()


def test_unregister_a_listener(web):
    hub_id = register(web).json()["id"]

    response = web.delete(f"{BASE}/hub/{hub_id}")

    assert response.status_code == 204
    assert not HubSubscription.objects.exists()
    assert web.delete(f"{BASE}/hub/{hub_id}").status_code == 404


def test_another_channels_listener_cannot_be_removed(web, make_channel):
    shop = make_channel("shop")
    hub_id = register(web).json()["id"]

    response = shop.delete(f"{BASE}/hub/{hub_id}")

    assert response.status_code == 404
    assert_valid(TMF622, "Error", response.json())
    assert HubSubscription.objects.filter(pk=hub_id).exists()


# --- which events are queued, for whom -----------------------------------------------------------------

def test_capture_queues_a_create_event_for_the_channels_listeners_only(web, make_channel):
    shop = make_channel("shop")
    mine = register(web).json()["id"]
    theirs = register(shop, callback="http://listener.test/shop").json()["id"]

    created = create_order(web, superfibre())

    [message] = notifications()
    assert message.subscription_id == int(mine) and message.order_id == created["id"]
    assert message.url == "http://listener.test/web/productOrderCreateEvent"
    assert message.dedup_key == f"{message.body['eventId']}:{mine}"
    payload = message.body
    assert payload["eventType"] == "ProductOrderCreateEvent" and payload["correlationId"] == created["id"]
    assert payload["event"]["productOrder"]["state"] == "acknowledged"
    assert payload["event"]["productOrder"]["id"] == created["id"]
    assert_valid(TMF622, "ProductOrderCreateEvent", payload)
    assert event_types(theirs) == []


def test_a_state_change_queues_a_state_change_event(web):
    hub_id = register(web).json()["id"]
    created = create_order(web, superfibre())

    run_order_checks(order_id=created["id"])

    assert event_types(hub_id) == ["ProductOrderCreateEvent", "ProductOrderStateChangeEvent"]
    change = notifications(subscription_id=hub_id)[-1].body
    assert change["event"]["productOrder"]["state"] == "inProgress"
    assert [i["state"] for i in change["event"]["productOrder"]["productOrderItem"]] == ["inProgress"]
    assert_valid(TMF622, "ProductOrderStateChangeEvent", change)


def test_a_hold_also_asks_the_channel_for_information(web):
    hub_id = register(web).json()["id"]
    created = create_order(web, superfibre(customer="CUST-4004"))

    run_order_checks(order_id=created["id"])

    assert event_types(hub_id) == ["ProductOrderCreateEvent", "ProductOrderStateChangeEvent",
                                   "ProductOrderInformationRequiredEvent"]
    required = notifications(subscription_id=hub_id)[-1].body
    assert required["event"]["productOrder"]["state"] == "held"
    assert_valid(TMF622, "ProductOrderInformationRequiredEvent", required)


def test_patch_queues_an_attribute_value_change_event(web):
    hub_id = register(web).json()["id"]
    created = create_order(web, superfibre())

    response = web.patch(f"{BASE}/productOrder/{created['id']}",
                         data=json.dumps({"description": "call before noon", "note": [{"text": "gate code 12"}]}),
                         content_type="application/json")

    assert response.status_code == 200
    assert event_types(hub_id) == ["ProductOrderCreateEvent", "ProductOrderAttributeValueChangeEvent"]
    change = notifications(subscription_id=hub_id)[-1].body
    assert change["fieldPath"] == "description,note"
    assert change["event"]["productOrder"]["description"] == "call before noon"
    assert_valid(TMF622, "ProductOrderAttributeValueChangeEvent", change)


def test_a_patch_that_changes_nothing_queues_nothing(web):
    hub_id = register(web).json()["id"]
    created = create_order(web, superfibre())

    response = web.patch(f"{BASE}/productOrder/{created['id']}",
                         data=json.dumps({"description": created["description"]}), content_type="application/json")

    assert response.status_code == 200
    assert event_types(hub_id) == ["ProductOrderCreateEvent"]


def test_an_event_type_query_limits_what_a_listener_receives(web):
    everything = register(web, callback="http://listener.test/all").json()["id"]
    states = register(web, callback="http://listener.test/states",
                      query="eventType=ProductOrderStateChangeEvent").json()["id"]
    two = register(web, callback="http://listener.test/two",
                   query="eventType=ProductOrderCreateEvent, ProductOrderInformationRequiredEvent").json()["id"]

    created = create_order(web, superfibre(customer="CUST-4004"))
    run_order_checks(order_id=created["id"])  # held: state change and information required

    assert event_types(everything) == ["ProductOrderCreateEvent", "ProductOrderStateChangeEvent",
                                       "ProductOrderInformationRequiredEvent"]
    assert event_types(states) == ["ProductOrderStateChangeEvent"]
    assert event_types(two) == ["ProductOrderCreateEvent", "ProductOrderInformationRequiredEvent"]
    # one event, one eventId, whoever receives it
    changes = notifications(notification__payload__eventType="ProductOrderStateChangeEvent")
    state_ids = {m.body["eventId"] for m in changes}
    assert len(state_ids) == 1


def test_fulfilment_events_reach_the_listener_until_the_order_completes(web, som):
    hub_id = register(web).json()["id"]

    order = som.fulfil(submit(web.channel, superfibre()))

    assert order.state == "completed"
    changes = [m.body["event"]["productOrder"]["state"] for m in notifications(subscription_id=hub_id)
               if m.body["eventType"] == "ProductOrderStateChangeEvent"]
    assert changes == ["inProgress", "completed"]
    assert notifications(subscription_id=hub_id)[-1].body["event"]["productOrder"]["completionDate"]


def test_a_fallout_asks_the_listener_for_information(web, som):
    hub_id = register(web).json()["id"]
    som.fail("ONT-Installation")

    order = som.fulfil(submit(web.channel, installation()))

    assert order.state == "held"
    assert event_types(hub_id)[-2:] == ["ProductOrderStateChangeEvent", "ProductOrderInformationRequiredEvent"]


# --- delivery ----------------------------------------------------------------------------------------

def test_delivery_to_a_real_listener_is_signed_with_the_channels_secret(web):
    with Listener() as listener:
        register(web, callback=listener.url)
        created = create_order(web, superfibre())
        run_order_checks(order_id=created["id"])
        messages = notifications()

        assert [delivery.deliver(m.pk) for m in messages] == ["delivered", "delivered"]

    assert [r["path"] for r in listener.received] == ["/listener/productOrderCreateEvent",
                                                      "/listener/productOrderStateChangeEvent"]
    for request, definition in zip(listener.received, ["ProductOrderCreateEvent", "ProductOrderStateChangeEvent"],
                                   strict=True):
        timestamp, digest = signing.parse(request["headers"]["X-Signature"])
        assert signing.matches(web.channel.webhook_secret, request["body"], timestamp, digest)
        assert signing.age_seconds(timestamp) < 60
        assert request["headers"]["Content-Type"] == "application/json"
        body = json.loads(request["body"])
        assert_valid(TMF622, definition, body)
        assert body["event"]["productOrder"]["id"] == created["id"]
    assert not signing.matches("not-the-secret", listener.received[0]["body"], timestamp, digest)
    for message in messages:
        message.refresh_from_db()
        assert message.status == "delivered" and message.attempts == 1 and message.response_status == 201
        assert message.delivered_at is not None
    assert delivery.deliver(messages[0].pk) == "skipped"  # delivered once, never again


def test_a_listener_answering_500_is_retried_later(web):
    with Listener(status=500) as listener:
        register(web, callback=listener.url)
        create_order(web, superfibre())
        [message] = notifications()

        assert delivery.deliver(message.pk) == "retry"

    assert len(listener.received) == 1
    message.refresh_from_db()
    assert message.status == "pending" and message.attempts == 1
    assert message.response_status == 500 and message.last_error == "HTTP 500"


def test_a_removed_listener_keeps_its_queued_events_but_gets_no_new_ones(web):
    hub_id = register(web).json()["id"]
    created = create_order(web, superfibre())
    assert web.delete(f"{BASE}/hub/{hub_id}").status_code == 204

    run_order_checks(order_id=created["id"])

    [message] = notifications()
    assert message.body["eventType"] == "ProductOrderCreateEvent" and message.subscription is None


def test_an_event_queued_for_a_removed_listener_is_not_sent(web):
    with Listener() as listener:
        hub_id = register(web, callback=listener.url).json()["id"]
        create_order(web, superfibre())
        [message] = notifications()
        assert web.delete(f"{BASE}/hub/{hub_id}").status_code == 204

        delivery.deliver(message.pk)

    assert listener.received == []  # neither to a callback the channel removed, nor unsigned
    message.refresh_from_db()
    assert message.status == "dead" and "removed" in message.last_error


def test_an_event_is_stored_once_whatever_the_number_of_listeners(web):
    for n in range(3):
        register(web, callback=f"http://listener.test/l{n}")
    create_order(web, superfibre())
    messages = notifications()
    assert len(messages) == 3 and len({m.notification_id for m in messages}) == 1
    assert all(m.payload is None for m in messages)  # the body lives on the one Notification row
    assert Notification.objects.count() == 1


def test_a_listener_answer_is_kept_to_a_few_hundred_bytes(web):
    with Listener(answer=b"x" * 100_000) as listener:
        register(web, callback=listener.url)
        create_order(web, superfibre())
        [message] = notifications()
        assert delivery.deliver(message.pk) == "delivered"
    message.refresh_from_db()
    assert len(message.response_excerpt) <= 300 and message.response_body is None


def test_a_redirect_is_not_followed(web):
    with Listener(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}) as listener:
        register(web, callback=listener.url)
        create_order(web, superfibre())
        [message] = notifications()
        assert delivery.deliver(message.pk) == "refused"
    assert len(listener.received) == 1  # and nothing went to the Location it named
    message.refresh_from_db()
    assert message.status == "dead" and "redirect not followed" in message.last_error
