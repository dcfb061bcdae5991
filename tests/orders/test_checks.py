"""The business checks, each alone on a captured order, and run_order_checks acting on their results."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Product
from orders.check_rules import (
    BusinessRuleCheck,
    CreditCheck,
    DuplicateOrderCheck,
    FraudVelocityCheck,
    ServiceabilityCheck,
)
from orders.models import (
    CustomerProfile,
    ItemState,
    OrderCheckResult,
    OrderEvent,
    OutboxMessage,
    ProductOrder,
    ServiceabilityRecord,
    ServiceOrder,
    ServiceOrderItem,
)
from orders.services.checks import run_order_checks, start_due_order

from .bodies import item, order_body
from .flows import capture, plan, submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")


def active_superfibre(web, som, ext="owned-1", customer="CUST-1001", place="ADDR-1001") -> Product:
    order = som.fulfil(submit(web.channel, superfibre(ext, customer=customer, place=place)))
    assert order.state == "completed"
    return Product.objects.get(created_by_order=order)


# --- BusinessRuleCheck -----------------------------------------------------------------------------

def test_business_rules_fail_above_the_products_per_account_limit(web, settings):
    settings.COM_MAX_PRODUCTS_PER_ACCOUNT = 1
    order = capture(web.channel, order_body("two", productOrderItem=[
        item("1", downloadSpeed=200), item("2", offering="PO-STATIC-IP", ipVersion="IPv4")]))

    result = BusinessRuleCheck().run(order)

    assert result.outcome == "fail" and result.reason_code == "MAX_PRODUCTS_PER_ACCOUNT"
    assert result.details == {"live": 0, "adding": 2, "limit": 1}


def test_business_rules_count_live_products_and_deletes(web, som, settings):
    product = active_superfibre(web, som)
    settings.COM_MAX_PRODUCTS_PER_ACCOUNT = 1
    another = capture(web.channel, superfibre("another"))
    replace = capture(web.channel, order_body("replace", productOrderItem=[
        item("1", action="delete", product_id=product.pk, place=None), item("2", downloadSpeed=500)]))

    assert BusinessRuleCheck().run(another).outcome == "fail"
    result = BusinessRuleCheck().run(replace)
    assert result.outcome == "pass", result.message
    assert result.message == "1 of 1 products"


# --- ServiceabilityCheck ---------------------------------------------------------------------------

def test_serviceability_picks_the_preferred_technology(web):
    order = capture(web.channel, superfibre(place="ADDR-1001", downloadSpeed=500))

    result = ServiceabilityCheck().run(order)

    assert result.outcome == "pass"
    assert result.details == {"technology": {"ADDR-1001": "GPON"}}


def test_serviceability_takes_the_next_technology_when_the_first_is_not_there(web):
    ServiceabilityRecord.objects.filter(place_id="ADDR-1001", technology="GPON").delete()
    order = capture(web.channel, superfibre(place="ADDR-1001"))

    assert ServiceabilityCheck().run(order).details["technology"] == {"ADDR-1001": "HFC"}


def test_serviceability_fails_an_unknown_address(web):
    order = capture(web.channel, superfibre(place="ADDR-9999"))

    result = ServiceabilityCheck().run(order)

    assert result.outcome == "fail" and result.reason_code == "NOT_SERVICEABLE"
    assert "ADDR-9999 is not serviceable" in result.message


def test_serviceability_fails_a_speed_the_line_cannot_carry(web):
    order = capture(web.channel, superfibre(place="ADDR-4004", downloadSpeed=100))

    result = ServiceabilityCheck().run(order)

    assert result.outcome == "fail" and result.reason_code == "NOT_SERVICEABLE"
    assert "100 Mbps not available at ADDR-4004 (max 16 Mbps)" in result.message


def test_serviceability_picks_one_technology_that_carries_every_item_at_a_place(web):
    ServiceabilityRecord.objects.create(place_id="ADDR-5005", technology="HFC", max_download_mbps=200, preference=1)
    ServiceabilityRecord.objects.create(place_id="ADDR-5005", technology="GPON", max_download_mbps=1000,
                                        preference=2)
    order = capture(web.channel, order_body("both", customer="CUST-3003", productOrderItem=[
        item("1", place="ADDR-5005", downloadSpeed=100),
        item("2", offering="PO-BIZ-FIBRE-1G", place="ADDR-5005", downloadSpeed=1000, sla="standard"),
    ]))

    result = ServiceabilityCheck().run(order)

    # HFC is preferred and enough for item 1, but the place gets one access: GPON carries both
    assert result.outcome == "pass" and result.details == {"technology": {"ADDR-5005": "GPON"}}
    run_order_checks(order_id=order.pk)
    assert {s.characteristics["accessTechnology"] for s in ServiceOrderItem.objects.filter(order=order)} == {"GPON"}


def test_serviceability_qualifies_modify_items_but_not_deletes(web, som):
    product = active_superfibre(web, som)
    ServiceabilityRecord.objects.filter(place_id="ADDR-1001").delete()  # the address is no longer served
    modify = capture(web.channel, order_body("mod", productOrderItem=[
        item(action="modify", product_id=product.pk, place=None, downloadSpeed=500)]))
    delete = capture(web.channel, order_body("del", productOrderItem=[
        item(action="delete", product_id=product.pk, place=None)]))

    result = ServiceabilityCheck().run(modify)
    assert result.outcome == "fail" and "ADDR-1001 is not serviceable" in result.message
    assert ServiceabilityCheck().run(delete).outcome == "pass"


def test_serviceability_does_not_ask_for_an_address_where_none_is_needed(web):
    from catalog.models import ProductSpecification

    ProductSpecification.objects.filter(spec_id="PS-STATIC-IP").update(requires_place=False)
    order = capture(web.channel, order_body("ip", productOrderItem=[
        item(offering="PO-STATIC-IP", place=None, ipVersion="IPv6")]))

    result = ServiceabilityCheck().run(order)

    assert result.outcome == "pass" and result.message == "no address needed"


# --- CreditCheck -----------------------------------------------------------------------------------

def test_credit_holds_a_postpaid_customer_over_the_limit(web):
    order = capture(web.channel, superfibre(customer="CUST-4004"))  # 39.99 a month, limit 20

    result = CreditCheck().run(order)

    assert result.outcome == "hold" and result.reason_code == "CREDIT_LIMIT"
    assert result.details == {"monthly": "39.99", "limit": "20.00", "paymentType": "postpaid", "known": True}


def test_credit_passes_a_postpaid_customer_within_the_limit(web):
    order = capture(web.channel, superfibre(customer="CUST-1001"))

    result = CreditCheck().run(order)

    assert result.outcome == "pass" and result.message == "39.99 within 200.00"


def test_credit_passes_a_prepaid_customer_whatever_the_amount(web):
    CustomerProfile.objects.filter(party_id="CUST-2002").update(credit_limit=Decimal("0"))
    order = capture(web.channel, superfibre(customer="CUST-2002", place="ADDR-2002"))

    result = CreditCheck().run(order)

    assert result.outcome == "pass" and result.details["paymentType"] == "prepaid"


def test_credit_of_an_unknown_customer_uses_the_default_limit(web, settings):
    settings.COM_DEFAULT_CREDIT_LIMIT = "30.00"
    order = capture(web.channel, superfibre(customer="CUST-NEW"))

    result = CreditCheck().run(order)

    assert result.outcome == "hold"
    assert result.details == {"monthly": "39.99", "limit": "30.00", "paymentType": "postpaid", "known": False}
    settings.COM_DEFAULT_CREDIT_LIMIT = "40.00"
    assert CreditCheck().run(order).outcome == "pass"


def test_credit_counts_recurring_charges_times_quantity_only(web):
    order = capture(web.channel, order_body("qty", customer="CUST-4004", productOrderItem=[
        {**item(offering="PO-STATIC-IP", ipVersion="IPv4"), "quantity": 3},  # 3 x 5.00 a month
        item("2", offering="PO-INSTALL", installationType="standard", appointment="APT-1"),  # one-time 79.00
    ]))

    result = CreditCheck().run(order)

    assert result.outcome == "pass" and result.details["monthly"] == "15.00"


# --- FraudVelocityCheck ----------------------------------------------------------------------------

def test_fraud_velocity_holds_beyond_the_maximum(web, settings):
    settings.COM_FRAUD_VELOCITY_MAX_ORDERS = 2
    first = capture(web.channel, superfibre("f1"))
    second = capture(web.channel, superfibre("f2", downloadSpeed=500))
    third = capture(web.channel, superfibre("f3", downloadSpeed=100))

    assert FraudVelocityCheck().run(first).outcome == "hold"  # counts every order in the window
    result = FraudVelocityCheck().run(third)
    assert result.outcome == "hold" and result.reason_code == "FRAUD_VELOCITY"
    assert result.details == {"count": 3}
    ProductOrder.objects.filter(pk=third.pk).delete()
    assert FraudVelocityCheck().run(second).outcome == "pass"


def test_fraud_velocity_ignores_orders_outside_the_window_and_other_customers(web, settings):
    settings.COM_FRAUD_VELOCITY_MAX_ORDERS = 1
    old = capture(web.channel, superfibre("old"))
    ProductOrder.objects.filter(pk=old.pk).update(order_date=timezone.now() - timedelta(hours=2))
    capture(web.channel, superfibre("other", customer="CUST-3003", place="ADDR-3003"))
    order = capture(web.channel, superfibre("now"))

    result = FraudVelocityCheck().run(order)

    assert result.outcome == "pass" and result.details == {"count": 1}


# --- DuplicateOrderCheck ---------------------------------------------------------------------------

def test_duplicate_holds_the_later_of_two_identical_in_flight_orders_only(web):
    first = capture(web.channel, superfibre("d1"))
    second = capture(web.channel, superfibre("d2"))

    assert DuplicateOrderCheck().run(first).outcome == "pass"
    result = DuplicateOrderCheck().run(second)
    assert result.outcome == "hold" and result.reason_code == "DUPLICATE_SUSPECTED"
    assert result.details == {"duplicateOf": first.pk}


def test_duplicate_ignores_different_places_and_finished_orders(web):
    first = capture(web.channel, superfibre("d1"))
    elsewhere = capture(web.channel, superfibre("d2", place="ADDR-2002"))
    assert DuplicateOrderCheck().run(elsewhere).outcome == "pass"

    run_order_checks(order_id=capture(web.channel, superfibre("bad", place="ADDR-9999")).pk)  # rejected
    ProductOrder.objects.filter(pk=first.pk).delete()
    again = capture(web.channel, superfibre("d3", place="ADDR-9999"))
    assert DuplicateOrderCheck().run(again).outcome == "pass"


# --- run_order_checks ------------------------------------------------------------------------------

def test_every_check_result_is_stored_and_logged(web):
    order = capture(web.channel, superfibre())

    run_order_checks(order_id=order.pk)

    results = {r.check_code: r.outcome for r in OrderCheckResult.objects.filter(order=order)}
    assert results == {"businessRules": "pass", "productInFlight": "pass", "serviceability": "pass",
                       "credit": "pass", "fraudVelocity": "pass", "duplicate": "pass", "appointment": "pass"}
    assert order.events.filter(type=OrderEvent.Type.CHECK_RECORDED).count() == 7
    assert OrderCheckResult.objects.get(order=order, check_code="serviceability").details == {
        "technology": {"ADDR-1001": "GPON"}}


def test_a_failed_check_rejects_the_order_and_its_items(web):
    order = capture(web.channel, superfibre(place="ADDR-9999"))

    assert run_order_checks(order_id=order.pk) == "rejected"

    order.refresh_from_db()
    assert order.state == "rejected"
    assert order.state_reason_code == "NOT_SERVICEABLE" and "ADDR-9999" in order.state_reason
    assert [i.state for i in order.items.all()] == [ItemState.REJECTED]
    event = order.events.get(type=OrderEvent.Type.REJECTED)
    assert event.payload == {"reasonCodes": ["NOT_SERVICEABLE"]}
    assert not ServiceOrderItem.objects.filter(order=order).exists()
    assert not ServiceOrder.objects.filter(order=order).exists()


def test_a_held_check_holds_the_order_before_fulfilment(web):
    order = capture(web.channel, superfibre(customer="CUST-4004"))

    assert run_order_checks(order_id=order.pk) == "held"

    order.refresh_from_db()
    assert order.state == "held" and order.state_reason_code == "CREDIT_LIMIT"
    assert [i.state for i in order.items.all()] == [ItemState.ACKNOWLEDGED]
    assert order.events.get(type=OrderEvent.Type.HELD).payload == {"reasonCodes": ["CREDIT_LIMIT"]}
    assert not ServiceOrderItem.objects.filter(order=order).exists()


def test_a_fail_wins_over_a_hold(web):
    order = capture(web.channel, superfibre(customer="CUST-4004", place="ADDR-9999"))

    assert run_order_checks(order_id=order.pk) == "rejected"
    assert ProductOrder.objects.get(pk=order.pk).state == "rejected"


def test_passing_checks_start_fulfilment(web, django_capture_on_commit_callbacks, settings):
    order = capture(web.channel, superfibre())

    with django_capture_on_commit_callbacks() as callbacks:
        assert run_order_checks(order_id=order.pk) == "started"

    order.refresh_from_db()
    assert order.state == "inProgress"
    assert [i.state for i in order.items.all()] == [ItemState.IN_PROGRESS]
    assert [p[1] for p in plan(order)] == ["Internet-Access", "WiFi-Management", "CPE-Management"]
    service_order = ServiceOrder.objects.get(order=order)
    assert (service_order.sequence, service_order.purpose, service_order.state) == (1, "fulfil", "planned")
    assert service_order.external_id == f"{order.pk}-SO1"
    message = OutboxMessage.objects.get(order=order, kind=OutboxMessage.Kind.SERVICE_ORDER)
    assert message.dedup_key == service_order.external_id
    assert message.service_order == service_order and message.status == "pending"
    assert message.url == settings.COM_SOM_ENDPOINTS["default"]["url"].rstrip("/") + "/serviceOrder"
    assert [line["id"] for line in message.payload["serviceOrderItem"]] == ["1", "2", "3"]
    assert len(callbacks) == 1  # the delivery task, sent once the transaction commits
    types = list(order.events.values_list("type", flat=True))
    assert types[-3:] == ["fulfilmentStarted", "decomposed", "serviceOrderSubmitted"]


def test_running_the_checks_twice_does_nothing_more(web):
    order = submit(web.channel, superfibre())
    before = (order.version, order.events.count(), OrderCheckResult.objects.count(), ServiceOrder.objects.count(),
              OutboxMessage.objects.count())

    assert run_order_checks(order_id=order.pk) == "skipped: inProgress"

    order.refresh_from_db()
    assert (order.version, order.events.count(), OrderCheckResult.objects.count(), ServiceOrder.objects.count(),
            OutboxMessage.objects.count()) == before


def test_a_future_requested_start_date_defers_the_order_until_it_is_due(web):
    start = timezone.now() + timedelta(days=3)
    body = superfibre()
    body["requestedStartDate"] = start.isoformat()
    order = capture(web.channel, body)

    assert run_order_checks(order_id=order.pk) == "deferred"

    order.refresh_from_db()
    assert order.state == "pending"
    assert [i.state for i in order.items.all()] == [ItemState.PENDING]
    assert not ServiceOrderItem.objects.filter(order=order).exists()
    assert start_due_order(order_id=order.pk) == "not due"

    ProductOrder.objects.filter(pk=order.pk).update(requested_start_date=timezone.now() - timedelta(seconds=1))
    assert start_due_order(order_id=order.pk) == "started"
    order.refresh_from_db()
    assert order.state == "inProgress"
    assert ServiceOrder.objects.filter(order=order).count() == 1


def test_serviceability_fails_when_no_one_technology_carries_every_item_at_an_address(web):
    from orders.check_rules import ServiceabilityCheck
    from orders.models import ServiceabilityRecord

    ServiceabilityRecord.objects.create(place_id="ADDR-SPLIT", technology="HFC", max_download_mbps=1000,
                                        preference=1)
    ServiceabilityRecord.objects.create(place_id="ADDR-SPLIT", technology="GPON", max_download_mbps=200,
                                        preference=2)
    # both exist at the address, but the 1 Gbps item rules out GPON and only HFC remains: that passes
    body = order_body("split-1", customer="CUST-3003", productOrderItem=[
        item("1", place="ADDR-SPLIT", downloadSpeed=200),
        item("2", offering="PO-BIZ-FIBRE-1G", place="ADDR-SPLIT", downloadSpeed=1000, sla="standard")])
    result = ServiceabilityCheck().run(capture(web.channel, body))
    assert result.outcome == "pass" and result.details["technology"] == {"ADDR-SPLIT": "HFC"}
