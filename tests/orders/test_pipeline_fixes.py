"""Regressions found by a review of the fulfilment pipeline (withdrawing, fallouts overtaken by SOM, sweeps,
poison events, callbacks): each test shows the unhappy path that used to strand or mislead, on COM's real
services with the SOM played as ``flows`` does."""
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import selectors, tasks
from orders.models import (
    Fallout,
    InboundEvent,
    Notification,
    OutboxMessage,
    ProcessingError,
    ProductOrder,
    ServiceOrder,
    ServiceOrderCancellation,
    ServiceOrderItem,
)
from orders.services import delivery, mutations, notifications, outbox, reconciliation
from orders.services.mutations import MutationDraft
from orders.services.repairs import retry_fallout, skip_optional_service
from orders.services.submission import service_order_refused

from .bodies import item, order_body
from .flows import HttpSom, installation, plan, post_event, service_orders, submit, superfibre
from .test_mutations import amend, cancel, cancel_at_som, line_of, supervisor
from .test_stranding import agent, fibre_and_static_ip, minimal_event

pytestmark = pytest.mark.usefixtures("demo")


def fibre_and_installation(ext="two-1"):
    """Two independent items whose services go to SOM together, in one service order."""
    return order_body(ext, productOrderItem=[
        item("1", downloadSpeed=200),
        item("2", offering="PO-INSTALL", installationType="standard", appointment="APT-1")])


# --- 1. an item cancelled while its service order is still in the outbox ----------------------------------

def test_cancelling_one_item_of_an_unsent_service_order_sends_the_other_items_anew(web, som):
    order = submit(web.channel, fibre_and_installation())
    [first] = service_orders(order)
    assert first.outbox_message.status == "pending"  # not sent yet: it can be withdrawn

    response = cancel(web, order.pk, items=["2"])

    assert response.status_code == 201 and response.json()["state"] == "done"
    first.refresh_from_db()
    assert first.state == "rejected" and first.outbox_message.status == "dead"
    # the fibre's services left the withdrawn service order and went in a new one
    fibre = ServiceOrderItem.objects.filter(order=order, product_items__item_id="1")
    assert {s.state for s in fibre} == {"planned"}
    [second] = [so for so in service_orders(order) if so.pk != first.pk]
    assert {s.service_order_id for s in fibre} == {second.pk} and second.outbox_message.status == "pending"
    assert all(s.attempts == 1 for s in fibre)
    assert selectors.waiting_on(order).what == "outbox"
    order = som.fulfil(order)
    assert order.state == "completed"
    assert {i.item_id: i.state for i in order.items.all()} == {"1": "completed", "2": "cancelled"}
    assert [p[3] for p in plan(order) if p[1] == "ONT-Installation"] == ["cancelled"]


# --- 2. a service order whose first POST timed out may be at SOM: never "withdrawn" ------------------------

def timed_out_at_som(som, service_order):
    """COM's first POST timed out (a retry is due later), but SOM had created the order."""
    claimed = outbox.claim(service_order.outbox_message.pk)
    assert claimed is not None
    with transaction.atomic():
        outbox.record(claimed[0].pk, claimed[1], outcome="retry", error="ReadTimeout: read timed out")
    return som.receive(service_order)


def test_cancelling_an_order_whose_submission_timed_out_cancels_it_at_som_not_in_com(web, som):
    order = submit(web.channel, superfibre("to-1", wifiManagement=False))
    [service_order] = service_orders(order)
    timed_out_at_som(som, service_order)

    assert cancel(web, order.pk).status_code == 201

    service_order.refresh_from_db()
    message = OutboxMessage.objects.get(pk=service_order.outbox_message.pk)
    assert service_order.state == "planned" and message.status == "pending"  # SOM may have it: not withdrawn
    assert [p[3] for p in plan(order)] == ["planned", "planned"]
    # the resend is answered with the order SOM has: COM asks SOM to cancel it
    som.accept(service_order)
    assert ServiceOrderCancellation.objects.filter(service_order=service_order).exists()
    cancel_at_som(som, service_order)
    order.refresh_from_db()
    assert order.state == "cancelled" and [p[3] for p in plan(order)] == ["cancelled", "cancelled"]


def test_a_service_order_whose_posts_were_all_refused_a_connection_is_still_withdrawn(web, som):
    """SOM down: no attempt reached it, so a cancellation takes the service order back and SOM never sees it."""
    order = submit(web.channel, superfibre("to-3", wifiManagement=False))
    [service_order] = service_orders(order)
    for _ in range(2):
        claimed = outbox.claim(service_order.outbox_message.pk)
        with transaction.atomic():
            outbox.record(claimed[0].pk, claimed[1], outcome="retry", connected=False,
                          error="ConnectionError: [Errno 111] Connection refused")
        OutboxMessage.objects.filter(pk=claimed[0].pk).update(next_attempt_at=timezone.now())

    assert cancel(web, order.pk).status_code == 201

    service_order.refresh_from_db()
    assert service_order.state == "rejected"
    assert OutboxMessage.objects.get(pk=service_order.outbox_message.pk).status == "dead"
    order.refresh_from_db()
    assert order.state == "cancelled"


def test_a_service_order_whose_sender_was_lost_mid_post_is_not_withdrawn(web, som):
    """A worker claimed the message and died while posting: nothing recorded, that POST may have reached SOM."""
    order = submit(web.channel, superfibre("to-4", wifiManagement=False))
    [service_order] = service_orders(order)
    claimed = outbox.claim(service_order.outbox_message.pk)
    OutboxMessage.objects.filter(pk=claimed[0].pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    again = outbox.claim(service_order.outbox_message.pk)  # the next worker, after the lease
    with transaction.atomic():
        outbox.record(again[0].pk, again[1], outcome="retry", connected=False, error="ConnectionError: refused")

    assert cancel(web, order.pk).status_code == 201

    service_order.refresh_from_db()
    assert service_order.state == "planned"  # not withdrawn: cancelled at SOM once SOM answers, or undone
    assert OutboxMessage.objects.get(pk=service_order.outbox_message.pk).may_have_reached


def test_only_a_connection_never_made_counts_as_not_reaching_the_receiver():
    import requests
    import urllib3

    from orders.services.delivery import _connected

    refused = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")
    assert not _connected(requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", refused)))
    assert not _connected(requests.exceptions.ConnectTimeout("connect timed out"))
    assert _connected(requests.exceptions.ReadTimeout("read timed out"))
    assert _connected(requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted")))


def test_a_revised_plan_never_withdraws_a_service_order_whose_submission_timed_out(web, som):
    order = submit(web.channel, installation("to-2"))
    [service_order] = service_orders(order)
    timed_out_at_som(som, service_order)

    response = amend(web, order.pk, productOrderItem=[{"id": "1", "appointment": {"id": "APT-77"}}])

    assert response.json()["state"] == "done", response.content
    service_order.refresh_from_db()
    assert service_order.state == "planned"  # not withdrawn: no second version sent beside the one SOM has
    assert OutboxMessage.objects.get(pk=service_order.outbox_message.pk).status == "pending"
    assert len(service_orders(order)) == 1  # the new appointment waits for the old one to end
    som.accept(service_order)
    assert ServiceOrderCancellation.objects.filter(service_order=service_order).exists()
    cancel_at_som(som, service_order)
    order = som.fulfil(order)
    assert order.state == "completed"
    rows = ServiceOrderItem.objects.filter(order=order).order_by("sequence")
    assert [(r.state, (r.appointment or {}).get("id")) for r in rows] == [("cancelled", "APT-1"),
                                                                          ("completed", "APT-77")]


# --- 3. a fallout waiting on SOM, overtaken by SOM completing the service ----------------------------------

@pytest.fixture
def http_som(som, settings):
    server = HttpSom(som)
    settings.COM_SOM_ENDPOINTS = {"default": {"url": server.url, "secret": settings.COM_SOM_EVENT_SECRET}}
    yield server
    server.close()


def open_fallouts(order):
    return list(Fallout.objects.filter(order=order, resolved_at__isnull=True))


def test_a_silent_som_that_completes_the_service_after_all_closes_the_fallout(web, som, settings):
    order = submit(web.channel, superfibre("silent-1", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    ServiceOrder.objects.filter(pk=service_order.pk).update(last_heard_at=timezone.now() - timedelta(days=3))
    settings.COM_SOM_ENDPOINTS = {"default": {"url": "http://127.0.0.1:9/som", "secret": settings.COM_SOM_EVENT_SECRET}}
    settings.COM_HTTP_TIMEOUT = 1
    reconciliation.read_back(service_order_id=service_order.pk)  # SOM cannot be read, and quiet for 3 days
    assert {f.reason_code for f in open_fallouts(order)} == {"SOM_SILENT"}
    order.refresh_from_db()
    assert order.state == "held"

    order = som.fulfil(order)  # SOM was only slow: it builds both services and says so

    assert order.state == "completed" and open_fallouts(order) == []
    assert set(Fallout.objects.filter(order=order).values_list("resolution", flat=True)) == {"overtakenBySom"}


def test_retrying_a_fallout_whose_service_som_has_completed_closes_it(web, som, django_user_model):
    order = submit(web.channel, superfibre("mind-1", wifiManagement=False))
    [service_order] = service_orders(order)
    som_order = som.accept(service_order)
    som.start(service_order)
    access = som_order["serviceOrderItem"][0]["id"]
    som.complete(service_order, access)
    som.report(minimal_event(som_order["id"], "inProgress", event_type="ServiceOrderAttributeValueChangeEvent",
                             serviceOrderItem=[{"id": access, "state": "failed", "action": "add"}]))
    [fallout] = open_fallouts(order)
    assert fallout.reason_code == "UNEXPECTED_SOM_STATE" and fallout.service_order_item.state == "completed"
    order = som.fulfil(order)
    assert order.state == "held"  # the other service completed; the item waits on the agent

    done = retry_fallout(fallout=fallout, user=agent(django_user_model))

    assert "completed" in done
    fallout.refresh_from_db()
    assert fallout.resolution == "overtakenBySom" and fallout.resolved_at is not None
    order.refresh_from_db()
    assert order.state == "completed" and order.items.get().state == "completed"


def test_a_som_that_answers_read_backs_but_never_moves_the_order_puts_it_in_front_of_a_person(web, som, settings,
                                                                                             http_som):
    """Liveness first: an answer that repeats the same state is not progress. A SOM that accepted an order and
    never moves it (for longer than COM_SOM_SILENCE_FALLOUT_SECONDS) puts the order in front of a person, with
    SOM_SILENT, rather than keeping it waiting for ever."""
    order = submit(web.channel, superfibre("held-1", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    reconciliation.read_back(service_order_id=service_order.pk)  # SOM answers: in progress
    long_ago = timezone.now() - timedelta(seconds=settings.COM_SOM_SILENCE_FALLOUT_SECONDS + 60)
    ServiceOrder.objects.filter(pk=service_order.pk).update(last_heard_at=long_ago)

    reconciliation.read_back(service_order_id=service_order.pk)  # the same answer, past the silence window

    assert {f.reason_code for f in open_fallouts(order)} == {"SOM_SILENT"}
    order.refresh_from_db()
    assert order.state == "held"


# --- 4. an applied change sends the work it created at once, not when the watchdog finds it ----------------

def test_cancelling_an_order_with_a_built_item_sends_the_delete_at_once(web, som, django_user_model):
    body = order_body("c-now", customer="CUST-3003", productOrderItem=[
        item("1", offering="PO-STATIC-IP", place="ADDR-3003", ipVersion="IPv4"),
        item("2", offering="PO-INSTALL", place="ADDR-3003", installationType="standard", appointment="APT-2")])
    order = submit(web.channel, body)
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    som.complete(service_order, line_of(som, service_order, "Static-IP"))
    response = cancel(web, order.pk)
    assert response.json()["decision"]["outcome"] == "approval"

    mutations.approve_mutation(mutation_id=response.json()["id"], user=supervisor(django_user_model))

    [undo] = [so for so in service_orders(order) if so.purpose == "compensate"]  # the delete, queued now
    assert undo.outbox_message.status == "pending"
    assert [i["action"] for i in undo.outbox_message.payload["serviceOrderItem"]] == ["delete"]


def test_completing_a_service_by_hand_sends_the_services_that_waited_for_it(web, som, django_user_model):
    order = submit(web.channel, fibre_and_static_ip())
    [first] = service_orders(order)
    service_order_refused(service_order_id=first.pk, error={"code": "SOM_REFUSED", "status": 400, "attempts": 1})
    access = Fallout.objects.get(order=order, service_order_item__service_specification__code="Internet-Access")
    draft = MutationDraft(kind="manualCompletion", item_ids=("1",), reason_code="FALLOUT_REPAIR", reason="by hand",
                          changes={"fallout": access.pk, "evidence": "line patched by hand, ticket T-1"})
    requester = django_user_model.objects.get(username="agent")
    mutation, _ = mutations.request_mutation(order_id=order.pk, draft=draft, actor="user:agent", user=requester)

    mutations.approve_mutation(mutation_id=mutation.pk, user=django_user_model.objects.get(username="supervisor"))

    static_ip = ServiceOrderItem.objects.get(order=order, service_specification__code="Static-IP")
    assert static_ip.service_order is not None  # it relied on the access line, now completed: sent at once
    assert static_ip.service_order.outbox_message.status == "pending"


# --- 5. retrying an undeliverable service whose service order was since given up in part --------------------

def test_retrying_an_undeliverable_service_never_resends_a_service_the_agent_skipped(web, som, django_user_model):
    order = submit(web.channel, superfibre("unreach-1"))  # Internet-Access, WiFi-Management (optional), CPE
    [first] = service_orders(order)
    claimed = outbox.claim(first.outbox_message.pk)  # its last attempt failed and SOM does not have it
    with transaction.atomic():
        outbox.record(claimed[0].pk, claimed[1], outcome="dead", error="ConnectionError: refused")
        service_order_refused(service_order_id=first.pk, error={"code": "SOM_UNREACHABLE", "attempts": 1})
    by_code = {f.service_order_item.service_specification.code: f for f in open_fallouts(order)}
    user = agent(django_user_model)
    skip_optional_service(fallout=by_code["WiFi-Management"], user=user, reason="customer has own WiFi")
    first.refresh_from_db()
    assert first.state == "rejected"

    retry_fallout(fallout=by_code["Internet-Access"], user=user)

    assert OutboxMessage.objects.get(service_order=first).status == "dead"  # never resent with the WiFi in it
    [second] = [so for so in service_orders(order) if so.pk != first.pk]
    sent = [i["service"]["serviceSpecification"]["id"] for i in second.outbox_message.payload["serviceOrderItem"]]
    assert sent == ["Internet-Access"]
    retry_fallout(fallout=by_code["CPE-Management"], user=user)
    order = som.fulfil(order)
    assert order.state == "partial"  # without the WiFi the agent gave up
    assert ServiceOrderItem.objects.get(order=order, service_specification__code="WiFi-Management").state == "cancelled"


# --- 6. recording SOM's answer raised: the delivery will not come again, a person is told at once ----------

@pytest.fixture
def refuse_service_order_state(db):
    """A database trigger refusing to move a service order to a state: an exception halfway through recording
    SOM's answer, as the fault suite's inventory trigger is for completion."""
    made = []

    def refuse(state: str):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("CREATE OR REPLACE FUNCTION pf_refuse() RETURNS trigger AS $$ BEGIN "
                               "RAISE EXCEPTION 'refused by the test trigger'; END $$ LANGUAGE plpgsql")
                cursor.execute(f"CREATE TRIGGER pf_refuse BEFORE UPDATE ON orders_serviceorder FOR EACH ROW "
                               f"WHEN (NEW.state = '{state}') EXECUTE FUNCTION pf_refuse()")
            else:
                cursor.execute(f"CREATE TRIGGER pf_refuse BEFORE UPDATE ON orders_serviceorder "
                               f"WHEN NEW.state = '{state}' BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END")
        made.append(state)

    def allow():
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER pf_refuse" + (" ON orders_serviceorder" if connection.vendor == "postgresql"
                                                       else ""))
        made.clear()

    refuse.allow = allow
    yield refuse
    if made:
        allow()


@pytest.mark.parametrize("answer,recorded_state", [(201, "acknowledged"), (400, "rejected")])
def test_an_answer_that_cannot_be_recorded_goes_to_fallout_at_once_and_its_retry_records_it(
        web, som, http_som, refuse_service_order_state, django_user_model, answer, recorded_state):
    http_som.post_status = answer
    order = submit(web.channel, superfibre("boom-1", wifiManagement=False))
    [service_order] = service_orders(order)
    refuse_service_order_state(recorded_state)

    delivery.deliver(service_order.outbox_message.pk)

    message = OutboxMessage.objects.get(pk=service_order.outbox_message.pk)
    assert message.status == ("delivered" if answer == 201 else "dead")  # no delivery will come again
    [fallout] = open_fallouts(order)
    assert (fallout.reason_code, fallout.stage) == ("INTERNAL_ERROR", "submission")
    order.refresh_from_db()
    assert order.state == "held"
    refuse_service_order_state.allow()  # the cause is fixed

    retry_fallout(fallout=fallout, user=agent(django_user_model))

    service_order.refresh_from_db()
    assert service_order.state == recorded_state
    if answer == 400:
        assert {f.reason_code for f in open_fallouts(order)} == {"SOM_REFUSED"}  # in front of the desk, as refused
    else:
        order.refresh_from_db()
        assert order.state == "inProgress" and open_fallouts(order) == []


# --- 7. a channel's callback host that cannot be resolved for now ------------------------------------------

def test_a_callback_host_that_cannot_be_resolved_now_is_tried_again_not_given_up(web, settings):
    settings.COM_WEBHOOK_ALLOW_PRIVATE = True  # registered while it resolved (no check in the demo)
    response = web.post("/tmf-api/productOrderingManagement/v4/hub",
                        {"callback": "http://listener.pf-test.invalid/events"}, format="json")
    assert response.status_code == 201, response.content
    submit(web.channel, superfibre("dns-1"))
    [message] = OutboxMessage.objects.filter(kind=OutboxMessage.Kind.NOTIFICATION)[:1]
    settings.COM_WEBHOOK_ALLOW_PRIVATE = False  # production: the host is checked before each delivery

    assert delivery.deliver(message.pk) == "retry"  # the name does not resolve now: the DNS may be down

    message.refresh_from_db()
    assert message.status == "pending" and message.attempts == 1 and "does not resolve" in message.last_error
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=message.max_attempts - 1,
                                                       next_attempt_at=timezone.now())
    assert delivery.deliver(message.pk) == "dead"  # bounded: the last attempt gives up
    message.refresh_from_db()
    assert message.status == "dead"


def test_a_callback_host_resolving_to_a_private_address_is_still_refused_at_once(web, settings):
    settings.COM_WEBHOOK_ALLOW_PRIVATE = True
    web.post("/tmf-api/productOrderingManagement/v4/hub", {"callback": "http://localhost:9/events"}, format="json")
    submit(web.channel, superfibre("dns-2"))
    [message] = OutboxMessage.objects.filter(kind=OutboxMessage.Kind.NOTIFICATION)[:1]
    settings.COM_WEBHOOK_ALLOW_PRIVATE = False

    assert delivery.deliver(message.pk) == "dead"
    message.refresh_from_db()
    assert message.attempts == 1 and "loopback" in message.last_error


# --- 8. the sweeps never queue again work already queued -----------------------------------------------------

def test_the_read_back_sweep_leaves_a_service_order_already_queued_to_its_task(web, som):
    order = submit(web.channel, superfibre("quiet-1", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    ServiceOrder.objects.filter(pk=service_order.pk).update(last_heard_at=timezone.now() - timedelta(days=1))

    assert tasks.read_back_quiet_service_orders() == 1
    assert tasks.read_back_quiet_service_orders() == 0  # a backlog: the first read-back has not run yet

    service_order.refresh_from_db()
    assert service_order.readback_queued_until > timezone.now()
    ServiceOrder.objects.filter(pk=service_order.pk).update(readback_queued_until=timezone.now() - timedelta(seconds=1))
    assert tasks.read_back_quiet_service_orders() == 1  # its lease ran out: taken to be lost, queued again


def test_the_resume_sweep_queues_a_due_deferred_order_once(web):
    body = superfibre("later-1")
    body["requestedStartDate"] = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    order = submit(web.channel, body)
    assert order.state == "pending"
    ProductOrder.objects.filter(pk=order.pk).update(requested_start_date=timezone.now() - timedelta(seconds=1))

    assert tasks.resume_orders() == 1
    assert tasks.resume_orders() == 0  # its start task is queued: not queued again under a backlog


def test_som_resending_an_event_already_queued_does_not_queue_it_again(web, som, django_capture_on_commit_callbacks):
    order = submit(web.channel, installation("resend-1"))
    [service_order] = service_orders(order)
    som.accept(service_order)
    event = som.event(service_order)
    assert post_event(event).status_code == 201  # stored and queued; its task has not run yet

    with django_capture_on_commit_callbacks() as callbacks:
        assert post_event(event).status_code in (200, 201)  # SOM resends it (its delivery timed out)
    assert callbacks == []

    InboundEvent.objects.filter(event_id=event["eventId"]).update(enqueued_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks() as callbacks:
        post_event(event)  # the task was lost (its lease ran out): the resend queues it again
    assert len(callbacks) == 1


# --- 9. an event that keeps failing on an order that has ended -----------------------------------------------

def test_an_event_that_keeps_failing_on_an_ended_order_is_failed_not_swept_forever(
        web, som, settings, refuse_service_order_state):
    order = submit(web.channel, superfibre("ended-1"))
    [service_order] = service_orders(order)
    assert cancel(web, order.pk).json()["state"] == "done"  # withdrawn before sending: the order is cancelled
    order.refresh_from_db()
    assert order.state == "cancelled"
    som.receive(service_order)  # SOM speaks of it all the same (a stray event), and applying it raises
    event = som.event(service_order)
    assert post_event(event).status_code == 201
    stored = InboundEvent.objects.get(event_id=event["eventId"])
    refuse_service_order_state("rejected")

    for _ in range(settings.COM_MAX_PROCESSING_ATTEMPTS):
        assert tasks.process_som_event(stored.pk).startswith("error recorded")

    stored.refresh_from_db()
    assert stored.status == "failed" and stored.attempts == settings.COM_MAX_PROCESSING_ATTEMPTS
    InboundEvent.objects.filter(pk=stored.pk).update(received_at=timezone.now() - timedelta(minutes=5),
                                                     enqueued_until=None)
    assert not selectors.unprocessed_events().filter(pk=stored.pk).exists()
    assert not Fallout.objects.filter(order=order, resolved_at__isnull=True).exists()  # nothing left to hold


# --- 10. a recheck that lost the race to another one -----------------------------------------------------------

def test_a_recheck_of_an_order_no_longer_held_is_skipped_not_counted_as_an_error(web, settings):
    order = submit(web.channel, superfibre("race-1"))
    assert order.state == "inProgress"  # another recheck released it first

    for _ in range(settings.COM_MAX_PROCESSING_ATTEMPTS + 1):
        assert tasks.recheck_order(order.pk, "productReleased").startswith("skipped")

    assert not ProcessingError.objects.filter(order=order).exists()
    assert not Fallout.objects.filter(order=order).exists()


# --- 11. the TMF622 order in a notification: below the services, a fixed number of queries -----------------

def test_notifying_an_order_event_takes_the_same_queries_whatever_the_number_of_items(web, settings):
    settings.COM_WEBHOOK_ALLOW_PRIVATE = True
    web.post("/tmf-api/productOrderingManagement/v4/hub", {"callback": "http://listener.test/events"}, format="json")
    small = submit(web.channel, fibre_and_static_ip("n-2"))
    large = submit(web.channel, order_body("n-4", customer="CUST-3003", productOrderItem=[
        item("1", offering="PO-BIZ-FIBRE-1G", place="ADDR-3003", downloadSpeed=1000, sla="standard"),
        item("2", offering="PO-STATIC-IP", place="ADDR-3003", relationships=("1",), ipVersion="IPv4"),
        item("3", offering="PO-INSTALL", place="ADDR-3003", installationType="standard", appointment="APT-3"),
        item("4", offering="PO-INSTALL", place="ADDR-3003", installationType="standard", appointment="APT-4")]))

    def queries(order):
        order = ProductOrder.objects.get(pk=order.pk)
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            assert notifications.notify_order_event(order, "ProductOrderAttributeValueChangeEvent") == 1
        return len(captured)

    assert queries(large) == queries(small)
    body = Notification.objects.filter(order=large).latest("created_at").payload["event"]["productOrder"]
    assert [i["id"] for i in body["productOrderItem"]] == ["1", "2", "3", "4"]
    assert body["productOrderItem"][1]["productOrderItemRelationship"][0]["id"] == "1"


def test_services_never_import_the_api_layer():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    sources = [*(root / "orders" / "services").glob("*.py"), root / "catalog" / "services.py",
               *(root / "inventory").glob("services*")]
    offending = [f"{path.relative_to(root)}: {line.strip()}" for path in sources if path.is_file()
                 for line in path.read_text().splitlines()
                 if re.search(r"orders\.api|from \.api|catalog\.api|inventory\.api", line)]
    assert offending == []
