"""Reading an order's past over TMF622 (asOf, versions, diffs) and the ETag / If-Match guard on PATCH."""
import json
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comapp.errors import PreconditionFailed
from comapp.tmf import iso
from orders import history
from orders.api.versions import diff
from orders.models import OrderEvent, ProductOrder, ProductOrderItem
from orders.services.checks import run_order_checks
from orders.services.common import touch
from orders.services.holds import release_hold
from orders.services.updates import update_order_attributes
from tests.tmf_schema import TMF622, assert_valid

from .bodies import item, order_body
from .flows import capture, service_orders, superfibre

pytestmark = pytest.mark.usefixtures("demo")

BASE = "/tmf-api/productOrderingManagement/v4/productOrder"


def fibre_and_ip(ext="hist-ip"):
    return order_body(ext, productOrderItem=[
        item("1", downloadSpeed=200), item("2", offering="PO-STATIC-IP", ipVersion="IPv4", relationships=("1",))])


def get(client, path, **params):
    return client.get(f"{BASE}/{path}", params)


def patch(client, order_id, body, **headers):
    return client.patch(f"{BASE}/{order_id}", data=json.dumps(body), content_type="application/merge-patch+json",
                        headers=headers)


def record(order_id):
    """Everything a refused request must leave as it was."""
    order = ProductOrder.objects.get(pk=order_id)
    return (order.version, order.description, order.notes, OrderEvent.objects.filter(order_id=order_id).count(),
            ProductOrder.history.filter(id=order_id).count(),
            ProductOrderItem.history.filter(order_id=order_id).count())


def states(body):
    return body["state"], [(i["id"], i["state"]) for i in body.get("productOrderItem", [])]


@pytest.fixture
def lifecycle(web, som):
    """A fibre + static IP order captured, checked and fulfilled, with the instant after each stage."""
    before = timezone.now()
    order = capture(web.channel, fibre_and_ip())
    captured = timezone.now()
    run_order_checks(order_id=order.pk)
    checked = timezone.now()
    [first] = service_orders(ProductOrder.objects.get(pk=order.pk))
    som.run(first)  # the access is built: the static IP goes in a second service order
    halfway = timezone.now()
    order = som.fulfil(ProductOrder.objects.get(pk=order.pk))
    assert order.state == "completed"
    return {"order": order, "before": before, "captured": captured, "checked": checked, "halfway": halfway,
            "done": timezone.now()}


# --- refusals first -----------------------------------------------------------------------------------

def test_as_of_before_the_order_existed_is_a_404(web, lifecycle):
    order = lifecycle["order"]
    response = get(web, order.pk, asOf=iso(lifecycle["before"] - timedelta(seconds=1)))
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "NOT_FOUND" and f"{order.pk} did not exist at" in body["message"]
    assert "it was created at" in body["message"]
    assert_valid(TMF622, "Error", body)


@pytest.mark.parametrize("value", ["yesterday", "", "2024-13-45T00:00:00Z", "12"])
def test_a_malformed_as_of_is_a_400(web, lifecycle, value):
    response = get(web, lifecycle["order"].pk, asOf=value)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "asOf"


def test_an_impossible_date_in_a_list_filter_is_a_400_too(web):
    response = web.get(BASE, {"orderDate.gte": "2024-13-45T00:00:00Z"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "orderDate.gte"


@pytest.mark.parametrize("path", ["{id}", "{id}/version", "{id}/version/1", "{id}/version/2/diff"])
def test_another_channels_order_and_its_past_are_404(web, make_channel, lifecycle, path):
    other = make_channel("elsewhere")
    order = lifecycle["order"]
    params = {"asOf": iso(lifecycle["done"])} if path == "{id}" else {}
    response = get(other, path.format(id=order.pk), **params)
    assert response.status_code == 404
    assert response.json()["message"] == f"No product order {order.pk}"


def test_unknown_and_malformed_versions(web, lifecycle):
    order = lifecycle["order"]
    missing = get(web, f"{order.pk}/version/{order.version + 5}")
    assert missing.status_code == 404
    assert f"has no version {order.version + 5}" in missing.json()["message"]
    assert f"from 1 to {order.version}" in missing.json()["message"]
    for bad in ("abc", "0", "-1", "1.5"):
        response = get(web, f"{order.pk}/version/{bad}")
        assert response.status_code == 400, bad
    assert get(web, f"{order.pk}/version/2/diff", **{"from": "x"}).status_code == 400
    assert get(web, f"{order.pk}/version/2/diff", **{"from": "99"}).status_code == 404
    first = get(web, f"{order.pk}/version/1/diff")
    assert first.status_code == 400 and "first version" in first.json()["message"]


def test_the_past_cannot_be_written(web, lifecycle):
    order = lifecycle["order"]
    before = record(order.pk)
    for path in (f"{order.pk}/version", f"{order.pk}/version/1", f"{order.pk}/version/1/diff"):
        for method in ("post", "put", "patch", "delete"):
            response = getattr(web, method)(f"{BASE}/{path}", data="{}", content_type="application/json")
            assert response.status_code == 405, (method, path)
    as_of = patch(web, f"{order.pk}?asOf={iso(lifecycle['captured'])}", {"description": "back then"})
    assert as_of.status_code == 400 and "without asOf" in as_of.json()["message"]
    # reading changes nothing, not even the history
    get(web, order.pk, asOf=iso(lifecycle["checked"]))
    get(web, f"{order.pk}/version")
    get(web, f"{order.pk}/version/3/diff", **{"from": "1"})
    assert record(order.pk) == before
    # what the reads are built from refuses to be saved
    past = history.order_at_version(order, 1)
    with pytest.raises(TypeError, match="read-only"):
        past.order.save()
    with pytest.raises(TypeError, match="read-only"):
        past.items[0].save()
    with pytest.raises(TypeError, match="read-only"):
        past.order.delete()
    assert record(order.pk) == before


# --- reading the past ------------------------------------------------------------------------------------

def test_the_order_as_it_was_at_each_stage(web, lifecycle):
    order = lifecycle["order"]
    at = {stage: get(web, order.pk, asOf=iso(lifecycle[stage])) for stage in ("captured", "checked", "halfway",
                                                                                "done")}
    assert {stage: r.status_code for stage, r in at.items()} == dict.fromkeys(at, 200)
    assert states(at["captured"].json()) == ("acknowledged", [("1", "acknowledged"), ("2", "acknowledged")])
    assert states(at["checked"].json()) == ("inProgress", [("1", "inProgress"), ("2", "inProgress")])
    assert states(at["halfway"].json()) == ("inProgress", [("1", "completed"), ("2", "inProgress")])
    assert states(at["done"].json()) == ("completed", [("1", "completed"), ("2", "completed")])
    # the product the access item created is on the item from its completion on, not before
    assert "id" not in at["checked"].json()["productOrderItem"][0]["product"]
    assert at["halfway"].json()["productOrderItem"][0]["product"]["id"].startswith("PR-")
    assert "completionDate" not in at["halfway"].json()
    # the relationship of the static IP to the access is there from the start
    assert at["captured"].json()["productOrderItem"][1]["productOrderItemRelationship"] == [
        {"id": "1", "relationshipType": "reliesOn", "@type": "OrderItemRelationship"}]
    # after the last change, the past is the present
    current = get(web, order.pk).json()
    assert at["done"].json() == current
    assert at["done"]["ETag"] == f'W/"{order.version}"'
    for response in at.values():
        assert_valid(TMF622, "ProductOrder", response.json())


def test_a_version_reads_as_the_order_was_at_it(web, lifecycle):
    order = lifecycle["order"]
    versions = get(web, f"{order.pk}/version").json()
    read = {v["version"]: get(web, f"{order.pk}/version/{v['version']}") for v in versions}
    assert states(read[1].json()) == ("acknowledged", [("1", "acknowledged"), ("2", "acknowledged")])
    started = next(v["version"] for v in versions if v["state"] == "inProgress")
    assert states(read[started].json()) == ("inProgress", [("1", "inProgress"), ("2", "inProgress")])
    assert states(read[order.version].json()) == ("completed", [("1", "completed"), ("2", "completed")])
    assert read[order.version].json() == get(web, order.pk).json()
    for number, response in read.items():
        assert response.status_code == 200 and response["ETag"] == f'W/"{number}"'
        assert response.json()["state"] == next(v["state"] for v in versions if v["version"] == number)
        assert_valid(TMF622, "ProductOrder", response.json())
    # fields= selects on the past as on the present
    assert set(get(web, f"{order.pk}/version/1", fields="state").json()) == {"id", "href", "state", "@type",
                                                                             "@baseType"}
    assert get(web, f"{order.pk}/version/1", fields="secret").status_code == 400


def test_the_versions_are_listed_oldest_first_with_date_actor_reason_and_events(web, lifecycle):
    order = lifecycle["order"]
    response = get(web, f"{order.pk}/version/")  # with a trailing slash too
    assert response.status_code == 200 and response["X-Total-Count"] == str(order.version)
    versions = response.json()
    assert [v["version"] for v in versions] == list(range(1, order.version + 1))
    dates = [v["versionDate"] for v in versions]
    assert dates == sorted(dates) and all(d.endswith("Z") for d in dates)
    first, last = versions[0], versions[-1]
    assert (first["state"], first["changedBy"]) == ("acknowledged", "channel:web")
    assert [e["eventType"] for e in first["event"]] == ["captured"]
    assert first["href"].endswith(f"/productOrder/{order.pk}/version/1")
    assert (last["state"], last["changedBy"], last["changeReason"]) == ("completed", "system",
                                                                        "inProgress -> completed")
    assert [(e["eventType"], e["message"]) for e in last["event"]] == [("stateChanged",
                                                                        "Order inProgress -> completed")]
    assert any(v.get("changeReason") == "checks passed" for v in versions)
    # the channel is told of business events only; the checks' details are not its business
    told = {e["eventType"] for v in versions for e in v["event"]}
    assert "checkRecorded" not in told and "serviceOrderSubmitted" not in told
    assert {"captured", "fulfilmentStarted", "itemStateChanged", "stateChanged"} <= told
    # paging
    page = get(web, f"{order.pk}/version", offset="1", limit="2")
    assert page.status_code == 206 and [v["version"] for v in page.json()] == [2, 3]


def test_staff_see_every_event_and_who_acted(staff_client, web, lifecycle):
    order = lifecycle["order"]
    versions = get(staff_client, f"{order.pk}/version").json()
    events = [e for v in versions for e in v["event"]]
    assert {"checkRecorded", "serviceOrderSubmitted", "serviceStateChanged"} <= {e["eventType"] for e in events}
    assert any(e["actor"].startswith("som:") for e in events)


def test_a_channel_is_not_told_who_the_agent_was(web, staff_client):
    """A credit hold released by an agent: the channel sees that an agent released it, staff see who."""
    order = capture(web.channel, superfibre("big-spender", customer="CUST-4004"))
    run_order_checks(order_id=order.pk)
    order.refresh_from_db()
    assert order.state == "held" and order.state_reason_code == "CREDIT_LIMIT"
    release_hold(order=order, user=staff_client.user, reason="approved by credit control")
    told = get(web, f"{order.pk}/version").json()
    released = next(v for v in told if any(e["eventType"] == "holdReleased" for e in v["event"]))
    assert "agent1" not in json.dumps(told)
    assert {e["actor"] for e in released["event"] if e["eventType"] == "holdReleased"} == {"agent"}
    seen = get(staff_client, f"{order.pk}/version").json()
    assert "user:agent1" in json.dumps(seen)


def test_the_diff_between_capture_and_completion_names_the_state_changes(web, lifecycle):
    order = lifecycle["order"]
    response = get(web, f"{order.pk}/version/{order.version}/diff", **{"from": "1"})
    assert response.status_code == 200
    body = response.json()
    assert (body["fromVersion"], body["toVersion"]) == (1, order.version)
    assert body["productOrder"]["id"] == order.pk
    changes = {c["path"]: (c["before"], c["after"]) for c in body["change"]}
    assert changes["state"] == ("acknowledged", "completed")
    assert changes["productOrderItem[1].state"] == ("acknowledged", "completed")
    assert changes["productOrderItem[2].state"] == ("acknowledged", "completed")
    assert changes["completionDate"][0] is None and changes["completionDate"][1].endswith("Z")
    assert changes["productOrderItem[1].product.id"][0] is None
    assert "description" not in changes and "productOrderItem[1].productOffering.id" not in changes
    # the other way round
    back = get(web, f"{order.pk}/version/1/diff", **{"from": str(order.version)}).json()
    assert {c["path"]: (c["before"], c["after"]) for c in back["change"]}["state"] == ("completed", "acknowledged")


def test_a_patch_shows_in_the_diff_and_in_the_version_before_it(web):
    order_id = web.post(BASE, data=order_body("patched"), format="json").json()["id"]
    response = patch(web, order_id, {"description": "Fibre for Alice, 2nd floor", "note": [{"text": "gate code 42"}]})
    assert response.status_code == 200
    version = ProductOrder.objects.get(pk=order_id).version
    body = get(web, f"{order_id}/version/{version}/diff").json()  # from: the version before
    assert body["fromVersion"] == version - 1
    changes = {c["path"]: (c["before"], c["after"]) for c in body["change"]}
    assert changes["description"] == ("SuperFibre for Alice", "Fibre for Alice, 2nd floor")
    assert changes["note[2]"][0] is None and changes["note[2]"][1]["text"] == "gate code 42"
    assert set(changes) == {"description", "note[2]"}
    assert get(web, f"{order_id}/version/{version - 1}").json()["description"] == "SuperFibre for Alice"
    listed = get(web, f"{order_id}/version").json()[-1]
    assert listed["changedBy"] == "channel:web"
    assert listed["changeReason"] == "attributes updated by channel:web"
    assert {e["eventType"] for e in listed["event"]} == {"attributesUpdated", "noteAdded"}


def test_an_item_added_later_is_absent_before(web):
    """An item added after capture (as an amendment will add one: the item, then the version bump)."""
    order = capture(web.channel, superfibre("later"))
    captured_at = timezone.now()
    with transaction.atomic():
        first = ProductOrderItem.objects.get(order=order)
        ProductOrderItem.objects.create(
            order=order, item_id="2", sequence=2, action="add", product_offering=first.product_offering,
            offering_version=first.offering_version, product_specification=first.product_specification,
            characteristics={"downloadSpeed": 500}, place=first.place, item_prices=first.item_prices)
        order = ProductOrder.objects.select_for_update().get(pk=order.pk)
        touch(order, reason="item 2 added")
    assert [i["id"] for i in get(web, order.pk, asOf=iso(captured_at)).json()["productOrderItem"]] == ["1"]
    assert [i["id"] for i in get(web, f"{order.pk}/version/1").json()["productOrderItem"]] == ["1"]
    assert [i["id"] for i in get(web, f"{order.pk}/version/2").json()["productOrderItem"]] == ["1", "2"]
    changes = get(web, f"{order.pk}/version/2/diff").json()["change"]
    added = [c for c in changes if c["path"] == "productOrderItem[2]"]
    assert len(added) == 1 and added[0]["before"] is None
    assert added[0]["after"]["product"]["productCharacteristic"][0]["value"] == 500
    # the order's total follows (one more SuperFibre): nothing else changed
    assert {c["path"] for c in changes} - {"productOrderItem[2]"} == {
        "orderTotalPrice[0].price.taxIncludedAmount.value", "orderTotalPrice[1].price.taxIncludedAmount.value"}


def test_a_characteristic_change_is_named_by_the_characteristic():
    def order(speed, state="inProgress", extra=()):
        return {"state": state, "productOrderItem": [{"id": "1", "state": state, "product": {"productCharacteristic": [
            {"name": "downloadSpeed", "valueType": "integer", "value": speed, "@type": "Characteristic"},
            *extra]}}]}

    assert diff(order(200), order(200)) == []
    assert diff(order(200), order(500, "completed")) == [
        {"path": "state", "before": "inProgress", "after": "completed"},
        {"path": "productOrderItem[1].state", "before": "inProgress", "after": "completed"},
        {"path": "productOrderItem[1].product.productCharacteristic[downloadSpeed]", "before": 200, "after": 500},
    ]
    added = {"name": "ipVersion", "valueType": "string", "value": "IPv6", "@type": "Characteristic"}
    assert diff(order(1), order(1, extra=[added])) == [
        {"path": "productOrderItem[1].product.productCharacteristic[ipVersion]", "before": None, "after": "IPv6"}]
    assert diff(order(1), order(True)) == [  # JSON types differ: 1 is not true
        {"path": "productOrderItem[1].product.productCharacteristic[downloadSpeed]", "before": 1, "after": True}]
    prices = [{"a": {"itemPrice": [{"name": "", "value": 1}, {"name": "", "value": 2}]}},
              {"a": {"itemPrice": [{"name": "", "value": 1}, {"name": "", "value": 3}]}}]
    assert diff(*prices) == [{"path": "a.itemPrice[1].value", "before": 2, "after": 3}]


def test_reading_a_version_costs_the_same_whatever_the_number_of_items(web, django_assert_max_num_queries):
    one = capture(web.channel, superfibre("q-1"))
    three = capture(web.channel, order_body("q-3", productOrderItem=[
        item("1", downloadSpeed=200), item("2", offering="PO-STATIC-IP", ipVersion="IPv4", relationships=("1",)),
        item("3", offering="PO-STATIC-IP", ipVersion="IPv6", relationships=("1",))]))
    for order in (one, three):
        patch(web, order.pk, {"description": "bump"})
        patch(web, order.pk, {"description": "bump again"})
    counts = {}
    for order in (one, three):
        for path, params in ((f"{order.pk}/version/2", {}), (order.pk, {"asOf": iso(timezone.now())}),
                             (f"{order.pk}/version/3/diff", {"from": "1"}), (f"{order.pk}/version", {})):
            with CaptureQueriesContext(connection) as queries:
                assert get(web, path, **params).status_code == 200
            counts[(order.pk == three.pk, path.replace(order.pk, ""), tuple(params))] = len(queries)
    assert {k[1:]: v for k, v in counts.items() if k[0]} == {k[1:]: v for k, v in counts.items() if not k[0]}
    with django_assert_max_num_queries(12):
        get(web, f"{three.pk}/version/2")
    with django_assert_max_num_queries(12):
        get(web, three.pk, asOf=iso(timezone.now()))
    with django_assert_max_num_queries(18):
        get(web, f"{three.pk}/version/3/diff", **{"from": "1"})


# --- ETag / If-Match ---------------------------------------------------------------------------------------

def test_the_etag_is_the_order_version_and_changes_with_it(web):
    created = web.post(BASE, data=order_body("etag"), format="json")
    assert created.status_code == 201 and created["ETag"] == 'W/"1"'
    order_id = created.json()["id"]
    assert get(web, order_id)["ETag"] == 'W/"1"'
    changed = patch(web, order_id, {"description": "v2"})
    assert changed.status_code == 200 and changed["ETag"] == 'W/"2"'
    assert get(web, order_id)["ETag"] == 'W/"2"'
    replay = web.post(BASE, data=order_body("etag"), format="json")  # the same externalId: the order as it is
    assert replay.status_code == 201 and replay["ETag"] == 'W/"2"'


def test_a_patch_against_an_older_version_is_a_412_and_changes_nothing(web):
    order_id = web.post(BASE, data=order_body("stale"), format="json").json()["id"]
    read = get(web, order_id)["ETag"]
    assert patch(web, order_id, {"description": "someone else's change"}, **{"If-Match": read}).status_code == 200
    before = record(order_id)
    response = patch(web, order_id, {"description": "mine", "note": [{"text": "mine"}]}, **{"If-Match": read})
    assert response.status_code == 412
    body = response.json()
    assert body["code"] == "PRECONDITION_FAILED" and body["status"] == "412"
    assert "is at version 2" in body["message"] and 'W/"2"' in body["message"]
    assert response["ETag"] == 'W/"2"'
    assert_valid(TMF622, "Error", body)
    assert record(order_id) == before
    assert get(web, order_id).json()["description"] == "someone else's change"


@pytest.mark.parametrize("if_match", ['W/"2"', '"2"', "*", None])
def test_a_patch_against_the_current_version_or_without_condition_applies(web, if_match):
    order_id = web.post(BASE, data=order_body("fresh"), format="json").json()["id"]
    patch(web, order_id, {"description": "v2"})
    headers = {"If-Match": if_match} if if_match is not None else {}
    response = patch(web, order_id, {"description": "v3"}, **headers)
    assert response.status_code == 200, response.content
    assert response.json()["description"] == "v3" and response["ETag"] == 'W/"3"'


@pytest.mark.parametrize("if_match", ["2", 'W/"two"', 'W/"1", W/"2"', "W/2"])
def test_an_unreadable_if_match_is_a_400_and_changes_nothing(web, if_match):
    order_id = web.post(BASE, data=order_body("garbled"), format="json").json()["id"]
    before = record(order_id)
    response = patch(web, order_id, {"description": "x"}, **{"If-Match": if_match})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "If-Match"
    assert record(order_id) == before


def test_the_version_is_compared_on_the_locked_row_not_on_the_callers_copy(web):
    """The command re-reads the order under its lock: a caller holding an old copy cannot slip a change in."""
    order = capture(web.channel, superfibre("race"))
    stale_copy = ProductOrder.objects.get(pk=order.pk)
    update_order_attributes(order=order, changes={"description": "first"}, actor="channel:web", expected_version=1)
    with pytest.raises(PreconditionFailed) as refused:
        update_order_attributes(order=stale_copy, changes={"description": "second"}, actor="channel:web",
                                expected_version=stale_copy.version)
    assert refused.value.current_version == 2
    assert ProductOrder.objects.get(pk=order.pk).description == "first"
