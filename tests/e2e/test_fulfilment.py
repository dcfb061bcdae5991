"""Order to inventory for real: TMF622 in, Celery worker on Redis, TMF641 to the SOM simulator over HTTP,
signed callbacks back, PostgreSQL underneath."""
import json
import time

import pytest

from inventory.models import Product
from orders.models import BillingIntent, OrderCheckResult, ProductOrder, ServiceOrderItem
from tests.orders.bodies import item, order_body

from .conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
BASE = "/tmf-api/productOrderingManagement/v4"
FINAL = {"completed", "failed", "partial", "rejected", "held", "cancelled"}


@pytest.fixture
def channel(make_channel):
    return make_channel("e2e-portal")


def submit(channel, body) -> str:
    response = channel.post(f"{BASE}/productOrder", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def settle(order_id, states=FINAL, timeout=40) -> ProductOrder:
    def done():
        order = ProductOrder.objects.get(pk=order_id)
        return order if order.state in states else None

    return wait_for(done, timeout=timeout, what=f"order {order_id} to reach one of {sorted(states)}")


def plan_of(order_id):
    return [(s.service_specification_id and s.service_specification.code, s.action, s.state)
            for s in ServiceOrderItem.objects.filter(order_id=order_id).select_related("service_specification")
            .order_by("sequence")]


def sim_items(som, spec=None):
    lines = [(o["externalId"], line["service"]["serviceSpecification"]["id"], line["action"])
             for o in som.orders() for line in o["serviceOrderItem"]]
    return [line for line in lines if spec is None or line[1] == spec]


def broadband(channel, customer="CUST-1001", ext="bb-1", wifi=True):
    body = order_body(ext, customer=customer,
                      productOrderItem=[item(downloadSpeed=200, wifiManagement=wifi, routerModel="Nokia Beacon 6")])
    return settle(submit(channel, body))


def test_happy_path_of_a_three_cfs_product(som, channel):
    order = broadband(channel)
    assert order.state == "completed", order.state_reason
    assert [p[:2] for p in plan_of(order.pk)] == [("Internet-Access", "add"), ("WiFi-Management", "add"),
                                                  ("CPE-Management", "add")]
    product = Product.objects.get(created_by_order=order)
    assert product.status == "active"
    assert sorted(s["service_spec"] for s in product.realizing_services) == \
        ["CPE-Management", "Internet-Access", "WiFi-Management"]
    assert all(s["service_id"].startswith("SVC-") for s in product.realizing_services)
    assert BillingIntent.objects.get(order=order).action == "activate"
    assert som.stats()["serviceOrdersCreated"] == 1
    types = list(order.events.values_list("type", flat=True))
    for expected in ("captured", "checkRecorded", "decomposed", "serviceOrderSubmitted", "serviceOrderAccepted",
                     "serviceStateChanged", "inventoryUpdated", "billingHandedOff"):
        assert expected in types
    response = channel.get(f"/tmf-api/productInventory/v4/product/{product.pk}")
    assert response.status_code == 200 and response.json()["status"] == "active"


def test_bundle_sharing_a_cfs_builds_it_once(som, channel):
    body = order_body("biz-1", customer="CUST-3003", productOrderItem=[
        item("1", offering="PO-BIZ-FIBRE-1G", place="ADDR-3003", downloadSpeed=1000, sla="premium"),
        item("2", offering="PO-MANAGED-ROUTER", place="ADDR-3003", routerModel="Cisco C1111"),
    ])
    order = settle(submit(channel, body))
    assert order.state == "completed", order.state_reason
    cpe = ServiceOrderItem.objects.filter(order=order, service_specification__code="CPE-Management")
    assert cpe.count() == 1
    assert sorted(cpe.get().product_items.values_list("item_id", flat=True)) == ["1", "2"]
    assert len(sim_items(som, "CPE-Management")) == 1
    # Router-Configuration relies on CPE-Management: sent in a later service order
    assert som.stats()["serviceOrdersCreated"] == 2
    assert Product.objects.filter(created_by_order=order, status="active").count() == 2


def test_modify_of_an_active_product_sends_only_the_changed_cfs(som, channel):
    first = broadband(channel, ext="mod-1")
    product = Product.objects.get(created_by_order=first)
    body = order_body("mod-2", productOrderItem=[
        item(action="modify", offering="PO-SUPERFIBRE-200", product_id=product.pk, place=None, downloadSpeed=500)])
    order = settle(submit(channel, body))
    assert order.state == "completed", order.state_reason
    assert [p[:2] for p in plan_of(order.pk)] == [("Internet-Access", "modify")]
    product.refresh_from_db()
    assert product.characteristics["downloadSpeed"] == 500 and product.version == 2
    assert sim_items(som)[-1][1:] == ("Internet-Access", "modify")


def test_delete_of_a_product(som, channel):
    first = broadband(channel, ext="del-1")
    product = Product.objects.get(created_by_order=first)
    body = order_body("del-2", productOrderItem=[item(action="delete", product_id=product.pk, place=None)])
    order = settle(submit(channel, body))
    assert order.state == "completed", order.state_reason
    assert sorted(p[:2] for p in plan_of(order.pk)) == [("CPE-Management", "delete"), ("Internet-Access", "delete"),
                                                        ("WiFi-Management", "delete")]
    product.refresh_from_db()
    assert product.status == "terminated"


def test_a_cfs_failing_twice_then_succeeding_is_retried(som, channel):
    som.rule("fail_first", count=2, match={"serviceSpecification": "Internet-Access"})
    order = broadband(channel, ext="retry-1")
    assert order.state == "completed", order.state_reason
    access = ServiceOrderItem.objects.get(order=order, service_specification__code="Internet-Access")
    assert access.attempts == 3
    assert len(sim_items(som, "Internet-Access")) == 3
    assert order.events.filter(type="retryScheduled").count() == 2


def test_an_optional_cfs_failing_gives_partial(som, channel):
    som.rule("fail", match={"serviceSpecification": "WiFi-Management"})
    order = broadband(channel, ext="opt-1")
    assert order.state == "partial"
    assert order.items.get().state == "completed"
    product = Product.objects.get(created_by_order=order)
    assert product.status == "active"
    assert "WiFi-Management" not in [s["service_spec"] for s in product.realizing_services]
    assert order.events.filter(type="partialAccepted").exists()


def test_a_mandatory_cfs_failing_after_a_sibling_completed_is_compensated(som, channel):
    som.rule("fail", match={"serviceSpecification": "CPE-Management"})
    order = broadband(channel, ext="comp-1", wifi=False)
    assert order.state == "failed"
    assert order.items.get().state == "failed"
    undo = ServiceOrderItem.objects.get(order=order, compensates__isnull=False)
    assert (undo.service_specification.code, undo.action, undo.state) == ("Internet-Access", "delete", "completed")
    assert ("Internet-Access", "delete") in [line[1:] for line in sim_items(som)]
    assert not Product.objects.filter(created_by_order=order).exists()
    assert order.events.filter(type="compensationStarted").exists()


def test_som_unreachable_for_a_while_then_back(som, channel):
    som.stop()
    order_id = submit(channel, order_body("down-1", productOrderItem=[
        item(downloadSpeed=200, wifiManagement=False)]))
    from orders.models import OutboxMessage

    wait_for(lambda: OutboxMessage.objects.filter(order_id=order_id, kind="serviceOrder", attempts__gte=2).exists(),
             what="failed delivery attempts")
    som.start()
    order = settle(order_id, timeout=60)
    assert order.state == "completed", order.state_reason
    assert som.stats()["externalIds"] == {f"{order_id}-SO1": 1}
    assert som.stats()["serviceOrdersCreated"] == 1


def test_som_answering_503_then_accepting(som, channel):
    som.rule("http_503", count=3)
    order = broadband(channel, ext="503-1")
    assert order.state == "completed"
    assert som.stats()["rejected503"] == 3 and som.stats()["serviceOrdersCreated"] == 1


@pytest.mark.parametrize("behaviour", ["duplicate_events", "out_of_order"])
def test_duplicate_and_out_of_order_callbacks_reach_the_same_final_state(som, channel, behaviour):
    som.rule(behaviour)
    order = broadband(channel, ext=f"{behaviour}-1")
    assert order.state == "completed"
    assert [p[2] for p in plan_of(order.pk)] == ["completed", "completed", "completed"]
    assert Product.objects.filter(created_by_order=order).count() == 1
    assert BillingIntent.objects.filter(order=order).count() == 1


def test_fraud_velocity_holds_an_order(som, channel, settings):
    settings.COM_FRAUD_VELOCITY_MAX_ORDERS = 1
    broadband(channel, customer="CUST-3003", ext="fraud-1")
    body = order_body("fraud-2", customer="CUST-3003", productOrderItem=[
        item(offering="PO-BIZ-FIBRE-1G", place="ADDR-3003", downloadSpeed=1000, sla="standard")])
    order = settle(submit(channel, body))
    assert order.state == "held"
    assert order.state_reason_code == "FRAUD_VELOCITY"
    assert not ServiceOrderItem.objects.filter(order=order).exists()


def test_an_address_that_is_not_serviceable_is_rejected(som, channel):
    body = order_body("nserv-1", productOrderItem=[item(place="ADDR-9999", downloadSpeed=200)])
    order = settle(submit(channel, body))
    assert order.state == "rejected"
    result = OrderCheckResult.objects.get(order=order, check_code="serviceability")
    assert result.outcome == "fail" and result.reason_code == "NOT_SERVICEABLE"
    assert som.stats()["serviceOrdersCreated"] == 0


def test_a_silent_som_is_read_back_and_then_falls_out(som, channel, settings):
    from orders.models import Fallout
    from orders.selectors import service_orders_to_read_back
    from orders.services.reconciliation import read_back

    som.rule("silent")
    settings.COM_SOM_POLL_AFTER_SECONDS = 0
    settings.COM_SOM_SILENCE_FALLOUT_SECONDS = 1
    order_id = submit(channel, order_body("silent-1", productOrderItem=[item(downloadSpeed=200, wifiManagement=False)]))
    service_order = wait_for(lambda: service_orders_to_read_back().filter(order_id=order_id).first(),
                             what="an acknowledged, silent service order")
    assert read_back(service_order_id=service_order.pk) == "no change"  # SOM: still acknowledged
    time.sleep(1.2)
    assert read_back(service_order_id=service_order.pk) == "no change since the last read-back"
    order = ProductOrder.objects.get(pk=order_id)
    assert order.state == "held"
    assert Fallout.objects.filter(order=order, reason_code="SOM_SILENT").count() == 2


def test_the_same_order_sent_concurrently_creates_one_order(som, make_channel):
    """Five identical requests at once (a channel retrying on timeout): one order, every answer names it."""
    import threading

    from django.db import connection
    from rest_framework.test import APIClient

    token = make_channel("race").token
    body = json.dumps(order_body("race-1", productOrderItem=[item(downloadSpeed=200, wifiManagement=False)]))
    answers, barrier = [], threading.Barrier(5)

    def send():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        barrier.wait()
        response = client.post(f"{BASE}/productOrder", data=body, content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY="race-key")
        answers.append((response.status_code, response.json().get("id")))
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 5 and {status for status, _ in answers} == {201}
    assert len({order_id for _, order_id in answers}) == 1
    assert ProductOrder.objects.filter(external_id="race-1").count() == 1
    settle(answers[0][1])
