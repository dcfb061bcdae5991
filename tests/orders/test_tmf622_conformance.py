"""TMF622 v4 conformance: the checks of TM Forum's Conformance Test Kit, re-implemented in process.

The kit (``CTK-Product_Ordering-4.0.0``, a Postman collection run with newman) cannot be run here; what it
sends and checks is described in ``tests/orders/ctk_notes.md``. Part 1 does the kit's requests and checks,
with two differences: the kit's "<attribute> is <value>" comparisons are vacuous in the kit (see the notes),
here they really compare; and the POST body is our valid order (the kit sends the payload its user puts in
``config.json``). Part 2 goes beyond the kit: Location, dates, ``fields=``, and every attribute of a created
order used back as a filter.

The deviations this found (exact orderDate filter, quoted dates, note dates, missing filters) are fixed.
"""
import json
import re

import pytest
from django.utils import timezone

from comapp import tmf

from .bodies import order_body

# The kit's {{Product_Ordering}} ends with a slash and it appends "productOrder": no trailing slash.
BASE = "/tmf-api/productOrderingManagement/v4/"
MANDATORY = ("productOrderItem", "href", "id", "orderDate", "relatedParty", "state")
TYPES = {"productOrderItem": list, "href": str, "id": str, "orderDate": str, "relatedParty": list}
UNKNOWN_ID = "f42b01d2-dba6-4442-a0fa-34e59639fd15"  # the id of the kit's 404 request

pytestmark = pytest.mark.usefixtures("demo_catalog")


def ctk_body(**changes):
    """Our valid order with every optional top-level attribute the create accepts filled in."""
    changes = {"notificationContact": "alice@example.com", "requestedStartDate": "2030-01-10T08:00:00Z",
               **changes}
    return order_body("ctk-0001", **changes)


def create(client, body=None):
    return client.post(f"{BASE}productOrder", data=json.dumps(body or ctk_body()), content_type="application/json")


def check_instance(instance, text: str, created: dict | None = None):
    """What the kit checks on one order, wherever it meets one."""
    assert isinstance(instance, dict), f"not an order: {instance!r}"
    missing = [a for a in MANDATORY if a not in instance]
    assert not missing, f"mandatory attribute(s) missing: {missing} in {sorted(instance)}"
    for attribute, kind in TYPES.items():
        assert isinstance(instance[attribute], kind), f"{attribute} is not a {kind.__name__}: {instance[attribute]!r}"
    for attribute in ("href", "id", "orderDate"):  # "Body includes value held on ..."
        assert instance[attribute] in text
    if created is not None and instance["id"] == created["id"]:
        for attribute in ("href", "id", "orderDate"):
            assert instance[attribute] == created[attribute], attribute


def check_read(response, created):
    """The kit's checks on a GET (list, one, filtered): 200, then every order; [] counts as a bad order."""
    assert response.status_code == 200, (response.status_code, response.content[:500])
    data = response.json()
    instances = data if isinstance(data, list) and data else [data]
    for instance in instances:
        check_instance(instance, response.content.decode(), created)
    return data


@pytest.fixture
def created(portal, monkeypatch):
    """Folder N1, first request: POST productOrder, 201, an object with the mandatory attributes.

    The clock is given sub-millisecond digits (as it has 999 times in 1000), so what depends on them does
    not pass by chance.
    """
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now().replace(microsecond=123456))
    response = create(portal)
    assert response.status_code == 201, response.content
    body = response.json()
    assert not isinstance(body, list), "Array not expected as response"
    check_instance(body, response.content.decode())
    body["_location"] = response.get("Location")
    return body


# === Part 1: the kit ===============================================================================

def test_n1_create(created):
    assert created["state"] == "acknowledged"


def test_n1_list(portal, created):
    data = check_read(portal.get(f"{BASE}productOrder"), created)
    assert created["id"] in [o["id"] for o in data]


def test_n1_retrieve(portal, created):
    data = check_read(portal.get(f"{BASE}productOrder/{created['id']}"), created)
    assert data["id"] == created["id"]


@pytest.mark.parametrize("field", ["href", "id", "orderDate"])
def test_n2_fields_requests_are_answered(portal, created, field):
    # the kit sends these three and checks nothing of the answer; a 200 list is the least it needs
    response = portal.get(f"{BASE}productOrder?fields={field}")
    assert response.status_code == 200
    assert [o["id"] for o in response.json()] == [created["id"]]


def test_n2_filter_by_id(portal, created):
    data = check_read(portal.get(f"{BASE}productOrder?id={created['id']}"), created)
    assert [o["id"] for o in data] == [created["id"]]


def test_n2_filter_by_order_date_exact(portal, created):
    data = check_read(portal.get(f"{BASE}productOrder", {"orderDate": created["orderDate"]}), created)
    assert created["id"] in [o["id"] for o in data]


def test_n2_filter_by_order_date_quoted_older_kit(portal, created):
    data = check_read(portal.get(f"{BASE}productOrder", {"orderDate": f"'{created['orderDate']}'"}), created)
    assert created["id"] in [o["id"] for o in data]


def test_e1_unknown_order_is_404(portal, created):
    assert portal.get(f"{BASE}productOrder/{UNKNOWN_ID}").status_code == 404


def test_kit_default_payload_is_refused_with_a_tmf_error(portal):
    # Not a deviation: the kit's built-in payload (one item id 123 action add, no offering; a party with no
    # role) is replaced by the payload of config.json. Ours needs an offering and a party with role customer.
    body = {"productOrderItem": [{"id": "123", "action": "add"}],
            "relatedParty": [{"id": "456-dd-df45", "@referredType": "Individual"}]}
    response = create(portal, body)
    assert response.status_code == 400
    assert response.json()["@type"] == "Error"


def test_unfiltered_list_is_206_when_it_does_not_fit_one_page(portal, monkeypatch):
    # The kit wants 200 on GET productOrder without limit. TMF630 paging answers 206 when more orders are
    # visible than the default page (100): run the kit with a channel that has fewer orders.
    monkeypatch.setattr(tmf, "DEFAULT_LIMIT", 2)
    for n in range(3):
        assert create(portal, ctk_body(externalId=f"ctk-{n}")).status_code == 201
    assert portal.get(f"{BASE}productOrder").status_code == 206
    assert portal.get(f"{BASE}productOrder?limit=3").status_code == 200


# === Part 2: beyond the kit ========================================================================

def test_href_is_the_location_of_the_201(created):
    assert created["_location"] == created["href"]
    assert created["href"].startswith("http://testserver" + BASE + "productOrder/")


def test_routes_answer_without_a_trailing_slash(portal, created):
    for path in ("productOrder", f"productOrder/{created['id']}"):
        assert portal.get(BASE + path).status_code == 200


def _dates(value, path="$"):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _dates(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            yield from _dates(inner, f"{path}[{n}]")
    elif isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d", value):
        yield path, value


def test_top_level_dates_are_utc_with_z(created):
    dates = {p: v for p, v in _dates(created) if p.count(".") == 1}
    assert {"$.orderDate", "$.requestedStartDate", "$.requestedCompletionDate"} <= set(dates)
    assert all(v.endswith("Z") for v in dates.values()), dates


def test_every_date_in_the_order_is_utc_with_z(created):
    not_z = {p: v for p, v in _dates(created) if not v.endswith("Z")}
    assert not not_z, not_z


@pytest.mark.parametrize("separator", ["+", " "])  # ' ' is what an unencoded '+' becomes
def test_date_filters_accept_an_explicit_utc_offset(portal, created, separator):
    start = created["orderDate"][:19]  # second precision, lower than the stored value
    response = portal.get(f"{BASE}productOrder", {"orderDate.gte": f"{start}{separator}00:00"})
    assert response.status_code == 200, response.content
    assert [o["id"] for o in response.json()] == [created["id"]]


# --- fields= ---------------------------------------------------------------------------------------

FIELD_CASES = ["state", "orderDate", "externalId", "productOrderItem", "relatedParty"]


@pytest.mark.parametrize("field", FIELD_CASES)
def test_fields_returns_the_attribute_with_id_and_href(portal, created, field):
    for url in (f"{BASE}productOrder?fields={field}", f"{BASE}productOrder/{created['id']}?fields={field}"):
        data = portal.get(url).json()
        order = data[0] if isinstance(data, list) else data
        assert order[field] == created[field]
        assert {field, "id", "href"} <= set(order) <= {field, "id", "href", "@type", "@baseType"}


# --- every attribute of the created order, used back as a filter -----------------------------------

def _filter_for(attribute, created):
    """(query name, value, does an order carry it?) for one top-level attribute of the created order."""
    value = created[attribute]
    if isinstance(value, list):
        wanted = value[0]["id"]
        return f"{attribute}.id", wanted, lambda o: any(e.get("id") == wanted for e in o.get(attribute, []))
    return attribute, value, lambda o: o.get(attribute) == value


SUPPORTED = ["id", "externalId", "state", "priority", "category", "requestedStartDate",
             "requestedCompletionDate", "relatedParty", "orderDate", "description", "notificationContact",
             "productOrderItem", "channel"]
# Not filters: notes are free text kept as a list, href/@type/@baseType say nothing id does not, and
# orderTotalPrice is computed from the items.
NOT_FILTERS = {"note": "note.id", "href": "href", "@type": "@type", "@baseType": "@baseType",
               "orderTotalPrice": "orderTotalPrice"}
ATTRIBUTES = SUPPORTED


@pytest.mark.parametrize("name", sorted(NOT_FILTERS.values()))
def test_attributes_that_are_not_filters_are_refused_clearly(portal, created, name):
    response = portal.get(f"{BASE}productOrder", {name: "x"})
    assert response.status_code == 400
    assert "Supported:" in response.json()["message"]


def test_the_attribute_list_covers_the_create_response(created):
    assert set(ATTRIBUTES) | set(NOT_FILTERS) == set(created) - {"_location"}


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_every_attribute_of_the_created_order_filters_back_to_it(portal, created, attribute):
    other = create(portal, ctk_body(externalId="ctk-other", customer="CUST-3003", category="business",
                                    priority="3", description="another order", notificationContact="bob@example.com",
                                    requestedStartDate="2030-01-11T08:00:00Z",
                                    requestedCompletionDate="2030-01-16T09:00:00Z"))
    assert other.status_code == 201, other.content
    name, value, carries = _filter_for(attribute, created)
    response = portal.get(f"{BASE}productOrder", {name: value})
    assert response.status_code == 200, (name, value, response.status_code, response.content[:300])
    data = response.json()
    assert created["id"] in [o["id"] for o in data], (name, value, "the created order is not in the result")
    assert all(carries(o) for o in data), (name, value, "an order without that value was returned")


def test_channel_name_filter(portal, created):
    data = portal.get(f"{BASE}productOrder", {"channel": created["channel"][0]["name"]}).json()
    assert [o["id"] for o in data] == [created["id"]]



def test_related_party_filter_is_the_customer(portal):
    """COM indexes the customer party; relatedParty.id finds orders by their customer."""
    parties = [{"id": "CUST-1001", "role": "customer"}, {"id": "AGENT-7", "role": "salesAgent"}]
    response = create(portal, ctk_body(relatedParty=parties))
    assert response.status_code == 201, response.content
    data = portal.get(f"{BASE}productOrder", {"relatedParty.id": "CUST-1001"}).json()
    assert [o["id"] for o in data] == [response.json()["id"]]
