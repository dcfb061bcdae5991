"""The TMF641 listener: signed, correlated, stored once; applying an event is idempotent and never goes back."""
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import InboundEvent, OrderEvent, ServiceOrderItem
from orders.services.som_events import apply_som_event
from orders.services.submission import service_order_accepted
from tests.tmf_schema import TMF641, assert_valid

from .flows import ITEM_CHANGE, STATE_CHANGE, plan, post_event, service_orders, sign_body, submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture
def accepted(web, som):
    """An order in fulfilment whose service order SOM has accepted (201): (order, service order)."""
    order = submit(web.channel, superfibre(wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    service_order.refresh_from_db()
    return order, service_order


def states(order):
    return [p[3] for p in plan(order)]


# --- authentication, correlation, validation ---------------------------------------------------------

@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "not-a-signature"])
def test_an_unsigned_or_badly_signed_event_is_401_and_stores_nothing(accepted, som, signature):
    _, service_order = accepted

    response = post_event(som.event(service_order), signature=signature)

    assert response.status_code == 401
    body = response.json()
    assert_valid(TMF641, "Error", body)
    assert body["code"] == "BAD_SIGNATURE" and body["status"] == "401"
    assert not InboundEvent.objects.exists()


def test_a_signature_of_another_body_is_refused(accepted, som):
    _, service_order = accepted
    event = som.event(service_order)
    signed = json.dumps(event).encode()
    event["event"]["serviceOrder"]["state"] = "completed"  # tampered after signing
    response = post_event(None, raw=json.dumps(event).encode(), signature=sign_body(signed))

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_an_event_about_a_service_order_com_does_not_know_is_kept_unmatched(accepted, som):
    # A SOM's hub may send events about orders COM never sent, and an event may overtake the 201 that tells COM
    # SOM's id: acknowledged (a 404 would make SOM retry forever), kept, applied to nothing.
    _, service_order = accepted
    event = som.event(service_order)
    event["event"]["serviceOrder"].update(id="SOM-UNKNOWN", externalId="PO-UNKNOWN-SO1")

    response = post_event(event)

    assert response.status_code == 201 and response.json()["status"] == "unmatched"
    stored = InboundEvent.objects.get()
    assert stored.status == "unmatched" and stored.service_order is None and stored.som_order_ref == "SOM-UNKNOWN"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'{"eventType": "ServiceOrderStateChangeEvent"}',
                                 json.dumps({"eventId": "", "event": {"serviceOrder": {"id": "x"}}}).encode()])
def test_a_malformed_event_is_400_and_stores_nothing(accepted, raw):
    response = post_event(None, raw=raw, signature=sign_body(raw))

    assert response.status_code == 400, response.content
    assert response.json()["@type"] == "Error"
    assert not InboundEvent.objects.exists()


def _set(path, value):
    def mutate(event):
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


SO = ("event", "serviceOrder")


@pytest.mark.parametrize("mutate", [
    _set(("eventType",), 5),
    _set(("event",), "not an object"),
    _set(SO + ("state",), ["completed"]),
    _set(SO + ("state",), "done"),
    _set(SO + ("serviceOrderItem",), 7),
    _set(SO + ("serviceOrderItem",), [{"id": "1", "state": {"x": 1}}]),
    _set(SO + ("serviceOrderItem",), [{"state": "completed"}]),
], ids=["eventType-int", "event-str", "state-list", "state-unknown", "items-int", "item-state-object",
        "item-without-id"])
def test_a_malformed_signed_event_is_400_not_a_crash(accepted, som, mutate):
    _, service_order = accepted
    event = som.event(service_order)
    mutate(event)

    response = post_event(event)

    assert response.status_code == 400, response.content
    assert_valid(TMF641, "Error", response.json())
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize("mutate", [
    _set(SO + ("serviceOrderItem",), [{"id": "1", "state": "inProgress", "service": "x", "errorMessage": 3}]),
    _set(SO + ("errorMessage",), "boom"),
], ids=["item-extras-malformed", "order-errors-malformed"])
def test_malformed_optional_parts_of_an_event_are_ignored(accepted, som, mutate):
    order, service_order = accepted
    event = som.event(service_order)
    event["event"]["serviceOrder"]["state"] = "inProgress"
    mutate(event)

    assert post_event(event).status_code == 201
    assert apply_som_event(inbound_event_id=InboundEvent.objects.get().pk)
    service_order.refresh_from_db()
    assert service_order.state == "inProgress"


def test_an_event_without_its_event_id_is_400(accepted, som):
    _, service_order = accepted
    event = som.event(service_order)
    del event["eventId"]

    response = post_event(event)

    assert response.status_code == 400
    assert "eventId is required" in response.json()["message"]
    assert not InboundEvent.objects.exists()


def test_an_event_posted_to_the_wrong_listener_is_400(accepted, som):
    _, service_order = accepted
    raw = json.dumps(som.event(service_order, STATE_CHANGE)).encode()

    response = post_event(None, raw=raw, signature=sign_body(raw), path="serviceOrderAttributeValueChangeEvent")
    assert response.status_code == 400
    assert not InboundEvent.objects.exists()


def test_a_valid_event_is_stored_once_and_processed_later(accepted, som, django_capture_on_commit_callbacks):
    _, service_order = accepted
    event = som.event(service_order)

    with django_capture_on_commit_callbacks() as callbacks:
        response = post_event(event)

    assert response.status_code == 201
    assert response.json() == {"eventId": event["eventId"], "accepted": True, "status": "received"}
    stored = InboundEvent.objects.get()
    assert (stored.event_id, stored.event_type, stored.service_order) == (
        event["eventId"], "ServiceOrderStateChangeEvent", service_order)
    assert stored.payload == event and stored.processed_at is None
    assert len(callbacks) == 1  # the processing task, sent after commit

    with django_capture_on_commit_callbacks() as callbacks:
        again = post_event(event)

    assert again.status_code == 201 and again.json() == {"eventId": event["eventId"], "accepted": False,
                                                         "status": "received"}
    assert InboundEvent.objects.count() == 1
    assert callbacks == []  # stored, not applied yet, its task still queued (its lease): not queued twice

    # its task was lost (the lease ran out): the resend queues it again
    InboundEvent.objects.filter(pk=stored.pk).update(enqueued_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks() as callbacks:
        post_event(event)
    assert len(callbacks) == 1

    apply_som_event(inbound_event_id=stored.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        third = post_event(event)
    assert third.json()["status"] == "processed" and callbacks == []  # applied: a duplicate changes nothing


# --- applying events ---------------------------------------------------------------------------------

def test_applying_an_event_twice_changes_nothing_the_second_time(accepted, som):
    order, service_order = accepted
    som.start(service_order)
    som.orders[service_order.pk]["serviceOrderItem"][0]["state"] = "completed"
    event = som.report(som.event(service_order, ITEM_CHANGE))
    order.refresh_from_db()
    snapshot = (order.version, order.events.count(), states(order))
    assert states(order) == ["completed", "inProgress"]

    assert apply_som_event(inbound_event_id=event.pk) == "already processed"

    order.refresh_from_db()
    assert (order.version, order.events.count(), states(order)) == snapshot
    event.refresh_from_db()
    assert event.outcome == "1 Internet-Access: inProgress -> completed"


def test_a_late_in_progress_after_completed_leaves_completed(accepted, som):
    order, service_order = accepted
    som.start(service_order)
    late = som.event(service_order)  # taken while everything was inProgress, delivered last
    som.fulfil(order)
    order.refresh_from_db()
    assert order.state == "completed" and states(order) == ["completed", "completed"]
    events = order.events.count()

    stored = som.report(late)

    service_order.refresh_from_db()
    order.refresh_from_db()
    assert service_order.state == "completed" and states(order) == ["completed", "completed"]
    assert order.state == "completed"
    stored.refresh_from_db()
    assert stored.outcome == "no change"
    assert order.events.count() == events


def test_an_event_about_an_earlier_attempt_changes_nothing(web, som):
    som.fail("Internet-Access", times=1)
    order = submit(web.channel, superfibre(wifiManagement=False))
    first = service_orders(order)[0]
    som.run(first)
    retry = service_orders(order)[1]
    access = ServiceOrderItem.objects.get(order=order, service_specification__code="Internet-Access")
    assert access.service_order == retry and access.state == "planned"

    # SOM (wrongly, or after a replay) reports the first attempt's line as completed
    som.orders[first.pk]["serviceOrderItem"][0]["state"] = "completed"
    stored = som.report(som.event(first, ITEM_CHANGE))

    access.refresh_from_db()
    assert access.state == "planned" and access.service_order == retry and access.attempts == 2
    stored.refresh_from_db()
    assert stored.outcome == "no change"
    assert not order.events.filter(type=OrderEvent.Type.SERVICE_STATE_CHANGED,
                                   payload__eventId=stored.event_id).exists()


def test_an_event_before_the_201_is_correlated_by_external_id(web, som):
    order = submit(web.channel, superfibre(wifiManagement=False))
    [service_order] = service_orders(order)
    som_order = som.receive(service_order)  # SOM created it; its 201 has not reached COM yet
    assert service_order.som_order_id == ""

    som.start(service_order)

    service_order.refresh_from_db()
    assert InboundEvent.objects.get().service_order == service_order
    assert service_order.som_order_id == som_order["id"]
    assert service_order.state == "inProgress" and states(order) == ["inProgress", "inProgress"]

    service_order_accepted(service_order_id=service_order.pk, response={"id": som_order["id"]})  # the late 201
    service_order.refresh_from_db()
    assert service_order.state == "inProgress" and service_order.som_order_id == som_order["id"]
    assert states(order) == ["inProgress", "inProgress"]

    order = som.fulfil(order)
    assert order.state == "completed"


def test_a_som_failure_event_records_the_error_on_the_item(accepted, som):
    order, service_order = accepted
    som.start(service_order)

    som.fail_item(service_order, "2", "no CPE in stock")

    cpe = ServiceOrderItem.objects.get(order=order, item_ref="2")
    # CPE-Management has retries: the error is kept and the item is planned again
    assert cpe.state == "planned" and cpe.error["message"] == "no CPE in stock"
    service_order.refresh_from_db()
    assert service_order.error["errorMessage"][0]["message"] == "no CPE in stock"
