"""Money comes from the catalog: quoted prices are checked, items store the catalog's, totals multiply."""
import json
from decimal import Decimal

import pytest

from catalog.models import ProductOfferingPrice
from orders.check_rules import CreditCheck
from orders.models import OrderEvent, OutboxMessage, ProductOrder, ProductOrderItem
from orders.pricing import item_total, monthly_amount, order_total, quoted_price_problem
from tests.tmf_schema import TMF622, assert_valid

from .bodies import item, order_body
from .flows import capture, submit, superfibre

BASE = "/tmf-api/productOrderingManagement/v4/productOrder"
CATALOG_SUPERFIBRE = [  # PO-SUPERFIBRE-200 in the demo catalog
    {"name": "Monthly fee", "price_type": "recurring", "amount": "39.99", "currency": "EUR", "recurring_period": "month"},
    {"name": "Activation fee", "price_type": "oneTime", "amount": "49.00", "currency": "EUR", "recurring_period": ""},
]

pytestmark = pytest.mark.usefixtures("demo")


def quote(amount, price_type="recurring", period="month", unit="EUR", name="Monthly fee"):
    price = {"name": name, "priceType": price_type,
             "price": {"taxIncludedAmount": {"unit": unit, "value": amount}}, "@type": "OrderPrice"}
    if period:
        price["recurringChargePeriod"] = period
    return price


FULL_QUOTE = [quote(39.99), quote(49.00, "oneTime", None, name="Activation fee")]


def superfibre_item(**changes):
    return {**item(downloadSpeed=200), **changes}


def post(client, body):
    return client.post(BASE, data=json.dumps(body), content_type="application/json")


def counts():
    return (ProductOrder.objects.count(), ProductOrderItem.objects.count(), OrderEvent.objects.count(),
            OutboxMessage.objects.count())


# --- refused --------------------------------------------------------------------------------------

def test_the_issue_order_at_minus_500_is_refused_and_creates_nothing(web):
    before = counts()
    body = order_body(productOrderItem=[superfibre_item(itemPrice=[quote(-500.00)])])

    response = post(web, body)

    assert response.status_code == 400, response.content
    error = response.json()
    assert_valid(TMF622, "Error", error)
    assert error["errors"] == [{"field": "productOrderItem[0].itemPrice[0].price.taxIncludedAmount.value",
                                "message": "must be a positive amount: prices come from the catalog"}]
    assert counts() == before


def test_a_zero_price_is_refused(web):
    response = post(web, order_body(productOrderItem=[superfibre_item(itemPrice=[quote(0)])]))

    assert response.status_code == 400
    assert "must be a positive amount" in response.json()["message"]


@pytest.mark.parametrize("quoted", [
    [quote(9.99), quote(49.00, "oneTime", None)],  # a cheaper monthly fee
    [quote(39.99, unit="USD"), quote(49.00, "oneTime", None, unit="USD")],  # another currency
    [quote(39.99, period="year"), quote(49.00, "oneTime", None)],  # another charge period
    [quote(39.99)],  # the activation fee left out
    FULL_QUOTE + [quote(5.00, "usage", None)],  # a charge the catalog does not have
], ids=["amount", "currency", "period", "missing-charge", "extra-charge"])
def test_a_quote_that_differs_from_the_catalog_is_refused_naming_the_expected_prices(web, quoted):
    before = counts()

    response = post(web, order_body(productOrderItem=[superfibre_item(itemPrice=quoted)]))

    assert response.status_code == 400, response.content
    error = response.json()
    assert_valid(TMF622, "Error", error)
    assert [e["field"] for e in error["errors"]] == ["productOrderItem[0].itemPrice"]
    assert ("PO-SUPERFIBRE-200 v1: the price is the catalog's, per unit: expected "
            "recurring 39.99 EUR per month, oneTime 49.00 EUR; got ") in error["errors"][0]["message"]
    assert counts() == before


def test_a_quote_without_a_tax_included_amount_is_refused(web):
    price = {"priceType": "recurring", "recurringChargePeriod": "month",
             "price": {"dutyFreeAmount": {"unit": "EUR", "value": 33.33}}}

    response = post(web, order_body(productOrderItem=[superfibre_item(itemPrice=[price])]))

    assert response.status_code == 400
    assert "needs taxIncludedAmount" in response.json()["message"]


# --- accepted -------------------------------------------------------------------------------------

def test_a_quote_equal_to_the_catalog_is_accepted_and_the_catalog_prices_are_stored(web):
    renamed = [{**FULL_QUOTE[0], "name": "Your monthly price"}, FULL_QUOTE[1]]  # names are the channel's own

    response = post(web, order_body(productOrderItem=[superfibre_item(itemPrice=renamed)]))

    assert response.status_code == 201, response.content
    stored = ProductOrderItem.objects.get(order_id=response.json()["id"])
    assert stored.item_prices == CATALOG_SUPERFIBRE


def test_an_item_without_a_quote_takes_the_catalog_prices(web):
    response = post(web, order_body())

    assert response.status_code == 201
    body = response.json()
    assert ProductOrderItem.objects.get(order_id=body["id"]).item_prices == CATALOG_SUPERFIBRE
    assert body["productOrderItem"][0]["itemPrice"] == [
        {"name": "Monthly fee", "priceType": "recurring", "recurringChargePeriod": "month",
         "price": {"taxIncludedAmount": {"unit": "EUR", "value": 39.99}}, "@type": "OrderPrice"},
        {"name": "Activation fee", "priceType": "oneTime",
         "price": {"taxIncludedAmount": {"unit": "EUR", "value": 49.0}}, "@type": "OrderPrice"},
    ]


def test_the_prices_are_those_of_the_offering_at_capture(web):
    order = capture(web.channel, superfibre("before"))
    ProductOfferingPrice.objects.filter(offering__offering_id="PO-SUPERFIBRE-200",
                                        price_type="recurring").update(amount=Decimal("44.99"))

    assert ProductOrderItem.objects.get(order=order).item_prices == CATALOG_SUPERFIBRE
    stale = post(web, order_body("after", productOrderItem=[superfibre_item(itemPrice=FULL_QUOTE)]))
    assert stale.status_code == 400 and "expected recurring 44.99 EUR per month" in stale.json()["message"]


# --- totals ---------------------------------------------------------------------------------------

def test_quantity_three_multiplies_the_item_and_order_totals(web):
    response = post(web, order_body(productOrderItem=[superfibre_item(quantity=3, itemPrice=FULL_QUOTE)]))

    assert response.status_code == 201, response.content
    body = response.json()
    assert_valid(TMF622, "ProductOrder", body)
    line = body["productOrderItem"][0]
    assert [p["price"]["taxIncludedAmount"]["value"] for p in line["itemPrice"]] == [39.99, 49.0]
    assert [p["price"]["taxIncludedAmount"]["value"] for p in line["itemTotalPrice"]] == [119.97, 147.0]
    assert body["orderTotalPrice"] == [
        {"name": "Total recurring per month", "priceType": "recurring", "recurringChargePeriod": "month",
         "price": {"taxIncludedAmount": {"unit": "EUR", "value": 119.97}}, "@type": "OrderPrice"},
        {"name": "Total oneTime", "priceType": "oneTime",
         "price": {"taxIncludedAmount": {"unit": "EUR", "value": 147.0}}, "@type": "OrderPrice"},
    ]
    assert web.get(f"{BASE}/{body['id']}").json() == body


def test_the_order_total_sums_items_per_price_type(web):
    body = order_body(productOrderItem=[
        {**superfibre_item(), "quantity": 2},
        item("2", offering="PO-INSTALL", installationType="standard", appointment="APT-1"),
    ])

    response = post(web, body)

    assert response.status_code == 201, response.content
    totals = {p["priceType"]: p["price"]["taxIncludedAmount"]["value"] for p in response.json()["orderTotalPrice"]}
    assert totals == {"recurring": 79.98, "oneTime": 98.0 + 79.0}
    assert_valid(TMF622, "ProductOrder", response.json())


def test_a_delete_item_adds_nothing_to_the_order_total(web, som):
    created = som.fulfil(submit(web.channel, superfibre("owned")))
    product_id = created.items.get().product_id
    response = post(web, order_body("del", productOrderItem=[item(action="delete", product_id=product_id,
                                                                   place=None)]))

    assert response.status_code == 201, response.content
    body = response.json()
    assert "orderTotalPrice" not in body  # nothing new to pay
    assert body["productOrderItem"][0]["itemPrice"][0]["price"]["taxIncludedAmount"]["value"] == 39.99


def test_pricing_helpers_multiply_and_sum_exactly():
    assert item_total(CATALOG_SUPERFIBRE, 3)[0]["amount"] == "119.97"
    assert order_total([(CATALOG_SUPERFIBRE, 1), (CATALOG_SUPERFIBRE, 2)])[0]["amount"] == "119.97"
    yearly = [{**CATALOG_SUPERFIBRE[0], "amount": "120.00", "recurring_period": "year"}]
    assert monthly_amount(yearly, 1) == Decimal("10.00")
    assert quoted_price_problem(list(reversed(CATALOG_SUPERFIBRE)), CATALOG_SUPERFIBRE) == ""


# --- the credit check ------------------------------------------------------------------------------

def test_credit_check_holds_on_catalog_price_times_quantity_with_no_quote(web):
    order = submit(web.channel, order_body("six", productOrderItem=[{**superfibre_item(), "quantity": 6}]))

    assert order.state == "held" and order.state_reason_code == "CREDIT_LIMIT"
    assert order.check_results.get(check_code="credit").details["monthly"] == "239.94"  # 6 x 39.99 > 200.00


def test_credit_check_reads_the_stored_catalog_prices_only(web):
    order = capture(web.channel, order_body("five", productOrderItem=[{**superfibre_item(), "quantity": 5}]))

    assert CreditCheck().run(order).details["monthly"] == "199.95"
    ProductOrderItem.objects.filter(order=order).update(quantity=6)
    assert CreditCheck().run(order).outcome == "hold"


def test_credit_check_counts_what_a_modify_adds_to_the_product(web, som):
    product = som.fulfil(submit(web.channel, superfibre("owned"))).items.get().product
    ProductOfferingPrice.objects.filter(offering__offering_id="PO-SUPERFIBRE-200",
                                        name="Monthly fee").update(amount=Decimal("59.99"))

    dearer = capture(web.channel, order_body("mod", productOrderItem=[
        item(action="modify", product_id=product.pk, place=None, downloadSpeed=500)]))

    # 59.99 now, plus 10.00 for the 500 Mbps option, where the product pays 39.99
    assert CreditCheck().run(dearer).details["monthly"] == "30.00"

    ProductOfferingPrice.objects.filter(offering__offering_id="PO-SUPERFIBRE-200",
                                        name="Monthly fee").update(amount=Decimal("19.99"))
    cheaper = capture(web.channel, order_body("mod2", productOrderItem=[
        item(action="modify", product_id=product.pk, place=None, downloadSpeed=500)]))
    assert CreditCheck().run(cheaper).details["monthly"] == "0.00"  # a cheaper product adds no exposure
