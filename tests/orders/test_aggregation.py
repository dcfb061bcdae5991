"""Aggregation: item state from its services, order state from its items, through real flows."""
import pytest

from inventory.models import Product
from orders.models import (
    BillingIntent,
    Fallout,
    HubSubscription,
    ItemState,
    OrderEvent,
    OrderState,
    OutboxMessage,
    ProductOrderItem,
    ServiceOrderItem,
    SomState,
)
from orders.services.aggregation import item_outcome, order_outcome

from .bodies import item, order_body
from .flows import installation, plan, service_orders, submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")


def notifications(order, event_type):
    return OutboxMessage.objects.filter(order=order, kind=OutboxMessage.Kind.NOTIFICATION,
                                        notification__payload__eventType=event_type)


# --- item_outcome / order_outcome ------------------------------------------------------------------

def service(state, mandatory=True, compensates_id=None):
    return ServiceOrderItem(state=state, mandatory=mandatory, compensates_id=compensates_id)


def line(action="modify", compensating=False):
    from django.utils import timezone

    return ProductOrderItem(action=action, compensation_started_at=timezone.now() if compensating else None)


@pytest.mark.parametrize("states,expected", [
    ([], ItemState.COMPLETED),  # nothing to build (a modify that changes no service input)
    ([("completed", True), ("completed", False)], ItemState.COMPLETED),
    ([("completed", True), ("failed", False)], ItemState.COMPLETED),  # an optional one may be missing
    ([("completed", True), ("rejected", False)], ItemState.COMPLETED),
    ([("completed", True), ("failed", True)], ItemState.FAILED),
    ([("completed", True), ("rejected", True)], ItemState.FAILED),
    ([("completed", True), ("inProgress", True)], None),
    ([("failed", True), ("planned", True)], None),  # a compensation or retry still to come
    ([("completed", True), ("acknowledged", False)], None),
    ([("completed", True), ("partial", True)], ItemState.FAILED),  # TMF641 partial: not built as ordered
    ([("completed", True), ("cancelled", True)], ItemState.FAILED),  # cancelled (e.g. its dependency failed)
    ([("completed", True), ("cancelled", False)], ItemState.COMPLETED),
    ([("completed", True), ("assessingCancellation", True)], None),
])
def test_item_outcome(states, expected):
    assert item_outcome(line(), [service(s, m) for s, m in states]) == expected


def test_an_add_item_with_nothing_to_build_never_completes_by_itself():
    assert item_outcome(line("add"), []) is None
    assert item_outcome(line("delete"), []) == ItemState.COMPLETED  # every service is shared: nothing to remove


def test_a_compensating_item_fails_once_its_undo_is_done():
    assert item_outcome(line(compensating=True), [service("completed"), service("planned", compensates_id=1)]) is None
    assert item_outcome(line(compensating=True), [service("completed"), service("completed", compensates_id=1)]) \
        == ItemState.FAILED


def test_item_outcome_judges_primaries_not_compensations():
    primaries = [service("completed"), service("failed")]
    assert item_outcome(line(), primaries + [service("completed", compensates_id=1)]) == ItemState.FAILED
    assert item_outcome(line(), primaries + [service("planned", compensates_id=1)]) is None
    # a failed compensation of a completed service does not make the item fail by itself
    assert item_outcome(line(), [service("completed"), service("failed", compensates_id=1)]) == ItemState.COMPLETED


def test_order_outcome():
    def items(*states):
        return [ProductOrderItem(pk=n, state=s) for n, s in enumerate(states, start=1)]

    assert order_outcome(items("completed", "completed"), {}) == OrderState.COMPLETED
    assert order_outcome(items("completed", "failed"), {}) == OrderState.PARTIAL
    assert order_outcome(items("failed", "failed"), {}) == OrderState.FAILED
    assert order_outcome(items("rejected"), {}) == OrderState.FAILED
    degraded = {1: [service("completed"), service("failed", mandatory=False)]}
    assert order_outcome(items("completed"), degraded) == OrderState.PARTIAL
    compensation_failed = {1: [service("completed"), service("failed", compensates_id=9)]}
    assert order_outcome(items("completed"), compensation_failed) == OrderState.COMPLETED


# --- real flows ------------------------------------------------------------------------------------

def test_all_services_completed_completes_the_order_with_product_and_billing(web, som):
    order = som.fulfil(submit(web.channel, superfibre()))

    assert order.state == "completed" and order.completion_date is not None
    line = order.items.get()
    assert line.state == "completed"
    product = Product.objects.get(created_by_order=order)
    assert line.product == product
    assert product.status == "active" and product.customer_id == "CUST-1001"
    assert sorted(s["service_spec"] for s in product.realizing_services) == [
        "CPE-Management", "Internet-Access", "WiFi-Management"]
    assert all(s["service_id"].startswith("SVC-") for s in product.realizing_services)
    billing = BillingIntent.objects.get(order=order)
    assert (billing.action, billing.product, billing.customer_id) == ("activate", product, "CUST-1001")
    assert [p["amount"] for p in billing.prices] == ["39.99", "49.00"]
    types = list(order.events.values_list("type", flat=True))
    assert {"serviceOrderAccepted", "serviceStateChanged", "itemStateChanged", "inventoryUpdated",
            "billingHandedOff"} <= set(types)
    assert order.events.filter(type="stateChanged", payload__to="completed").count() == 1


def test_a_finished_order_is_stable(web, som):
    order = som.fulfil(submit(web.channel, superfibre()))
    [service_order] = service_orders(order)

    event = som.report(som.event(service_order))  # SOM repeats its final state under a new eventId

    order.refresh_from_db()
    assert order.state == "completed"
    assert Product.objects.filter(created_by_order=order).count() == 1
    assert BillingIntent.objects.filter(order=order).count() == 1
    assert order.events.filter(type="stateChanged", payload__to="completed").count() == 1
    event.refresh_from_db()
    assert event.processed_at is not None and event.outcome == "no change"


def test_an_optional_service_failing_gives_partial(web, som):
    som.fail("WiFi-Management")

    order = som.fulfil(submit(web.channel, superfibre()))

    assert order.state == "partial"
    assert order.items.get().state == "completed"
    product = Product.objects.get(created_by_order=order)
    assert product.status == "active"
    assert sorted(s["service_spec"] for s in product.realizing_services) == ["CPE-Management", "Internet-Access"]
    assert order.events.filter(type=OrderEvent.Type.PARTIAL_ACCEPTED).count() == 1
    assert BillingIntent.objects.get(order=order).action == "activate"


def test_a_mandatory_service_failing_with_retries_left_is_sent_again(web, som):
    som.fail("Internet-Access", times=1)
    order = submit(web.channel, superfibre(wifiManagement=False))
    [first] = service_orders(order)

    som.run(first)

    access = ServiceOrderItem.objects.get(order=order, service_specification__code="Internet-Access")
    retry = service_orders(order)[1]
    assert (retry.sequence, retry.purpose, retry.state) == (2, "retry", "planned")
    assert access.service_order == retry and access.attempts == 2 and access.state == "planned"
    assert [line["id"] for line in retry.outbox_message.body["serviceOrderItem"]] == [access.item_ref]
    order.refresh_from_db()
    assert order.state == "inProgress" and order.items.get().state == "inProgress"
    assert order.events.filter(type=OrderEvent.Type.RETRY_SCHEDULED).count() == 1

    order = som.fulfil(order)
    assert order.state == "completed"
    access.refresh_from_db()
    assert access.state == "completed" and access.attempts == 2


def test_a_mandatory_service_with_the_fallout_policy_holds_item_and_order(web, som):
    HubSubscription.objects.create(channel=web.channel, callback="http://listener.test/hub")
    som.fail("ONT-Installation")

    order = som.fulfil(submit(web.channel, installation()))

    assert order.state == "held" and order.state_reason_code == "FALLOUT"
    line = order.items.get()
    assert line.state == "held" and "ONT-Installation failed after 1 attempt(s)" in line.state_reason
    fallout = Fallout.objects.get(order=order)
    assert fallout.is_open and fallout.reason_code == "SERVICE_FAILED" and list(fallout.items.all()) == [line]
    assert fallout.service_order_item.service_specification.code == "ONT-Installation"
    assert fallout.context["error"]["code"] == "SIM-FAIL" and fallout.context["attempts"] == 1
    assert notifications(order, "ProductOrderInformationRequiredEvent").count() == 1
    assert notifications(order, "ProductOrderStateChangeEvent").filter(
        notification__payload__event__productOrder__state="held").count() == 1
    assert not Product.objects.filter(created_by_order=order).exists()


def test_without_a_hub_listener_a_fallout_queues_no_notification(web, som):
    som.fail("ONT-Installation")

    order = som.fulfil(submit(web.channel, installation()))

    assert order.state == "held"
    assert not OutboxMessage.objects.filter(order=order, kind=OutboxMessage.Kind.NOTIFICATION).exists()


def test_compensate_policy_undoes_the_completed_sibling_then_fails(web, som):
    som.fail("CPE-Management")  # max_retries 2: fails three times
    order = submit(web.channel, superfibre(wifiManagement=False))

    som.run(service_orders(order)[0])
    som.run(service_orders(order)[1])
    som.run(service_orders(order)[2])

    undo = ServiceOrderItem.objects.get(order=order, compensates__isnull=False)
    access = ServiceOrderItem.objects.get(order=order, service_specification__code="Internet-Access", compensates=None)
    assert undo.compensates == access and access.state == "completed"
    assert (undo.item_ref, undo.action, undo.service_id, undo.state) == ("C1", "delete", access.service_id, "planned")
    compensation = service_orders(order)[3]
    assert compensation.purpose == "compensate" and [i.pk for i in compensation.items.all()] == [undo.pk]
    line = compensation.outbox_message.body["serviceOrderItem"][0]
    assert (line["action"], line["service"]["id"]) == ("delete", access.service_id)
    order.refresh_from_db()
    assert order.state == "inProgress" and order.items.get().state == "inProgress"  # not before the undo is done
    assert order.events.filter(type=OrderEvent.Type.COMPENSATION_STARTED).count() == 1

    order = som.fulfil(order)

    assert order.state == "failed"
    assert order.items.get().state == "failed"
    assert [(p[1], p[2], p[3]) for p in plan(order)] == [
        ("Internet-Access", "add", "completed"), ("CPE-Management", "add", "failed"),
        ("Internet-Access", "delete", "completed")]
    assert not Product.objects.filter(created_by_order=order).exists()
    assert not BillingIntent.objects.filter(order=order).exists()
    assert len(service_orders(order)) == 4


def test_one_item_completed_and_one_failed_gives_partial(web, som):
    som.fail("SLA-Monitoring")  # business fibre: compensate policy, one retry
    order = submit(web.channel, order_body("two", customer="CUST-3003", productOrderItem=[
        item("1", place="ADDR-1001", downloadSpeed=200, wifiManagement=False),
        item("2", offering="PO-BIZ-FIBRE-1G", place="ADDR-3003", downloadSpeed=1000, sla="premium"),
    ]))

    order = som.fulfil(order)

    assert order.state == "partial"
    states = dict(order.items.values_list("item_id", "state"))
    assert states == {"1": "completed", "2": "failed"}
    assert [p.created_by_order_id for p in Product.objects.filter(customer_id="CUST-3003")] == [order.pk]
    assert Product.objects.get(created_by_order=order).order_items.get().item_id == "1"
    assert BillingIntent.objects.filter(order=order).count() == 1
    # item 2's completed services at ADDR-3003 were undone; item 1's were left alone
    undone = ServiceOrderItem.objects.filter(order=order, compensates__isnull=False)
    assert sorted(u.compensates.service_specification.code for u in undone) == ["CPE-Management", "Internet-Access"]
    assert {u.place["id"] for u in undone} == {"ADDR-3003"}
    assert {u.state for u in undone} == {SomState.COMPLETED}


def test_every_change_of_the_order_is_versioned_in_history_and_in_the_timeline(web, som):
    order = som.fulfil(submit(web.channel, superfibre()))
    assert order.state == OrderState.COMPLETED
    # each change bumps the version and saves once: one history row per version, none without a bump
    assert order.history.count() == order.version
    assert list(order.history.order_by("history_id").values_list("version", flat=True)) == \
        list(range(1, order.version + 1))
    for item_row in order.items.all():
        assert item_row.history.count() >= 3  # captured, started, completed (+ product linked)
    states = [e.payload.get("to") for e in order.events.filter(type=OrderEvent.Type.STATE_CHANGED)]
    assert states == [OrderState.COMPLETED]
    assert order.events.filter(type=OrderEvent.Type.FULFILMENT_STARTED).count() == 1
