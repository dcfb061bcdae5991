"""TMF622 capture and read: schema conformance, paging, fields, bad input, idempotency, isolation, audit."""
import json

import pytest

from orders.models import OrderEvent, OutboxMessage, ProductOrder, ProductOrderItem
from tests.tmf_schema import TMF622, assert_valid

from .bodies import item, order_body

BASE = "/tmf-api/productOrderingManagement/v4"
pytestmark = pytest.mark.usefixtures("demo_catalog")


def post(client, body, **headers):
    return client.post(f"{BASE}/productOrder", data=json.dumps(body), content_type="application/json", **headers)


def db_snapshot():
    return (ProductOrder.objects.count(), ProductOrderItem.objects.count(), OrderEvent.objects.count(),
            OutboxMessage.objects.count())


# --- create and read -------------------------------------------------------------------------------

def test_create_returns_201_acknowledged_with_location_equal_to_href(portal):
    response = post(portal, order_body())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "acknowledged"
    assert body["href"] == response["Location"]
    assert body["href"].startswith("http://testserver/tmf-api/productOrderingManagement/v4/productOrder/")
    assert body["@type"] == "ProductOrder"
    assert body["productOrderItem"][0]["state"] == "acknowledged"
    assert body["orderDate"].endswith("Z")
    assert_valid(TMF622, "ProductOrder", body)


def test_get_returns_the_order_and_it_validates(portal):
    created = post(portal, order_body()).json()
    response = portal.get(f"{BASE}/productOrder/{created['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body == created
    assert_valid(TMF622, "ProductOrder", body)
    # the catalog version the item was captured with is recorded and shown
    assert body["productOrderItem"][0]["product"]["productSpecification"]["version"] == "1"
    # defaults of the catalog fill what the channel left out
    chars = {c["name"]: c["value"] for c in body["productOrderItem"][0]["product"]["productCharacteristic"]}
    assert chars == {"downloadSpeed": 200, "wifiManagement": True, "routerModel": "Nokia Beacon 6"}


def test_routes_work_without_and_with_trailing_slash(portal):
    created = post(portal, order_body()).json()
    assert portal.get(f"{BASE}/productOrder/{created['id']}/").status_code == 200
    assert portal.get(f"{BASE}/productOrder/").status_code == 200
    response = portal.post(f"{BASE}/productOrder/", data=json.dumps(order_body("other")),
                           content_type="application/json")
    assert response.status_code == 201


def test_list_validates_and_carries_paging_headers(portal):
    for n in range(5):
        assert post(portal, order_body(f"ext-{n}")).status_code == 201
    response = portal.get(f"{BASE}/productOrder")
    assert response.status_code == 200
    assert response["X-Total-Count"] == "5" and response["X-Result-Count"] == "5"
    for order in response.json():
        assert_valid(TMF622, "ProductOrder", order)
        for key in ("id", "href", "state", "orderDate", "productOrderItem", "relatedParty"):
            assert key in order
    page = portal.get(f"{BASE}/productOrder?offset=1&limit=2")
    assert page.status_code == 206
    assert page["X-Total-Count"] == "5" and page["X-Result-Count"] == "2"
    assert [o["id"] for o in page.json()] == [o["id"] for o in response.json()[1:3]]


def test_fields_selects_attributes(portal):
    created = post(portal, order_body()).json()
    listed = portal.get(f"{BASE}/productOrder?fields=state,externalId").json()
    assert listed == [{"id": created["id"], "href": created["href"], "@type": "ProductOrder",
                       "@baseType": "ProductOrder", "state": "acknowledged", "externalId": "portal-0001"}]
    one = portal.get(f"{BASE}/productOrder/{created['id']}?fields=state").json()
    assert set(one) == {"id", "href", "@type", "@baseType", "state"}


def test_filters_by_state_external_id_party_and_date(portal):
    first = post(portal, order_body("a")).json()
    post(portal, order_body("b", customer="CUST-3003"))
    assert [o["id"] for o in portal.get(f"{BASE}/productOrder?externalId=a").json()] == [first["id"]]
    assert len(portal.get(f"{BASE}/productOrder?relatedParty.id=CUST-3003").json()) == 1
    assert len(portal.get(f"{BASE}/productOrder?state=acknowledged").json()) == 2
    assert portal.get(f"{BASE}/productOrder?state=completed").json() == []
    # a '+00:00' offset sent unencoded arrives as a space; it must still parse and match
    assert len(portal.get(f"{BASE}/productOrder?orderDate.gte=2020-01-01T00:00:00 00:00").json()) == 2
    assert len(portal.get(f"{BASE}/productOrder?orderDate.gte=2020-01-01T00:00:00Z").json()) == 2
    assert portal.get(f"{BASE}/productOrder?orderDate.lt=2020-01-01T00:00:00Z").json() == []


# --- bad input -------------------------------------------------------------------------------------

def _bad_bodies():
    def with_item(**kw):
        return order_body(productOrderItem=[item(**kw)])

    base_item = {"downloadSpeed": 200}
    return {
        "not-an-object": [1, 2, 3],
        "no-items": order_body(productOrderItem=[]),
        "items-not-list": order_body(productOrderItem={"id": "1"}),
        "item-without-id": order_body(productOrderItem=[{"action": "add", "productOffering": {"id": "PO-STATIC-IP"}}]),
        "bad-action": with_item(action="upgrade", **base_item),
        "zero-quantity": order_body(productOrderItem=[{**item(**base_item), "quantity": 0}]),
        "quantity-not-int": order_body(productOrderItem=[{**item(**base_item), "quantity": "two"}]),
        "unknown-offering": with_item(offering="PO-NOPE", **base_item),
        "retired-offering": with_item(offering="PO-ADSL-16", place="ADDR-4004", downloadSpeed=16),
        "missing-mandatory-char": order_body(productOrderItem=[item(offering="PO-MANAGED-ROUTER")]),
        "wrong-type-char": with_item(downloadSpeed="fast"),
        "value-not-allowed": with_item(downloadSpeed=300),
        "unknown-char": with_item(downloadSpeed=200, colour="red"),
        "char-value-object": order_body(productOrderItem=[{**item(), "product": {"productCharacteristic": [
            {"name": "downloadSpeed", "value": {"x": 1}}], "place": [{"id": "ADDR-1001"}]}}]),
        "duplicate-char": order_body(productOrderItem=[{**item(), "product": {"productCharacteristic": [
            {"name": "downloadSpeed", "value": 200}, {"name": "downloadSpeed", "value": 100}],
            "place": [{"id": "ADDR-1001"}]}}]),
        "missing-place": with_item(place=None, **base_item),
        "missing-appointment": with_item(offering="PO-INSTALL", installationType="standard"),
        "no-customer": order_body(relatedParty=[{"id": "X", "role": "agent"}]),
        "party-without-role": order_body(relatedParty=[{"id": "CUST-1001"}]),
        "duplicate-item-ids": order_body(productOrderItem=[item("1", **base_item), item("1", **base_item)]),
        "relationship-unknown-item": with_item(relationships=("9",), **base_item),
        "relationship-cycle": order_body(productOrderItem=[
            item("1", relationships=("2",), **base_item),
            item("2", offering="PO-STATIC-IP", relationships=("1",), ipVersion="IPv4")]),
        "modify-without-product": with_item(action="modify", **base_item),
        "modify-unknown-product": with_item(action="modify", product_id="PR-DOESNOTEXIST", **base_item),
        "add-with-product-id": with_item(product_id="PR-X", **base_item),
        "bad-date": order_body(requestedStartDate="next tuesday"),
        "completion-before-start": order_body(requestedStartDate="2030-02-01T00:00:00Z",
                                             requestedCompletionDate="2030-01-01T00:00:00Z"),
        "bad-priority": order_body(priority="9"),
        "state-sent": order_body(state="completed"),
        "id-sent": order_body(id="PO-MINE"),
        "item-state-sent": order_body(productOrderItem=[{**item(**base_item), "state": "completed"}]),
        "bad-price": order_body(productOrderItem=[{**item(**base_item), "itemPrice": [{"priceType": "free"}]}]),
        "offering-without-id": order_body(productOrderItem=[{**item(**base_item), "productOffering": {}}]),
    }


BAD = _bad_bodies()


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_tmf_error_and_creates_nothing(portal, case):
    before = db_snapshot()
    response = post(portal, BAD[case])
    assert response.status_code == 400, (case, response.content)
    body = response.json()
    assert_valid(TMF622, "Error", body)
    assert body["status"] == "400" and body["code"] and body["reason"] and body["message"]
    assert db_snapshot() == before


def test_every_problem_is_listed_with_its_tmf_path(portal):
    body = order_body(relatedParty=[], productOrderItem=[item(downloadSpeed=300, colour="red")])
    response = post(portal, body)
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"relatedParty", "productOrderItem[0].product.productCharacteristic[downloadSpeed]",
            "productOrderItem[0].product.productCharacteristic[colour]"} <= fields


def test_malformed_json_is_a_tmf_error(portal):
    response = portal.post(f"{BASE}/productOrder", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["@type"] == "Error"


def test_body_too_large_is_refused(portal, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = order_body(description="x" * 2000)
    before = db_snapshot()
    response = post(portal, body)
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert db_snapshot() == before


def test_unknown_order_is_404_tmf_error(portal):
    response = portal.get(f"{BASE}/productOrder/PO-NOPE")
    assert response.status_code == 404
    assert_valid(TMF622, "Error", response.json())


def test_unknown_filter_is_refused(portal):
    response = portal.get(f"{BASE}/productOrder?colour=red")
    assert response.status_code == 400
    assert "colour" in response.json()["message"]


# --- idempotency -----------------------------------------------------------------------------------

def test_same_external_id_returns_the_first_order(portal):
    first = post(portal, order_body("dup-1"))
    again = post(portal, order_body("dup-1"))
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert ProductOrder.objects.count() == 1


def test_same_idempotency_key_returns_the_first_order(portal):
    first = post(portal, order_body(None), HTTP_IDEMPOTENCY_KEY="key-1")
    again = post(portal, order_body(None), HTTP_IDEMPOTENCY_KEY="key-1")
    assert again.json()["id"] == first.json()["id"]
    assert ProductOrder.objects.count() == 1


def test_same_key_with_a_different_body_is_409(portal):
    post(portal, order_body(None), HTTP_IDEMPOTENCY_KEY="key-2")
    before = db_snapshot()
    response = post(portal, order_body(None, description="changed"), HTTP_IDEMPOTENCY_KEY="key-2")
    assert response.status_code == 409
    assert_valid(TMF622, "Error", response.json())
    assert db_snapshot() == before


def test_same_external_id_from_another_channel_is_another_order(portal, make_channel):
    cpq = make_channel("cpq")
    assert post(portal, order_body("shared-ext")).json()["id"] != post(cpq, order_body("shared-ext")).json()["id"]


# --- security --------------------------------------------------------------------------------------

def test_unauthenticated_requests_are_refused(client):
    for response in (client.get(f"{BASE}/productOrder"),
                     client.post(f"{BASE}/productOrder", data="{}", content_type="application/json")):
        assert response.status_code == 401
        assert response.json()["@type"] == "Error"


def test_bad_token_is_refused(client):
    response = client.get(f"{BASE}/productOrder", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401


def test_a_channel_sees_and_changes_only_its_own_orders(portal, make_channel, staff_client):
    retail = make_channel("retail")
    mine = post(portal, order_body("mine")).json()
    theirs = post(retail, order_body("theirs")).json()
    assert [o["id"] for o in portal.get(f"{BASE}/productOrder").json()] == [mine["id"]]
    assert portal.get(f"{BASE}/productOrder/{theirs['id']}").status_code == 404
    patch = portal.patch(f"{BASE}/productOrder/{theirs['id']}", data=json.dumps({"description": "x"}),
                         content_type="application/json")
    assert patch.status_code == 404
    assert {o["id"] for o in staff_client.get(f"{BASE}/productOrder").json()} == {mine["id"], theirs["id"]}


def test_the_channel_comes_from_the_credentials_not_the_body(portal):
    body = order_body(channel=[{"id": "999", "name": "b2b"}])
    created = post(portal, body).json()
    assert created["channel"][0]["name"] == "portal"


def test_staff_cannot_submit_orders_without_a_channel(staff_client):
    response = post(staff_client, order_body())
    assert response.status_code == 403


# --- PATCH -----------------------------------------------------------------------------------------

def test_patch_changes_descriptive_fields_and_appends_notes(portal):
    created = post(portal, order_body()).json()
    response = portal.patch(f"{BASE}/productOrder/{created['id']}",
                            data=json.dumps({"description": "new text", "note": [{"text": "call first"}],
                                             "productOrderItem": []}),
                            content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["description"] == "new text"
    assert [n["text"] for n in body["note"]] == ["Customer prefers morning calls", "call first"]
    assert_valid(TMF622, "ProductOrder", body)
    order = ProductOrder.objects.get(pk=created["id"])
    assert order.version == 2
    types = list(order.events.values_list("type", flat=True))
    assert types == ["captured", "attributesUpdated", "noteAdded"]
    assert order.history.count() == 2


# --- notes: who wrote them --------------------------------------------------------------------------

@pytest.mark.parametrize("author", ["user:supervisor", "system", "channel:b2b", " User : root"])
def test_a_channel_cannot_sign_a_note_as_staff_the_system_or_another_channel(portal, author):
    forged = order_body()
    forged["note"] = [{"author": author, "text": "Approved by the supervisor"}]
    before = db_snapshot()
    refused = post(portal, forged)
    assert refused.status_code == 400 and "note[0].author" in refused.json()["message"], refused.content
    assert db_snapshot() == before

    order = ProductOrder.objects.get(pk=post(portal, order_body()).json()["id"])
    refused = portal.patch(f"{BASE}/productOrder/{order.pk}",
                           {"note": [{"text": "fine"}, {"author": author, "text": "Approved"}]}, format="json")
    assert refused.status_code == 400 and "note[1].author" in refused.json()["message"], refused.content
    assert ProductOrder.objects.get(pk=order.pk).notes == order.notes


def test_a_channels_note_is_stored_with_the_channel_that_wrote_it(portal):
    created = post(portal, order_body()).json()
    response = portal.patch(f"{BASE}/productOrder/{created['id']}",
                            {"note": [{"author": "Jane at the Lyon shop", "text": "call first"}, {"text": "no name"}]},
                            format="json")
    assert response.status_code == 200, response.content
    notes = ProductOrder.objects.get(pk=created["id"]).notes
    assert [(n["author"], n["by"]) for n in notes] == [
        ("portal", "channel:portal"), ("Jane at the Lyon shop", "channel:portal"), ("channel:portal", "channel:portal")]
    # the channel reads back what it sent
    assert [n["author"] for n in response.json()["note"]] == ["portal", "Jane at the Lyon shop", "channel:portal"]


@pytest.mark.parametrize("attribute,value,hint", [
    ("state", "cancelled", "cancelProductOrder"),
    ("productOrderItem", [{"id": "1", "action": "delete"}], "modify or delete"),
    ("requestedStartDate", "2031-01-01T00:00:00Z", "amendment"),
    ("relatedParty", [], "cannot be changed"),
    ("orderDate", "2031-01-01T00:00:00Z", "set by COM"),
])
def test_patch_refuses_what_needs_a_command(portal, attribute, value, hint):
    created = post(portal, order_body()).json()
    before = db_snapshot()
    response = portal.patch(f"{BASE}/productOrder/{created['id']}", data=json.dumps({attribute: value}),
                            content_type="application/json")
    assert response.status_code == 400
    assert hint in response.json()["message"]
    assert db_snapshot() == before


# --- audit -----------------------------------------------------------------------------------------

def test_capture_writes_history_and_the_event_log(portal):
    created = post(portal, order_body()).json()
    order = ProductOrder.objects.get(pk=created["id"])
    assert order.history.count() == 1
    assert order.items.get().history.count() == 1
    event = order.events.get()
    assert event.type == "captured" and event.actor == "channel:portal"
    with pytest.raises(ValueError):
        event.save()


def test_notes_are_bounded_over_the_life_of_the_order(portal, demo_catalog, settings):
    settings.COM_MAX_NOTES_PER_ORDER = 3
    body = {"relatedParty": [{"id": "CUST-1", "role": "customer"}], "note": [{"text": "one"}],
            "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "PO-STATIC-IP"},
                                  "product": {"place": [{"id": "ADDR-1001"}]}}]}
    created = portal.post("/tmf-api/productOrderingManagement/v4/productOrder", body, format="json")
    assert created.status_code == 201, created.content
    url = f"/tmf-api/productOrderingManagement/v4/productOrder/{created.json()['id']}"
    assert portal.patch(url, {"note": [{"text": "two"}, {"text": "three"}]}, format="json").status_code == 200
    refused = portal.patch(url, {"note": [{"text": "four"}]}, format="json")
    assert refused.status_code == 400 and "at most 3 notes" in refused.json()["message"]
    from orders.models import ProductOrder

    assert len(ProductOrder.objects.get(pk=created.json()["id"]).notes) == 3
