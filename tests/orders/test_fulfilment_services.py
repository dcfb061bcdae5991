"""Fulfilment services: the stored plan, waves by dependency, SOM's answers and the outbox relay."""
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import ServiceSpecification
from orders.models import Fallout, OrderEvent, OutboxMessage, ServiceOrder, ServiceOrderItem
from orders.services import delivery, outbox
from orders.services.decomposition import decompose_order
from orders.services.submission import service_order_accepted, service_order_refused
from tests.tmf_schema import TMF641, assert_valid

from .bodies import item, order_body
from .flows import plan, service_orders, submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")
UNREACHABLE = "http://127.0.0.1:9/tmf-api/serviceOrdering/v4"  # port 9 (discard) refuses connections


# --- the plan --------------------------------------------------------------------------------------

def test_the_stored_plan_of_superfibre(web):
    order = submit(web.channel, superfibre(downloadSpeed=500))

    rows = list(ServiceOrderItem.objects.filter(order=order).order_by("sequence"))

    assert [(r.item_ref, r.service_specification.code, r.action) for r in rows] == [
        ("1", "Internet-Access", "add"), ("2", "WiFi-Management", "add"), ("3", "CPE-Management", "add")]
    assert [r.characteristics for r in rows] == [
        {"downloadSpeed": 500, "accessTechnology": "GPON"},
        {"wifiManagement": True, "accessTechnology": "GPON"},
        {"routerModel": "Nokia Beacon 6", "accessTechnology": "GPON"},
    ]
    assert [(r.mandatory, r.max_retries, r.failure_policy) for r in rows] == [
        (True, 2, "compensate"), (False, 0, "fallout"), (True, 2, "compensate")]
    assert [r.plan_key for r in rows] == ["shared:ADDR-1001:Internet-Access", "1:WiFi-Management",
                                          "shared:ADDR-1001:CPE-Management"]
    assert all(list(r.product_items.values_list("item_id", flat=True)) == ["1"] for r in rows)
    assert all(r.place == {"id": "ADDR-1001", "role": "installationAddress", "name": ""} for r in rows)
    assert all(r.attempts == 1 and r.service_order.sequence == 1 for r in rows)
    decomposed = order.events.get(type=OrderEvent.Type.DECOMPOSED)
    assert [p["ref"] for p in decomposed.payload["plan"]] == ["1", "2", "3"]


def test_without_wifi_management_the_optional_cfs_is_not_planned(web):
    order = submit(web.channel, superfibre(wifiManagement=False))

    assert [p[1] for p in plan(order)] == ["Internet-Access", "CPE-Management"]


def test_decomposing_twice_creates_nothing_new(web):
    order = submit(web.channel, superfibre())
    first = list(ServiceOrderItem.objects.filter(order=order).values_list("pk", flat=True).order_by("pk"))
    events = order.events.count()

    with transaction.atomic():
        again = decompose_order(order)

    assert sorted(r.pk for r in again) == first
    assert ServiceOrderItem.objects.filter(order=order).count() == 3
    assert order.events.count() == events
    existing = ServiceOrderItem.objects.filter(order=order).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceOrderItem.objects.create(
            order=order, item_ref="99", sequence=99, plan_key=existing.plan_key,
            service_specification=existing.service_specification, action="add", failure_policy="fallout")


def test_the_service_order_request_is_tmf641(web):
    order = submit(web.channel, superfibre())

    request = OutboxMessage.objects.get(order=order).payload

    assert_valid(TMF641, "ServiceOrder_Create", request)
    assert request["externalId"] == f"{order.pk}-SO1"
    assert request["externalReference"] == [{"name": order.pk, "externalReferenceType": "ProductOrder"}]
    line = request["serviceOrderItem"][0]
    assert line["service"]["serviceSpecification"]["id"] == "Internet-Access"
    assert {"name": "accessTechnology", "value": "GPON"} in line["service"]["serviceCharacteristic"]


def test_static_ip_waits_for_internet_access_then_goes_in_a_second_service_order(web, som):
    order = submit(web.channel, order_body("ip-1", productOrderItem=[
        item("1", downloadSpeed=200),
        item("2", offering="PO-STATIC-IP", ipVersion="IPv4", relationships=("1",)),
    ]))
    static_ip = ServiceOrderItem.objects.get(order=order, service_specification__code="Static-IP")
    access = ServiceOrderItem.objects.get(order=order, service_specification__code="Internet-Access")
    assert list(static_ip.depends_on.all()) == [access]

    [first] = service_orders(order)
    assert [i.service_specification.code for i in first.items.order_by("sequence")] == [
        "Internet-Access", "WiFi-Management", "CPE-Management"]
    static_ip.refresh_from_db()
    assert static_ip.state == "planned" and static_ip.service_order is None and static_ip.attempts == 0

    som.accept(first)
    som.start(first)
    assert len(service_orders(order)) == 1  # still waiting: Internet-Access is only in progress
    som.complete(first, access.item_ref)

    second = service_orders(order)[1]
    assert (second.sequence, second.purpose, second.external_id) == (2, "fulfil", f"{order.pk}-SO2")
    assert [i.pk for i in second.items.all()] == [static_ip.pk]
    request = second.outbox_message.payload
    assert [line["service"]["serviceSpecification"]["id"] for line in request["serviceOrderItem"]] == ["Static-IP"]
    assert "serviceOrderItemRelationship" not in request["serviceOrderItem"][0]  # its dependency is done

    order = som.fulfil(order)
    assert order.state == "completed"
    assert [i.state for i in order.items.all()] == ["completed", "completed"]


# --- SOM's answer to a service order -----------------------------------------------------------------

def test_service_order_accepted_acknowledges_and_nothing_more(web):
    order = submit(web.channel, superfibre())
    [service_order] = service_orders(order)

    service_order_accepted(service_order_id=service_order.pk, response={"id": "SOM-1", "state": "acknowledged"})

    service_order.refresh_from_db()
    assert service_order.state == "acknowledged" and service_order.som_order_id == "SOM-1"
    assert service_order.acknowledged_at is not None
    assert {i.state for i in service_order.items.all()} == {"acknowledged"}
    order.refresh_from_db()
    assert order.state == "inProgress"
    assert [i.state for i in order.items.all()] == ["inProgress"]
    assert order.events.filter(type=OrderEvent.Type.SERVICE_ORDER_ACCEPTED).count() == 1

    # a 200 to a resend (the SOM recognised the externalId) changes nothing
    service_order_accepted(service_order_id=service_order.pk, response={"id": "SOM-OTHER"})
    service_order.refresh_from_db()
    assert service_order.state == "acknowledged" and service_order.som_order_id == "SOM-1"
    assert order.events.filter(type=OrderEvent.Type.SERVICE_ORDER_ACCEPTED).count() == 1


def test_service_order_refused_rejects_its_items_and_sends_them_to_fallout(web):
    order = submit(web.channel, superfibre())
    [service_order] = service_orders(order)
    error = {"code": "SOM_REFUSED", "status": 400, "attempts": 1, "detail": {"message": "bad request"}}

    service_order_refused(service_order_id=service_order.pk, error=error)

    service_order.refresh_from_db()
    assert service_order.state == "rejected" and service_order.error == error
    # a 4xx is fallout: no retry (SOM would refuse the same request again), no compensation
    assert [(p[1], p[3]) for p in plan(order)] == [
        ("Internet-Access", "rejected"), ("WiFi-Management", "rejected"), ("CPE-Management", "rejected")]
    assert len(service_orders(order)) == 1
    fallouts = Fallout.objects.filter(order=order, resolved_at__isnull=True)
    assert sorted(f.service_order_item.service_specification.code for f in fallouts) == \
        ["CPE-Management", "Internet-Access", "WiFi-Management"]
    assert {f.reason_code for f in fallouts} == {"SOM_REFUSED"}
    types = list(order.events.values_list("type", flat=True))
    assert types.count("serviceOrderRefused") == 1 and types.count("falloutOpened") == 3
    assert "retryScheduled" not in types
    order.refresh_from_db()
    assert order.state == "held" and order.items.get().state == "held"

    before = order.events.count()
    service_order_refused(service_order_id=service_order.pk, error=error)  # told twice: nothing more
    assert order.events.count() == before and len(service_orders(order)) == 1


# --- the outbox relay --------------------------------------------------------------------------------

def test_delivery_to_an_unreachable_som_backs_off_then_gives_up(web, settings, django_capture_on_commit_callbacks):
    settings.COM_SOM_ENDPOINTS = {"default": UNREACHABLE}
    settings.COM_OUTBOX_MAX_ATTEMPTS = 3
    settings.COM_OUTBOX_BACKOFF = 2
    settings.COM_HTTP_TIMEOUT = 2
    order = submit(web.channel, superfibre(wifiManagement=False))
    [service_order] = service_orders(order)
    message = service_order.outbox_message
    assert message.max_attempts == 3

    def due_now():
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())

    with django_capture_on_commit_callbacks() as callbacks:
        assert delivery.deliver(message.pk) == "retry"
    message.refresh_from_db()
    assert message.status == "pending" and message.attempts == 1 and message.claimed_until is None
    assert "ConnectionError" in message.last_error and message.response_status is None
    wait = (message.next_attempt_at - timezone.now()).total_seconds()
    assert 1 < wait <= 2
    assert len(callbacks) == 1  # the next attempt, scheduled once this commits

    assert delivery.deliver(message.pk) == "skipped"  # not due yet
    message.refresh_from_db()
    assert message.attempts == 1

    due_now()
    assert delivery.deliver(message.pk) == "retry"
    message.refresh_from_db()
    assert message.attempts == 2
    assert 3 < (message.next_attempt_at - timezone.now()).total_seconds() <= 4  # doubled

    due_now()
    assert delivery.deliver(message.pk) == "dead"
    message.refresh_from_db()
    assert message.status == "dead" and message.attempts == 3
    assert message.pk not in outbox.due()
    service_order.refresh_from_db()
    # SOM could not be asked whether it has it either: not rejected (it may have it), held for an agent, whose
    # retry resends the same request (same externalId), so SOM can never build it twice
    assert service_order.state == "planned"
    assert service_order.error["code"] == "SOM_UNREACHABLE" and service_order.error["attempts"] == 3
    assert order.events.filter(type=OrderEvent.Type.SERVICE_ORDER_UNDELIVERABLE).count() == 1
    # the bounded attempts are spent: the items go to an agent, nothing is sent again on its own
    assert len(service_orders(order)) == 1
    assert set(Fallout.objects.filter(order=order).values_list("reason_code", flat=True)) == {"SOM_UNREACHABLE"}
    order.refresh_from_db()
    assert order.state == "held"
    assert delivery.deliver(message.pk) == "skipped"  # a dead message is never sent again


def test_a_4xx_answer_is_not_retried(web, settings):
    import http.server
    import threading

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"code": "400", "reason": "bad", "@type": "Error"}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        settings.COM_SOM_ENDPOINTS = {"default": f"http://127.0.0.1:{server.server_port}/som"}
        order = submit(web.channel, superfibre(wifiManagement=False))
        [service_order] = service_orders(order)

        assert delivery.deliver(service_order.outbox_message.pk) == "refused"
    finally:
        server.shutdown()
        server.server_close()

    message = OutboxMessage.objects.get(pk=service_order.outbox_message.pk)
    assert message.status == "dead" and message.attempts == 1 and message.response_status == 400
    service_order.refresh_from_db()
    assert service_order.state == "rejected" and service_order.error["code"] == "SOM_REFUSED"
    assert order.events.filter(type=OrderEvent.Type.SERVICE_ORDER_REFUSED).count() == 1


def test_the_sweep_hands_out_only_due_unclaimed_pending_messages(web):
    order = submit(web.channel, superfibre())
    first = OutboxMessage.objects.get(order=order)
    other = submit(web.channel, superfibre("sf-2", customer="CUST-3003", place="ADDR-3003"))
    second = OutboxMessage.objects.get(order=other)
    assert outbox.due() == []  # each has its delivery task queued (on commit): the sweep does not queue another
    OutboxMessage.objects.update(enqueued_until=timezone.now() - timedelta(seconds=1))  # those tasks were lost
    assert outbox.due() == [first.pk, second.pk]
    assert outbox.due() == []  # handed out once: queued again

    OutboxMessage.objects.update(enqueued_until=None)
    OutboxMessage.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=1))
    OutboxMessage.objects.filter(pk=second.pk).update(claimed_until=timezone.now() + timedelta(minutes=1))
    assert outbox.due() == []
    OutboxMessage.objects.filter(pk=second.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert outbox.due() == [second.pk]  # a lease that expired: the sender died, send again


def test_a_service_specification_of_another_som_goes_in_its_own_service_order(web, settings):
    settings.COM_SOM_ENDPOINTS = {"default": "http://som-a.test/v4", "wifi": "http://som-b.test/v4"}
    ServiceSpecification.objects.filter(code="WiFi-Management").update(som="wifi")

    order = submit(web.channel, superfibre())

    by_som = {so.som: so for so in service_orders(order)}
    assert sorted(by_som) == ["default", "wifi"]
    assert [i.service_specification.code for i in by_som["wifi"].items.all()] == ["WiFi-Management"]
    assert by_som["wifi"].outbox_message.url == "http://som-b.test/v4/serviceOrder"
    assert ServiceOrder.objects.filter(order=order).count() == 2
