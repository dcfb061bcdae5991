"""TMF637 Product Inventory read API: representation, filters, paging, visibility, errors."""
import pytest

from inventory.models import ProductStatus
from tests.inventory.conftest import ORDER_DATE
from tests.tmf_schema import TMF637, assert_valid

BASE = "/tmf-api/productInventory/v4/product"


def assert_tmf_error(response, status: int) -> dict:
    body = response.json()
    assert response.status_code == status
    assert body["status"] == str(status)
    assert {"code", "reason", "message"} <= body.keys()
    assert body["@type"] == "Error"
    return body


@pytest.mark.django_db
class TestRepresentation:
    def test_list_items_are_valid_tmf637_products(self, portal, full_product, offering, make_order, make_product):
        make_product(make_order(portal, "CUST-2"), offering, status=ProductStatus.TERMINATED,
                     termination_date=ORDER_DATE)

        response = portal.get(BASE)

        assert response.status_code == 200
        body = response.json()
        assert len(body) == 2
        for item in body:
            assert_valid(TMF637, "Product", item)

    def test_product_with_every_optional_part(self, portal, full_product):
        response = portal.get(f"{BASE}/{full_product.pk}")

        assert response.status_code == 200
        body = response.json()
        assert_valid(TMF637, "Product", body)
        order_id = full_product.created_by_order_id
        assert body["id"] == full_product.pk
        assert body["href"] == f"http://testserver{BASE}/{full_product.pk}"
        assert body["@type"] == "Product"
        assert body["name"] == "Fibre 1 Gbit/s"
        assert body["status"] == "active"
        assert body["isBundle"] is False
        assert body["isCustomerVisible"] is True
        assert body["orderDate"] == "2024-03-01T09:30:00.000Z"
        assert body["startDate"] == "2024-03-05T14:00:00.000Z"
        assert "terminationDate" not in body
        assert "version" not in body
        assert body["productCharacteristic"] == [
            {"name": "downloadSpeed", "valueType": "integer", "value": 1000, "@type": "Characteristic"},
            {"name": "latencyMs", "valueType": "number", "value": 4.5, "@type": "Characteristic"},
            {"name": "router", "valueType": "string", "value": "FRITZ!Box", "@type": "Characteristic"},
            {"name": "staticIp", "valueType": "boolean", "value": True, "@type": "Characteristic"},
        ]
        assert body["productOffering"] == {
            "id": "OFF-FIBRE-1G",
            "href": "http://testserver/tmf-api/productCatalogManagement/v4/productOffering/OFF-FIBRE-1G",
            "name": "Fibre 1 Gbit/s",
            "@referredType": "ProductOffering",
        }
        spec = body["productSpecification"]
        assert (spec["id"], spec["name"], spec["version"], spec["@referredType"]) == (
            "SPEC-FIBRE", "Fibre access", "2", "ProductSpecification")
        assert spec["href"].startswith("http://testserver/tmf-api/productCatalogManagement/v4/productSpecification/")
        assert body["place"] == [{"id": "ADDR-42", "name": "1 Main Street", "role": "installationAddress",
                                  "@referredType": "GeographicAddress", "@type": "RelatedPlaceRefOrValue"}]
        assert body["relatedParty"] == [{"id": "CUST-1", "name": "Ada Lovelace", "role": "customer",
                                         "@referredType": "Individual", "@type": "RelatedParty"}]
        assert body["productPrice"] == [
            {"name": "Monthly fee", "priceType": "recurring", "recurringChargePeriod": "month",
             "price": {"taxIncludedAmount": {"unit": "EUR", "value": 39.9}, "@type": "Price"},
             "@type": "ProductPrice"},
            {"name": "Installation", "priceType": "oneTime",
             "price": {"taxIncludedAmount": {"unit": "EUR", "value": 49.0}, "@type": "Price"},
             "@type": "ProductPrice"},
        ]
        assert body["productOrderItem"] == [{
            "orderItemId": "1",
            "orderItemAction": "add",
            "productOrderId": order_id,
            "productOrderHref": f"http://testserver/tmf-api/productOrderingManagement/v4/productOrder/{order_id}",
            "@referredType": "ProductOrderItem",
            "@type": "RelatedProductOrderItem",
        }]
        assert body["realizingService"] == [{"id": "SVC-1001", "name": "CFS-FIBRE-ACCESS",
                                             "@referredType": "Service", "@type": "ServiceRef"}]
        assert body["billingAccount"] == {"id": "BA-77", "@referredType": "BillingAccount"}

    def test_minimal_product_is_valid_and_shows_its_customer(self, portal, offering, make_order, make_product):
        product = make_product(make_order(portal, "CUST-9"), offering, status=ProductStatus.CREATED)

        body = portal.get(f"{BASE}/{product.pk}").json()

        assert_valid(TMF637, "Product", body)
        assert body["relatedParty"] == [{"id": "CUST-9", "role": "customer", "@referredType": "Individual",
                                         "@type": "RelatedParty"}]
        for absent in ("place", "productOrderItem", "realizingService", "startDate", "terminationDate"):
            assert absent not in body
        # TMF637 v4 conformance kit: these are on every product, even when there is nothing in them.
        assert body["productPrice"] == [] and body["productCharacteristic"] == []
        assert body["billingAccount"] == {"id": "", "@referredType": "BillingAccount"}
        assert body["productOffering"]["id"] == offering.offering_id and body["status"] == "created"

    def test_every_product_carries_what_the_conformance_kit_checks(self, portal, full_product, offering,
                                                                  make_order, make_product):
        make_product(make_order(portal, "CUST-9"), offering, status=ProductStatus.CREATED)
        listed = portal.get(BASE).json()
        assert len(listed) == 2
        for body in listed + [portal.get(f"{BASE}/{p['id']}").json() for p in listed]:
            assert_valid(TMF637, "Product", body)
            for key in ("billingAccount", "productCharacteristic", "productOffering", "productPrice",
                        "relatedParty", "status"):
                assert key in body, key

    def test_termination_date_when_set(self, portal, offering, make_order, make_product):
        product = make_product(make_order(portal), offering, status=ProductStatus.TERMINATED,
                               termination_date=ORDER_DATE)

        body = portal.get(f"{BASE}/{product.pk}").json()

        assert body["status"] == "terminated"
        assert body["terminationDate"] == "2024-03-01T09:30:00.000Z"

    def test_aborted_is_written_with_the_spec_spelling(self, portal, offering, make_order, make_product):
        product = make_product(make_order(portal), offering, status=ProductStatus.ABORTED)

        detail = portal.get(f"{BASE}/{product.pk}").json()
        listed = portal.get(BASE).json()

        assert detail["status"] == "aborted "
        assert listed[0]["status"] == "aborted "
        assert_valid(TMF637, "Product", detail)

    @pytest.mark.parametrize("value", ["aborted ", "aborted"])
    def test_status_filter_accepts_both_aborted_spellings(self, portal, offering, make_order, make_product, value):
        aborted = make_product(make_order(portal), offering, status=ProductStatus.ABORTED)
        make_product(make_order(portal), offering, status=ProductStatus.ACTIVE)

        response = portal.get(BASE, {"status": value})

        assert [p["id"] for p in response.json()] == [aborted.pk]


@pytest.mark.django_db
class TestFilters:
    @pytest.fixture
    def products(self, portal, offering, other_offering, make_order, make_product):
        return {
            "ada_fibre": make_product(make_order(portal, "CUST-ADA"), offering, status=ProductStatus.ACTIVE),
            "ada_tv": make_product(make_order(portal, "CUST-ADA"), other_offering, status=ProductStatus.SUSPENDED),
            "bob_fibre": make_product(make_order(portal, "CUST-BOB"), offering, status=ProductStatus.TERMINATED),
        }

    def ids(self, response):
        assert response.status_code == 200, response.content
        return {p["id"] for p in response.json()}

    def test_related_party_id(self, portal, products):
        assert self.ids(portal.get(BASE, {"relatedParty.id": "CUST-ADA"})) == {
            products["ada_fibre"].pk, products["ada_tv"].pk}

    def test_status(self, portal, products):
        assert self.ids(portal.get(BASE, {"status": "terminated"})) == {products["bob_fibre"].pk}

    def test_status_several_values(self, portal, products):
        assert self.ids(portal.get(BASE, {"status": "active,suspended"})) == {
            products["ada_fibre"].pk, products["ada_tv"].pk}

    def test_product_offering_id(self, portal, products):
        assert self.ids(portal.get(BASE, {"productOffering.id": "OFF-TV"})) == {products["ada_tv"].pk}

    def test_filters_combine(self, portal, products):
        assert self.ids(portal.get(BASE, {"relatedParty.id": "CUST-ADA", "productOffering.id": "OFF-FIBRE-1G"})) == {
            products["ada_fibre"].pk}

    def test_no_match_is_an_empty_page(self, portal, products):
        response = portal.get(BASE, {"relatedParty.id": "CUST-NOBODY"})

        assert response.status_code == 200
        assert response.json() == []
        assert response["X-Total-Count"] == "0"

    def test_unknown_filter_is_a_tmf_error(self, portal, products):
        body = assert_tmf_error(portal.get(BASE, {"colour": "red"}), 400)

        assert "colour" in body["message"]

    def test_id(self, portal, products):
        # TMF637 v4 conformance kit: GET product?id=X answers that product.
        response = portal.get(BASE, {"id": products["ada_tv"].pk})
        assert self.ids(response) == {products["ada_tv"].pk}
        assert_valid(TMF637, "Product", response.json()[0])
        assert self.ids(portal.get(BASE, {"id": f"{products['ada_tv'].pk},{products['bob_fibre'].pk}"})) == {
            products["ada_tv"].pk, products["bob_fibre"].pk}
        assert self.ids(portal.get(BASE, {"id": "PR-NOSUCH"})) == set()

    def test_id_of_a_product_the_caller_may_not_see_is_an_empty_page(self, make_channel, products):
        assert make_channel("other").get(BASE, {"id": products["ada_tv"].pk}).json() == []


@pytest.mark.django_db
class TestSort:
    @pytest.fixture
    def products(self, portal, offering, other_offering, make_order, make_product):
        return [make_product(make_order(portal, "CUST-A"), offering, status=ProductStatus.SUSPENDED),
                make_product(make_order(portal, "CUST-B"), other_offering, status=ProductStatus.ACTIVE),
                make_product(make_order(portal, "CUST-C"), offering, status=ProductStatus.TERMINATED)]

    def test_sort_by_status_then_name(self, portal, products):
        body = portal.get(BASE, {"sort": "status,-name"}).json()
        assert [p["status"] for p in body] == ["active", "suspended", "terminated"]

    def test_descending_and_explicit_ascending(self, portal, products):
        down = [p["status"] for p in portal.get(BASE, {"sort": "-status"}).json()]
        up = [p["status"] for p in portal.get(BASE + "?sort=%2Bstatus").json()]
        unencoded = [p["status"] for p in portal.get(BASE + "?sort=+status").json()]  # '+' arrives as a space
        assert down == ["terminated", "suspended", "active"] and up == unencoded == down[::-1]

    def test_sort_with_paging_neither_repeats_nor_skips(self, portal, products):
        pages = [portal.get(BASE, {"sort": "name", "limit": 1, "offset": n}).json() for n in range(3)]
        assert sorted(page[0]["id"] for page in pages) == sorted(p.pk for p in products)

    @pytest.mark.parametrize("sort", ["colour", "-customerId,name", "productPrice", "-"])
    def test_unsortable_attribute_is_refused_naming_the_sortable_ones(self, portal, products, sort):
        body = assert_tmf_error(portal.get(BASE, {"sort": sort}), 400)
        assert "sortable attributes: id, name, orderDate, startDate, status, terminationDate" in body["message"]


@pytest.mark.django_db
class TestPagingAndFields:
    @pytest.fixture
    def three(self, portal, offering, make_order, make_product):
        return [make_product(make_order(portal), offering) for _ in range(3)]

    def test_whole_result_is_200(self, portal, three):
        response = portal.get(BASE)

        assert response.status_code == 200
        assert response["X-Total-Count"] == "3"
        assert response["X-Result-Count"] == "3"

    def test_partial_page_is_206(self, portal, three):
        first = portal.get(BASE, {"limit": 2})
        second = portal.get(BASE, {"offset": 2, "limit": 2})

        assert first.status_code == 206
        assert (first["X-Total-Count"], first["X-Result-Count"]) == ("3", "2")
        assert second.status_code == 206
        assert (second["X-Total-Count"], second["X-Result-Count"]) == ("3", "1")
        seen = [p["id"] for p in first.json() + second.json()]
        assert sorted(seen) == sorted(p.pk for p in three)

    def test_bad_limit_is_a_tmf_error(self, portal, three):
        assert_tmf_error(portal.get(BASE, {"limit": "many"}), 400)

    def test_fields_on_list(self, portal, three):
        body = portal.get(BASE, {"fields": "name,status"}).json()

        assert all(set(item) == {"id", "href", "@type", "name", "status"} for item in body)

    def test_fields_on_detail(self, portal, full_product):
        body = portal.get(f"{BASE}/{full_product.pk}", {"fields": "productOffering"}).json()

        assert set(body) == {"id", "href", "@type", "productOffering"}

    def test_unknown_field_is_a_tmf_error(self, portal, full_product):
        assert_tmf_error(portal.get(f"{BASE}/{full_product.pk}", {"fields": "colour"}), 400)


@pytest.mark.django_db
class TestVisibility:
    @pytest.fixture
    def retail(self, make_channel):
        return make_channel("retail")

    def test_channel_sees_only_products_of_its_orders(self, portal, retail, offering, make_order, make_product):
        mine = make_product(make_order(portal), offering)
        theirs = make_product(make_order(retail), offering)

        assert [p["id"] for p in portal.get(BASE).json()] == [mine.pk]
        assert [p["id"] for p in retail.get(BASE).json()] == [theirs.pk]

    def test_channel_sees_a_product_its_order_last_changed(self, portal, retail, offering, make_order, make_product):
        product = make_product(make_order(portal), offering, last_order=make_order(retail))

        assert retail.get(f"{BASE}/{product.pk}").status_code == 200
        assert portal.get(f"{BASE}/{product.pk}").status_code == 200

    def test_staff_sees_all(self, staff_client, portal, retail, offering, make_order, make_product):
        products = {make_product(make_order(portal), offering).pk, make_product(make_order(retail), offering).pk}

        response = staff_client.get(BASE)

        assert {p["id"] for p in response.json()} == products
        assert response["X-Total-Count"] == "2"
        for product_id in products:
            assert staff_client.get(f"{BASE}/{product_id}").status_code == 200

    def test_other_channels_product_is_not_found(self, portal, retail, offering, make_order, make_product):
        theirs = make_product(make_order(retail), offering)

        body = assert_tmf_error(portal.get(f"{BASE}/{theirs.pk}"), 404)

        assert body["code"] == "NOT_FOUND"
        assert theirs.pk in body["message"]

    def test_unknown_product_is_not_found(self, portal):
        assert assert_tmf_error(portal.get(f"{BASE}/PR-NOPE"), 404)["code"] == "NOT_FOUND"

    def test_user_without_channel_or_view_permission_is_forbidden(self, db, django_user_model, portal, offering,
                                                                   make_order, make_product):
        from rest_framework.test import APIClient

        product = make_product(make_order(portal), offering)
        client = APIClient()
        client.force_authenticate(django_user_model.objects.create_user(username="nobody", password="pw",
                                                                        is_staff=True))

        for path in (BASE, f"{BASE}/{product.pk}"):
            body = assert_tmf_error(client.get(path), 403)
            assert "inventory.view_product" in body["message"]

    @pytest.mark.parametrize("path", [BASE, f"{BASE}/PR-ANY"])
    def test_unauthenticated_is_a_tmf_error(self, client, path):
        body = assert_tmf_error(client.get(path), 401)

        assert body["code"] == "NOT_AUTHENTICATED"

    def test_revoked_token_is_a_tmf_error(self, portal):
        portal.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

        assert assert_tmf_error(portal.get(BASE), 401)["code"] == "AUTHENTICATION_FAILED"


@pytest.mark.django_db
class TestRoutes:
    @pytest.mark.parametrize("suffix", ["", "/"])
    def test_list_with_and_without_trailing_slash(self, portal, full_product, suffix):
        response = portal.get(f"{BASE}{suffix}")

        assert response.status_code == 200
        assert [p["id"] for p in response.json()] == [full_product.pk]

    @pytest.mark.parametrize("suffix", ["", "/"])
    def test_detail_with_and_without_trailing_slash(self, portal, full_product, suffix):
        response = portal.get(f"{BASE}/{full_product.pk}{suffix}")

        assert response.status_code == 200
        assert response.json()["id"] == full_product.pk


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_products(portal, full_product, offering, make_order, make_product):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        portal.get(BASE)
    for _ in range(3):
        make_product(make_order(portal), offering, place={"id": "ADDR-1", "role": "installationAddress"})
    with CaptureQueriesContext(connection) as four:
        assert len(portal.get(BASE).json()) == 4

    assert len(four) == len(one)
