"""TMF622 as TMF630 says: merge-patch PATCH, sort, why an order is held or rejected, bounded input."""
import json

import pytest

from orders.check_rules import Check
from orders.models import HubSubscription, Notification, OrderEvent, ProductOrder
from orders.services.holds import reject_held, release_hold
from orders.tasks import run_order_checks
from tests.tmf_schema import TMF622, assert_valid

from .bodies import item, order_body
from .flows import capture, installation, submit, superfibre

BASE = "/tmf-api/productOrderingManagement/v4/productOrder"
MERGE_PATCH = "application/merge-patch+json"


def post(client, body):
    return client.post(BASE, data=json.dumps(body), content_type="application/json")


def patch(client, order_id, body, content_type=MERGE_PATCH):
    return client.patch(f"{BASE}/{order_id}", data=json.dumps(body), content_type=content_type)


def snapshot():
    return (ProductOrder.objects.count(), OrderEvent.objects.count(),
            list(ProductOrder.objects.values_list("version", "description", "notes")))


# --- PATCH: application/merge-patch+json ------------------------------------------------------------

@pytest.mark.usefixtures("demo_catalog")
class TestMergePatch:
    def test_unsupported_content_type_is_a_415_and_changes_nothing(self, portal):
        order_id = post(portal, order_body()).json()["id"]
        before = snapshot()
        response = portal.patch(f"{BASE}/{order_id}", data="description=x", content_type="text/plain")
        body = response.json()
        assert response.status_code == 415
        assert body["code"] == "UNSUPPORTED_MEDIA_TYPE" and body["reason"] == "Unsupported Media Type"
        assert body["message"] == 'Unsupported media type "text/plain" in request.'
        assert_valid(TMF622, "Error", body)
        assert snapshot() == before

    def test_malformed_merge_patch_is_a_400(self, portal):
        order_id = post(portal, order_body()).json()["id"]
        response = portal.patch(f"{BASE}/{order_id}", data="{not json", content_type=MERGE_PATCH)
        assert response.status_code == 400 and response.json()["code"] == "PARSE_ERROR"

    def test_merge_patch_changes_attributes_and_appends_notes(self, portal):
        order_id = post(portal, order_body()).json()["id"]
        response = patch(portal, order_id, {"description": "by merge patch", "priority": "1",
                                            "note": [{"text": "call after 5pm"}]})
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["description"], body["priority"]) == ("by merge patch", "1")
        assert [n["text"] for n in body["note"]] == ["Customer prefers morning calls", "call after 5pm"]
        assert_valid(TMF622, "ProductOrder", body)
        assert ProductOrder.objects.get(pk=order_id).version == 2

    @pytest.mark.parametrize("content_type", [MERGE_PATCH, "application/json"])
    def test_null_removes_a_descriptive_text(self, portal, content_type):
        order_id = post(portal, order_body()).json()["id"]
        response = patch(portal, order_id, {"description": None, "category": None}, content_type=content_type)
        assert response.status_code == 200, response.content
        assert "description" not in response.json() and "category" not in response.json()
        order = ProductOrder.objects.get(pk=order_id)
        assert (order.description, order.category) == ("", "")

    def test_null_priority_is_refused(self, portal):
        order_id = post(portal, order_body()).json()["id"]
        response = patch(portal, order_id, {"priority": None})
        assert response.status_code == 400 and "priority" in response.json()["message"]

    def test_merge_patch_refuses_what_needs_a_command_as_json_does(self, portal):
        order_id = post(portal, order_body()).json()["id"]
        before = snapshot()
        response = patch(portal, order_id, {"state": "cancelled"})
        assert response.status_code == 400 and "cancelProductOrder" in response.json()["message"]
        assert snapshot() == before

    def test_the_schema_documents_both_media_types(self, portal):
        schema = portal.get("/api/schema/?format=json").json()
        body = schema["paths"]["/tmf-api/productOrderingManagement/v4/productOrder/{order_id}"]["patch"]
        assert {"application/json", MERGE_PATCH} <= set(body["requestBody"]["content"])


# --- sort ------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("demo_catalog")
class TestSort:
    @pytest.fixture
    def orders(self, portal):
        ids = []
        for ext, priority in (("a", "3"), ("b", "1"), ("c", "3"), ("d", "0")):
            ids.append(post(portal, order_body(ext, priority=priority)).json()["id"])
        return ids

    def test_sort_by_priority_then_newest_first(self, portal, orders):
        body = portal.get(BASE, {"sort": "priority,-orderDate"}).json()
        assert [o["externalId"] for o in body] == ["d", "b", "c", "a"]

    def test_sort_descending_priority(self, portal, orders):
        body = portal.get(BASE, {"sort": "-priority,externalId"}).json()
        assert [o["externalId"] for o in body] == ["a", "c", "b", "d"]

    def test_sort_pages_neither_repeat_nor_skip(self, portal, orders):
        seen = [portal.get(BASE, {"sort": "priority", "limit": 1, "offset": n}).json()[0]["id"] for n in range(4)]
        assert sorted(seen) == sorted(orders)

    @pytest.mark.parametrize("sort", ["colour", "priority,-relatedParty", "orderTotalPrice"])
    def test_unsortable_attribute_is_a_400_naming_the_sortable_ones(self, portal, orders, sort):
        response = portal.get(BASE, {"sort": sort})
        body = response.json()
        assert response.status_code == 400 and body["code"] == "VALIDATION_FAILED"
        assert body["errors"][0]["field"] == "sort"
        assert ("sortable attributes: category, completionDate, externalId, id, orderDate, priority, "
                "requestedCompletionDate, requestedStartDate, state") in body["message"]
        assert_valid(TMF622, "Error", body)


# --- why an order is held or rejected ----------------------------------------------------------------

@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password="pw", email="root@example.com")


# What a channel reads for an order held by fallout, whatever the fallout's own (internal) text.
FALLOUT_PUBLIC_REASON = "Fulfilment needs attention from our operations team"


class Leaky(Check):
    """A check failing with an error whose text names an internal host: it must never reach a channel."""

    code = "leaky"

    def run(self, order):
        raise ConnectionError("OperationalError: could not connect to db-7.core.internal:5432")


def read(client, order):
    response = client.get(f"{BASE}/{order.pk}")
    assert response.status_code == 200
    body = response.json()
    assert_valid(TMF622, "ProductOrder", body)
    return body


@pytest.mark.usefixtures("demo")
class TestStateReason:
    def test_an_order_held_by_a_check_says_why(self, web):
        order = submit(web.channel, superfibre(customer="CUST-4004"))
        body = read(web, order)
        assert body["state"] == "held"
        [message] = body["productOrderErrorMessage"]
        assert message["code"] == "CREDIT_LIMIT" and message["reason"] == order.state_reason
        assert message["@type"] == "ProductOrderErrorMessage" and "agent" in message["message"]
        assert "productOrderItem" not in message  # about the whole order, not one line

    def test_a_list_shows_the_reason_too(self, web):
        order = submit(web.channel, superfibre(customer="CUST-4004"))
        [listed] = web.get(BASE, {"state": "held"}).json()
        assert listed["id"] == order.pk and listed["productOrderErrorMessage"][0]["code"] == "CREDIT_LIMIT"
        assert_valid(TMF622, "ProductOrder", listed)

    def test_an_order_rejected_by_a_check_says_why(self, web):
        order = submit(web.channel, superfibre(place="ADDR-9999"))
        body = read(web, order)
        assert body["state"] == "rejected"
        [message] = body["productOrderErrorMessage"]
        assert message["code"] == "NOT_SERVICEABLE" and "ADDR-9999" in message["reason"]

    def test_an_order_an_agent_rejected_carries_the_agents_reason(self, web, agent):
        order = submit(web.channel, superfibre(customer="CUST-4004"))
        reject_held(order=order, user=agent, reason="customer could not pay the deposit")
        [message] = read(web, order)["productOrderErrorMessage"]
        assert (message["code"], message["reason"]) == ("REJECTED_BY_AGENT", "customer could not pay the deposit")

    def test_a_fallout_hold_names_the_order_item_with_a_public_reason(self, web, som):
        som.fail("ONT-Installation", times=1)
        order = som.fulfil(submit(web.channel, installation()))
        assert order.state == "held"
        body = read(web, order)
        [message] = body["productOrderErrorMessage"]
        assert (message["code"], message["reason"]) == ("FALLOUT", FALLOUT_PUBLIC_REASON)
        assert [(i["itemId"], i["productOrderId"]) for i in message["productOrderItem"]] == [("1", order.pk)]
        # SOM's own error stays on the desk
        assert "ONT-Installation" in order.state_reason and "ONT-Installation" not in json.dumps(body)

    def test_an_internal_error_reaches_the_channel_as_a_fixed_text_and_the_desk_in_full(self, web, settings):
        HubSubscription.objects.create(channel=web.channel, callback="http://listener.test/web")
        settings.COM_ORDER_CHECKS = [*settings.COM_ORDER_CHECKS, "tests.orders.test_tmf630_behaviour.Leaky"]
        order = capture(web.channel, superfibre())
        for _ in range(settings.COM_MAX_PROCESSING_ATTEMPTS):
            run_order_checks(order.pk)
        order.refresh_from_db()
        assert order.state == "held" and order.state_reason_code == "FALLOUT"
        assert "db-7.core.internal" in order.state_reason  # the desk keeps the full text
        body = read(web, order)
        [message] = body["productOrderErrorMessage"]
        assert (message["code"], message["reason"]) == ("FALLOUT", FALLOUT_PUBLIC_REASON)
        versions = web.get(f"{BASE}/{order.pk}/version").json()
        seen = json.dumps(body) + json.dumps(versions) + json.dumps(
            [n.payload for n in Notification.objects.filter(order=order)])
        assert Notification.objects.filter(order=order, payload__event__productOrder__state="held").exists()
        for secret in ("db-7.core.internal", "OperationalError", "INTERNAL_ERROR", "Traceback"):
            assert secret not in seen

    def test_a_released_order_no_longer_carries_a_reason(self, web, agent):
        order = submit(web.channel, superfibre(customer="CUST-4004"))
        release_hold(order=order, user=agent, reason="deposit received")
        body = read(web, order)
        assert body["state"] != "held" and "productOrderErrorMessage" not in body

    def test_an_order_in_progress_carries_no_reason(self, web):
        body = read(web, submit(web.channel, superfibre()))
        assert body["state"] == "inProgress" and "productOrderErrorMessage" not in body

    def test_fields_can_select_the_reason(self, web):
        order = submit(web.channel, superfibre(customer="CUST-4004"))
        body = web.get(f"{BASE}/{order.pk}", {"fields": "state,productOrderErrorMessage"}).json()
        assert set(body) == {"id", "href", "@type", "@baseType", "state", "productOrderErrorMessage"}

    def test_the_openapi_schema_documents_the_reason(self, web):
        schema = web.get("/api/schema/?format=json").json()
        answer = schema["paths"]["/tmf-api/productOrderingManagement/v4/productOrder/{order_id}"]["get"]
        order = answer["responses"]["200"]["content"]["application/json"]["schema"]
        field = order["properties"]["productOrderErrorMessage"]
        assert "held or rejected" in field["description"]
        assert {"code", "reason", "message"} <= set(field["items"]["properties"])


# --- bounded input ---------------------------------------------------------------------------------

def many_items(count):
    return [item(item_id=str(n), place=f"ADDR-{n}") for n in range(1, count + 1)]


def with_characteristics(count):
    body = order_body()
    body["productOrderItem"][0]["product"]["productCharacteristic"] = [
        {"name": f"c{n}", "value": "x"} for n in range(count)]
    return body


def with_prices(count):
    body = order_body()
    body["productOrderItem"][0]["itemPrice"] = [
        {"priceType": "recurring", "price": {"taxIncludedAmount": {"unit": "EUR", "value": 1}}}] * count
    return body


@pytest.mark.usefixtures("demo_catalog")
class TestBoundedInput:
    @pytest.mark.parametrize("body, field, message", [
        (order_body(productOrderItem=many_items(101)), "productOrderItem", "at most 100 items per order"),
        (with_characteristics(51), "productOrderItem[0].product.productCharacteristic",
         "at most 50 characteristics per item"),
        (with_prices(11), "productOrderItem[0].itemPrice", "at most 10 prices per item"),
        (order_body(note=[{"text": "n"}] * 51), "note", "at most 50 notes per order"),
        (order_body(note=[{"text": "x" * 4001}]), "note[0].text", "at most 4000 characters"),
        (order_body(description="x" * 4001), "description", "at most 4000 characters"),
        (order_body(relatedParty=[{"id": f"P{n}", "role": "contact"} for n in range(21)]), "relatedParty",
         "at most 20 related parties per order"),
    ], ids=["items", "characteristics", "prices", "notes", "note-text", "description", "parties"])
    def test_create_over_a_bound_is_a_400_naming_it(self, portal, body, field, message):
        before = snapshot()
        response = post(portal, body)
        error = response.json()
        assert response.status_code == 400, response.content
        assert {"field": field, "message": message} in error["errors"]
        assert_valid(TMF622, "Error", error)
        assert snapshot() == before

    @pytest.mark.parametrize("change", [{"description": 5}, {"externalId": True}, {"category": 1.5}])
    def test_a_number_or_boolean_where_text_belongs_is_refused(self, portal, change):
        response = post(portal, order_body(**change))
        [name] = change
        assert response.status_code == 400
        assert {"field": name, "message": "Not a valid string."} in response.json()["errors"]

    def test_an_item_id_must_be_a_string(self, portal):
        body = order_body()
        body["productOrderItem"][0]["id"] = 1
        response = post(portal, body)
        assert response.status_code == 400
        assert {"field": "productOrderItem[0].id", "message": "Not a valid string."} in response.json()["errors"]

    def test_at_the_bound_is_accepted(self, portal):
        body = order_body(note=[{"text": "n"}] * 50, description="x" * 4000)
        assert post(portal, body).status_code == 201

    @pytest.mark.parametrize("change, field, message", [
        ({"note": [{"text": "n"}] * 51}, "note", "at most 50 notes per order"),
        ({"note": [{"text": "x" * 4001}]}, "note[0].text", "at most 4000 characters"),
        ({"description": "x" * 4001}, "description", "at most 4000 characters"),
    ])
    def test_patch_over_a_bound_is_a_400_naming_it(self, portal, change, field, message):
        order_id = post(portal, order_body()).json()["id"]
        before = snapshot()
        response = patch(portal, order_id, change)
        assert response.status_code == 400
        assert {"field": field, "message": message} in response.json()["errors"]
        assert snapshot() == before

    def test_bounds_are_in_the_openapi_schema(self, portal):
        components = portal.get("/api/schema/?format=json").json()["components"]["schemas"]
        order = components["ProductOrderCreateRequest"]["properties"]
        assert order["productOrderItem"]["maxItems"] == 100 and order["note"]["maxItems"] == 50
        assert order["description"]["maxLength"] == 4000
