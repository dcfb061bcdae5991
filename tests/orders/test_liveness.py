"""Liveness: the watchdog, poison handling, the sweeps, the fenced outbox, adoption of a service order SOM has,
the hub subscription, and every TMF641 event type at the listener."""
import json
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from comapp import signing
from orders import selectors
from orders.check_rules import Check
from orders.integrations import tmf641
from orders.models import (
    Fallout,
    FalloutStage,
    InboundEvent,
    OrderState,
    OutboxMessage,
    ProcessingError,
    ProductOrder,
    ServiceOrder,
    ServiceOrderItem,
    SomState,
    SomSubscription,
)
from orders.services import delivery, liveness, outbox, repairs, som_events, som_hub
from orders.tasks import process_som_event, run_order_checks
from somsim import tmf as somtmf
from tests.tmf_schema import TMF641, TMF641_V41, assert_valid

from .flows import HttpSom, after_the_lease, capture, installation, post_event, service_orders, submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")


def age(model, pk, seconds, field="updated_at"):
    model.objects.filter(pk=pk).update(**{field: timezone.now() - timedelta(seconds=seconds)})


class Exploding(Check):
    """A check with a bug in it: fault injection for poison handling."""

    code = "exploding"

    def run(self, order):
        raise RuntimeError("credit bureau answered nonsense")


# --- the watchdog -----------------------------------------------------------------------------------------

def test_an_order_waiting_on_nothing_gets_a_stalled_fallout_saying_what_was_found(web, som):
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    som.accept(service_order)
    # a state no code path leaves an order in: everything done at SOM, the order never told
    ServiceOrder.objects.filter(pk=service_order.pk).update(state="completed", last_heard_at=timezone.now())
    ServiceOrderItem.objects.filter(order=order).update(state="completed")
    age(ProductOrder, order.pk, 3600)

    found = liveness.find_stalled()

    assert [order_id for order_id, _ in found] == [order.pk]
    assert "inProgress" in found[0][1] and "completed" in found[0][1]
    assert liveness.mark_stalled(order_id=order.pk, finding=found[0][1]) is True
    [fallout] = Fallout.objects.filter(order=order)
    assert (fallout.reason_code, fallout.stage, fallout.category) == ("STALLED", FalloutStage.WATCHDOG, "internal")
    order.refresh_from_db()
    assert order.state == "held" and selectors.waiting_on(order).what == "person"
    assert liveness.find_stalled(quiet_seconds=0) == []  # in front of a person now


def test_orders_with_something_in_flight_are_not_stalled(web, som):
    in_flight = submit(web.channel, superfibre("a", wifiManagement=False))  # its service order is in the outbox
    at_som = submit(web.channel, installation("c"))
    som.accept(service_orders(at_som)[0])
    held = capture(web.channel, superfibre("d", customer="CUST-4004"))  # credit limit 20: held by a check
    run_order_checks(held.pk)
    for order in ProductOrder.objects.all():
        age(ProductOrder, order.pk, 3600)

    assert liveness.find_stalled() == []
    assert selectors.waiting_on(ProductOrder.objects.get(pk=in_flight.pk)).what == "outbox"
    assert selectors.waiting_on(ProductOrder.objects.get(pk=at_som.pk)).what == "som"
    assert selectors.waiting_on(ProductOrder.objects.get(pk=held.pk)).what == "person"


def test_a_wait_past_its_deadline_is_stalled(web, settings):
    order = capture(web.channel, superfibre())  # its checks task was lost, and the sweep never ran it
    age(ProductOrder, order.pk, settings.COM_CHECKS_DEADLINE_SECONDS + 60, field="created_at")
    age(ProductOrder, order.pk, 3600)

    [(order_id, finding)] = liveness.find_stalled()
    assert order_id == order.pk and finding.startswith("overdue: business checks")


def test_a_scheduled_order_waits_for_its_start_date(web):
    body = superfibre()
    body["requestedStartDate"] = (timezone.now() + timedelta(days=2)).isoformat()
    order = submit(web.channel, body)
    age(ProductOrder, order.pk, 3600)
    assert order.state == "pending" and selectors.waiting_on(order).what == "start"
    assert liveness.find_stalled() == []


def test_restarting_a_stalled_order_queues_everything_that_could_move_it(
        web, som, django_user_model, django_capture_on_commit_callbacks):
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    som.accept(service_order)
    # SOM ended the service order long ago without saying how its item ended, and no read-back ever happened
    ServiceOrder.objects.filter(pk=service_order.pk).update(state="completed",
                                                            last_heard_at=timezone.now() - timedelta(days=1))
    age(ProductOrder, order.pk, 3600)
    assert liveness.mark_stalled(order_id=order.pk, finding="test")
    fallout = Fallout.objects.get(order=order)
    user = django_user_model.objects.create_user(username="desk", password="pw")

    with django_capture_on_commit_callbacks() as callbacks:
        done = repairs.retry_fallout(fallout=fallout, user=user, reason="look again")

    assert "restarted" in done and len(callbacks) >= 1  # the read-back of the service order
    order.refresh_from_db()
    assert order.state == "inProgress" and not Fallout.objects.get(pk=fallout.pk).is_open


# --- poison: an exception ends in a recorded error and a fallout, never a loop --------------------------------

def test_checks_that_keep_raising_end_in_an_internal_error_fallout(web, settings):
    settings.COM_ORDER_CHECKS = [*settings.COM_ORDER_CHECKS, "tests.orders.test_liveness.Exploding"]
    order = capture(web.channel, superfibre())

    for attempt in range(1, settings.COM_MAX_PROCESSING_ATTEMPTS + 1):
        assert selectors.orders_awaiting_checks(older_than_seconds=0, at=after_the_lease()).filter(
            pk=order.pk).exists()
        outcome = run_order_checks(order.pk)  # what the task (and then the sweep) runs
        assert outcome.startswith("error recorded: RuntimeError")
        assert ProcessingError.objects.filter(order=order).count() == attempt

    order.refresh_from_db()
    assert order.state == "held" and order.items.get().state == "held"
    [fallout] = Fallout.objects.filter(order=order)
    assert (fallout.reason_code, fallout.stage, fallout.category) == ("INTERNAL_ERROR", "checks", "internal")
    assert "credit bureau answered nonsense" in fallout.message
    assert "Traceback" in fallout.context["traceback"] and "test_liveness.py" in fallout.context["traceback"]
    assert set(ProcessingError.objects.filter(order=order).values_list("fallout", flat=True)) == {fallout.pk}
    # the sweep leaves it alone now: no silent loop
    assert not selectors.orders_awaiting_checks(older_than_seconds=0, at=after_the_lease()).filter(
        pk=order.pk).exists()

    # the bug is fixed; the agent's retry runs the checks and the order goes on
    settings.COM_ORDER_CHECKS = settings.COM_ORDER_CHECKS[:-1]
    repairs.retry_fallout(fallout=fallout, user=None, reason="bureau fixed")
    order.refresh_from_db()
    assert order.state == "inProgress" and order.check_runs.count() == 1


def test_an_event_that_keeps_raising_is_failed_and_in_fallout_not_retried_forever(web, som, monkeypatch, settings):
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    som.accept(service_order)
    somtmf.start(som.orders[service_order.pk], somtmf.utc_now())
    event = som.event(service_order)
    assert post_event(event).status_code == 201
    stored = InboundEvent.objects.get(event_id=event["eventId"])

    def broken(*args, **kwargs):
        raise KeyError("a bug while applying")

    monkeypatch.setattr(som_events, "_apply_service_order_event", broken)
    for _ in range(settings.COM_MAX_PROCESSING_ATTEMPTS):
        assert process_som_event(stored.pk).startswith("error recorded")
    stored.refresh_from_db()
    assert stored.status == "failed" and stored.attempts == settings.COM_MAX_PROCESSING_ATTEMPTS
    assert "a bug while applying" in stored.last_error
    [fallout] = Fallout.objects.filter(order=order)
    assert (fallout.reason_code, fallout.stage) == ("INTERNAL_ERROR", "event")
    InboundEvent.objects.filter(pk=stored.pk).update(received_at=timezone.now() - timedelta(minutes=5))
    assert not selectors.unprocessed_events().filter(pk=stored.pk).exists()

    monkeypatch.undo()
    repairs.retry_fallout(fallout=fallout, user=None, reason="fixed")
    stored.refresh_from_db()
    assert stored.status == "received" and stored.attempts == 0
    som_events.apply_som_event(inbound_event_id=stored.pk)
    assert ServiceOrder.objects.get(pk=service_order.pk).state == "inProgress"


def test_a_database_error_is_retried_not_recorded(web):
    from django.db import OperationalError

    order = capture(web.channel, superfibre())

    def flaky():
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError):
        liveness.run_guarded(order_id=order.pk, stage="checks", key="checks", work=flaky, last_try=False)
    assert not ProcessingError.objects.exists()
    liveness.run_guarded(order_id=order.pk, stage="checks", key="checks", work=flaky, last_try=True)
    assert ProcessingError.objects.count() == 1  # its retries spent: recorded like any other error


# --- the sweeps ---------------------------------------------------------------------------------------------

def test_the_event_sweep_finds_stored_events_never_applied_and_not_queued(web, som):
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    som.accept(service_order)
    event = som.event(service_order)
    post_event(event)
    stored = InboundEvent.objects.get(event_id=event["eventId"])
    assert not selectors.unprocessed_events().exists()  # just received, its task queued

    InboundEvent.objects.filter(pk=stored.pk).update(received_at=timezone.now() - timedelta(seconds=30),
                                                     enqueued_until=timezone.now() - timedelta(seconds=1))
    assert list(selectors.unprocessed_events()) == [stored]
    som_events.apply_som_event(inbound_event_id=stored.pk)
    assert not selectors.unprocessed_events().exists()


# --- the fenced outbox, and adoption -------------------------------------------------------------------------

def test_a_result_from_a_worker_that_lost_its_claim_is_discarded(web):
    order = submit(web.channel, superfibre())
    message = OutboxMessage.objects.get(order=order)
    first, token_a = outbox.claim(message.pk)
    OutboxMessage.objects.filter(pk=message.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    second, token_b = outbox.claim(message.pk)  # the lease ran out: another worker took over
    assert token_a != token_b and second.attempts == 2

    with transaction.atomic():
        assert outbox.record(message.pk, token_b, outcome="retry", status=503, error="HTTP 503") is not None
    with transaction.atomic():
        assert outbox.record(message.pk, token_a, outcome="delivered", status=201) is None  # stale: ignored
    message.refresh_from_db()
    assert message.status == "pending" and message.response_status == 503


def test_before_giving_up_com_asks_som_and_adopts_an_order_it_has(web, som, settings):
    settings.COM_OUTBOX_MAX_ATTEMPTS = 1
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    som.receive(service_order)  # SOM has it: COM's requests timed out after SOM stored them
    http_som = HttpSom(som, post_status=503)
    settings.COM_SOM_ENDPOINTS = {"default": {"url": http_som.url, "secret": settings.COM_SOM_EVENT_SECRET}}
    try:
        assert delivery.deliver(service_order.outbox_message.pk) == "adopted"
    finally:
        http_som.close()
    assert ("GET", f"/tmf-api/serviceOrdering/v4/serviceOrder?externalId={service_order.external_id}") \
        in http_som.requests
    service_order.refresh_from_db()
    assert service_order.state == "acknowledged" and service_order.som_order_id == som.orders[service_order.pk]["id"]
    assert order.events.filter(type="serviceOrderAdopted").count() == 1
    assert not Fallout.objects.filter(order=order).exists()


def test_an_undeliverable_service_order_is_resent_with_the_same_external_id(web, settings, django_user_model):
    settings.COM_OUTBOX_MAX_ATTEMPTS = 1
    settings.COM_SOM_ENDPOINTS = {"default": {"url": "http://127.0.0.1:9/som", "secret": "s"}}
    settings.COM_HTTP_TIMEOUT = 1
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    assert delivery.deliver(service_order.outbox_message.pk) == "dead"
    [fallout] = Fallout.objects.filter(order=order)
    assert fallout.reason_code == "SOM_UNREACHABLE" and fallout.category == "transient"

    repairs.retry_fallout(fallout=fallout, user=django_user_model.objects.create_user("d", password="p"))

    message = OutboxMessage.objects.get(service_order=service_order)
    assert message.status == "pending" and message.attempts == 0
    assert len(service_orders(order)) == 1 and message.dedup_key == service_order.external_id


# --- TMF641 as a real SOM speaks it ------------------------------------------------------------------------

def test_com_registers_its_listener_at_a_som_hub_once(som, settings):
    http_som = HttpSom(som)
    settings.COM_SOM_ENDPOINTS = {"default": {"url": http_som.url, "secret": "s", "subscribe": True}}
    settings.COM_PUBLIC_URL = "http://com.test"
    try:
        assert len(som_hub.ensure_subscriptions()) == 1
        assert som_hub.ensure_subscriptions() == []
    finally:
        http_som.close()
    assert http_som.hubs == [{"callback": "http://com.test/tmf-api/serviceOrdering/v4/listener"}]
    assert SomSubscription.objects.get().hub_id == "hub-1"


@pytest.mark.parametrize("event_type", sorted(tmf641.EVENT_TYPES))
def test_the_listener_accepts_every_tmf641_event_type(web, som, event_type):
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    som_order = som.accept(service_order)
    if event_type.startswith("Cancel"):
        event = {"cancelServiceOrder": {"id": "C-1", "state": "inProgress", "serviceOrder": {"id": som_order["id"]}}}
    else:
        event = {"serviceOrder": {"id": som_order["id"], "state": "inProgress"}}
    payload = {"eventId": f"e-{event_type}", "eventType": event_type, "eventTime": "2026-01-01T00:00:00Z",
               "event": event}

    response = post_event(payload)

    assert response.status_code == 201, response.content
    assert InboundEvent.objects.get(event_id=payload["eventId"]).service_order == service_order


def test_an_unknown_event_type_is_stored_and_acknowledged(web):
    payload = {"eventId": "e-unknown", "eventType": "ServiceOrderTeleportEvent", "event": {"foo": 1}}
    response = post_event(payload)
    assert response.status_code == 201 and response.json()["status"] == "ignored"
    # and a SOM posting every event to the listener's base URL is heard too
    response = post_event({**payload, "eventId": "e-unknown-2"}, path="")
    assert response.status_code == 201


def test_signed_events_outside_the_window_are_refused(web, som):
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    som.accept(service_order)
    body = json.dumps(som.event(service_order)).encode()
    stale = signing.sign(django_settings.COM_SOM_EVENT_SECRET, body, int(time.time()) - 3600)
    ahead = signing.sign(django_settings.COM_SOM_EVENT_SECRET, body, int(time.time()) + 3600)
    for signature in (stale, ahead):
        response = post_event(None, raw=body, signature=signature)
        assert response.status_code == 401 and "refused" in response.json()["message"]
    assert not InboundEvent.objects.exists()


def test_an_event_is_accepted_only_with_the_secret_of_the_som_its_service_order_went_to(web, som, settings):
    settings.COM_SOM_ENDPOINTS = {"default": {"url": "http://a.test", "secret": "secret-a"},
                                  "other": {"url": "http://b.test", "secret": "secret-b"}}
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    som.accept(service_order)
    body = json.dumps(som.event(service_order)).encode()
    assert post_event(None, raw=body, signature=signing.sign("secret-b", body)).status_code == 401
    assert post_event(None, raw=body, signature=signing.sign("secret-a", body)).status_code == 201
    assert InboundEvent.objects.get().som == "default"


def test_service_orders_are_valid_tmf641_v4_1(web):
    order = submit(web.channel, superfibre())
    message = OutboxMessage.objects.get(order=order, kind="serviceOrder")
    assert_valid(TMF641_V41, "ServiceOrder_Create", message.payload)
    assert_valid(TMF641, "ServiceOrder_Create", message.payload)


# --- the service state machines against the TMF641 spec ------------------------------------------------------

def tmf641_states(definition):
    from tests.tmf_schema import definitions

    return definitions(TMF641)[definition]["enum"]


def test_every_tmf641_item_state_is_a_state_com_knows():
    assert set(tmf641_states("ServiceOrderItemStateType")) <= set(SomState.values)
    assert set(tmf641_states("ServiceOrderStateType")) <= set(SomState.values)


@pytest.mark.parametrize("reported", tmf641_states("ServiceOrderItemStateType"))
@pytest.mark.parametrize("current", ["planned", "acknowledged", "pending", "held", "inProgress",
                                     "assessingCancellation", "pendingCancellation"])
def test_som_may_report_any_tmf641_state_from_any_live_state(current, reported):
    """A live item moves to whatever SOM reports unless that would go back to acknowledged: never stuck."""
    item = ServiceOrderItem(state=current)
    outcome = som_events._advance(item, reported)
    if reported == current:
        assert outcome == "same"
    elif reported == "acknowledged":
        assert outcome == ("moved" if current == "planned" else "late")
    else:
        assert outcome == "moved" and item.state == reported


@pytest.mark.parametrize("finished", ["completed", "failed", "rejected", "cancelled", "partial"])
def test_a_finished_item_never_moves(finished):
    for reported in tmf641_states("ServiceOrderItemStateType"):
        item = ServiceOrderItem(state=finished)
        outcome = som_events._advance(item, reported)
        assert item.state == finished
        assert outcome in ("same", "late", "unexpected")
    assert OrderState  # the order machine is tested against TMF622 in test_state_machines
