"""TMF620 Product Catalog read API: representation against the official schema, filters, paging, errors."""
import pytest
from rest_framework.test import APIClient

from catalog.models import ProductSpecification
from catalog.services import revise_service_specification, revise_specification
from tests.tmf_schema import TMF620, assert_valid

BASE = "/tmf-api/productCatalogManagement/v4"
OFFERINGS = f"{BASE}/productOffering"
SPECIFICATIONS = f"{BASE}/productSpecification"


def assert_tmf_error(response, status: int) -> dict:
    body = response.json()
    assert response.status_code == status
    assert body["status"] == str(status)
    assert {"code", "reason", "message"} <= body.keys()
    assert body["@type"] == "Error"
    return body


def _characteristic(body: dict, name: str) -> dict:
    return next(c for c in body["productSpecCharacteristic"] if c["name"] == name)


@pytest.mark.django_db
class TestProductOffering:
    def test_list_items_are_valid_tmf620_offerings(self, portal, demo_catalog):
        response = portal.get(OFFERINGS)

        assert response.status_code == 200
        body = response.json()
        assert len(body) == 6
        for item in body:
            assert_valid(TMF620, "ProductOffering", item)

    def test_offering(self, portal, demo_catalog):
        response = portal.get(f"{OFFERINGS}/PO-SUPERFIBRE-200")

        assert response.status_code == 200
        body = response.json()
        assert_valid(TMF620, "ProductOffering", body)
        assert body["id"] == "PO-SUPERFIBRE-200"
        assert body["href"] == f"http://testserver{OFFERINGS}/PO-SUPERFIBRE-200"
        assert (body["@type"], body["@baseType"]) == ("ProductOffering", "ProductOffering")
        assert (body["name"], body["version"], body["lifecycleStatus"]) == ("SuperFibre 200 Home", "1", "active")
        assert (body["isBundle"], body["isSellable"]) == (False, True)
        assert body["lastUpdate"].endswith("Z")
        assert body["validFor"] == {"startDateTime": "2025-01-01T00:00:00.000Z"}
        assert body["category"] == [{"id": "residential", "name": "residential", "@referredType": "Category"}]
        assert body["productSpecification"] == {
            "id": "PS-RES-BB",
            "href": f"http://testserver{SPECIFICATIONS}/PS-RES-BB?version=1",
            "name": "Residential Broadband Access",
            "version": "1",
            "@referredType": "ProductSpecification",
        }
        monthly, activation, speed, router = body["productOfferingPrice"]
        assert (speed["name"], speed["price"]["value"]) == ("Speed 500 Mbps", 10.0)
        assert speed["prodSpecCharValueUse"][0]["name"] == "downloadSpeed"
        assert speed["prodSpecCharValueUse"][0]["productSpecCharacteristicValue"] == [{"value": 500}]
        assert router["prodSpecCharValueUse"][0]["productSpecCharacteristicValue"] == [{"value": "FritzBox 7590"}]
        assert {k: v for k, v in monthly.items() if k != "id"} == {
            "name": "Monthly fee", "priceType": "recurring", "recurringChargePeriodType": "month",
            "recurringChargePeriodLength": 1, "price": {"unit": "EUR", "value": 39.99},
            "@referredType": "ProductOfferingPrice",
        }
        assert {k: v for k, v in activation.items() if k != "id"} == {
            "name": "Activation fee", "priceType": "oneTime", "price": {"unit": "EUR", "value": 49.0},
            "@referredType": "ProductOfferingPrice",
        }

    def test_retired_offering_has_an_end_of_validity(self, portal, demo_catalog):
        body = portal.get(f"{OFFERINGS}/PO-ADSL-16").json()

        assert_valid(TMF620, "ProductOffering", body)
        assert body["lifecycleStatus"] == "retired"
        assert body["validFor"] == {"startDateTime": "2015-01-01T00:00:00.000Z",
                                    "endDateTime": "2024-01-01T00:00:00.000Z"}

    def test_lifecycle_status_filter_finds_the_retired_one(self, portal, demo_catalog):
        retired = portal.get(OFFERINGS, {"lifecycleStatus": "retired"}).json()
        active = portal.get(OFFERINGS, {"lifecycleStatus": "active"}).json()
        both = portal.get(OFFERINGS, {"lifecycleStatus": "active,retired"}).json()

        assert [o["id"] for o in retired] == ["PO-ADSL-16"]
        assert len(active) == 5 and "PO-ADSL-16" not in {o["id"] for o in active}
        assert len(both) == 6

    def test_category_and_name_filters(self, portal, demo_catalog):
        business = portal.get(OFFERINGS, {"category": "business"}).json()
        named = portal.get(OFFERINGS, {"name": "Static IP"}).json()

        assert sorted(o["id"] for o in business) == ["PO-BIZ-FIBRE-1G", "PO-MANAGED-ROUTER", "PO-STATIC-IP"]
        assert [o["id"] for o in named] == ["PO-STATIC-IP"]

    def test_unknown_filter_is_a_400(self, portal, demo_catalog):
        body = assert_tmf_error(portal.get(OFFERINGS, {"colour": "red"}), 400)

        assert "colour" in body["message"]

    def test_partial_page_is_206_with_counts(self, portal, demo_catalog):
        response = portal.get(OFFERINGS, {"offset": 1, "limit": 2})

        assert response.status_code == 206
        assert (response["X-Total-Count"], response["X-Result-Count"]) == ("6", "2")
        everything = [o["id"] for o in portal.get(OFFERINGS).json()]
        assert [o["id"] for o in response.json()] == everything[1:3]

    def test_whole_result_is_200_with_counts(self, portal, demo_catalog):
        response = portal.get(OFFERINGS, {"limit": 10})

        assert response.status_code == 200
        assert (response["X-Total-Count"], response["X-Result-Count"]) == ("6", "6")

    def test_fields_selection(self, portal, demo_catalog):
        listed = portal.get(OFFERINGS, {"fields": "name,lifecycleStatus"}).json()
        single = portal.get(f"{OFFERINGS}/PO-INSTALL", {"fields": "version"}).json()

        assert set(listed[0]) == {"id", "href", "@type", "@baseType", "name", "lifecycleStatus"}
        assert set(single) == {"id", "href", "@type", "@baseType", "version"}

    def test_unknown_field_is_a_400(self, portal, demo_catalog):
        assert_tmf_error(portal.get(OFFERINGS, {"fields": "colour"}), 400)

    def test_unknown_id_is_a_tmf_404(self, portal, demo_catalog):
        body = assert_tmf_error(portal.get(f"{OFFERINGS}/PO-NOPE"), 404)

        assert body["code"] == "NOT_FOUND"
        assert "PO-NOPE" in body["message"]

    def test_follows_a_revision(self, portal, demo_catalog):
        revise_specification(specification=ProductSpecification.objects.get(spec_id="PS-STATIC-IP"),
                             actor_name="admin")

        body = portal.get(f"{OFFERINGS}/PO-STATIC-IP").json()

        assert body["version"] == "2"
        assert body["productSpecification"]["version"] == "2"
        assert body["productSpecification"]["href"].endswith("/productSpecification/PS-STATIC-IP?version=2")


@pytest.mark.django_db
class TestProductSpecification:
    def test_specification(self, portal, demo_catalog):
        response = portal.get(f"{SPECIFICATIONS}/PS-RES-BB")

        assert response.status_code == 200
        body = response.json()
        assert_valid(TMF620, "ProductSpecification", body)
        assert (body["id"], body["version"], body["name"]) == ("PS-RES-BB", "1", "Residential Broadband Access")
        assert body["href"] == f"http://testserver{SPECIFICATIONS}/PS-RES-BB?version=1"
        assert (body["@type"], body["@baseType"], body["isBundle"]) == (
            "ProductSpecification", "ProductSpecification", False)
        assert body["lifecycleStatus"] == "active"
        assert body["lastUpdate"].endswith("Z")
        assert body["serviceSpecification"] == [
            {"id": code, "name": name, "version": "1", "@referredType": "ServiceSpecification"}
            for code, name in [("Internet-Access", "Internet access line"), ("WiFi-Management", "Managed home WiFi"),
                               ("CPE-Management", "CPE management")]
        ]

    def test_mandatory_characteristic_and_default(self, portal, demo_catalog):
        body = portal.get(f"{SPECIFICATIONS}/PS-RES-BB").json()

        speed = _characteristic(body, "downloadSpeed")
        assert (speed["valueType"], speed["configurable"], speed["minCardinality"], speed["maxCardinality"]) == (
            "integer", True, 1, 1)
        assert speed["productSpecCharacteristicValue"] == [
            {"value": 100, "valueType": "integer", "isDefault": False, "unitOfMeasure": "Mbps"},
            {"value": 200, "valueType": "integer", "isDefault": True, "unitOfMeasure": "Mbps"},
            {"value": 500, "valueType": "integer", "isDefault": False, "unitOfMeasure": "Mbps"},
        ]
        router = _characteristic(body, "routerModel")
        assert router["minCardinality"] == 0
        assert [(v["value"], v["isDefault"]) for v in router["productSpecCharacteristicValue"]] == [
            ("Nokia Beacon 6", True), ("FritzBox 7590", False)]

    def test_boolean_without_allowed_values_lists_true_and_false(self, portal, demo_catalog):
        body = portal.get(f"{SPECIFICATIONS}/PS-RES-BB").json()

        wifi = _characteristic(body, "wifiManagement")
        assert wifi["minCardinality"] == 0
        assert wifi["productSpecCharacteristicValue"] == [
            {"value": True, "valueType": "boolean", "isDefault": True},
            {"value": False, "valueType": "boolean", "isDefault": False},
        ]

    def test_characteristic_without_default_marks_none(self, portal, demo_catalog):
        body = portal.get(f"{SPECIFICATIONS}/PS-MANAGED-ROUTER").json()

        values = _characteristic(body, "routerModel")["productSpecCharacteristicValue"]
        assert [(v["value"], v["isDefault"]) for v in values] == [("Cisco C1111", False), ("Juniper SRX300", False)]

    def test_free_text_characteristic_lists_only_its_default(self, portal, demo_catalog):
        spec = ProductSpecification.objects.get(spec_id="PS-INSTALL")
        spec.characteristics.create(name="accessNotes", value_type="string", default_value="none")
        spec.characteristics.create(name="floor", value_type="integer")

        body = portal.get(f"{SPECIFICATIONS}/PS-INSTALL").json()

        assert_valid(TMF620, "ProductSpecification", body)
        assert _characteristic(body, "accessNotes")["productSpecCharacteristicValue"] == [
            {"value": "none", "valueType": "string", "isDefault": True}]
        assert _characteristic(body, "floor")["productSpecCharacteristicValue"] == []

    def test_one_service_per_cfs_even_with_a_rule_per_technology(self, portal, demo_catalog):
        body = portal.get(f"{SPECIFICATIONS}/PS-INSTALL").json()

        assert [s["id"] for s in body["serviceSpecification"]] == ["ONT-Installation", "Modem-Shipment"]

    def test_list_has_the_latest_version_of_each(self, portal, demo_catalog):
        revise_specification(specification=ProductSpecification.objects.get(spec_id="PS-ADSL"), actor_name="admin")

        response = portal.get(SPECIFICATIONS)

        assert response.status_code == 200
        assert response["X-Total-Count"] == "6"
        body = response.json()
        for item in body:
            assert_valid(TMF620, "ProductSpecification", item)
        assert {s["id"]: s["version"] for s in body} == {
            "PS-ADSL": "2", "PS-BIZ-FIBRE": "1", "PS-INSTALL": "1", "PS-MANAGED-ROUTER": "1", "PS-RES-BB": "1",
            "PS-STATIC-IP": "1"}

    def test_list_paging_and_fields(self, portal, demo_catalog):
        response = portal.get(SPECIFICATIONS, {"limit": 2, "fields": "name"})

        assert response.status_code == 206
        assert (response["X-Total-Count"], response["X-Result-Count"]) == ("6", "2")
        assert set(response.json()[0]) == {"id", "href", "@type", "@baseType", "name"}

    def test_latest_version_by_default_and_a_given_version_on_request(self, portal, demo_catalog):
        v1 = ProductSpecification.objects.get(spec_id="PS-ADSL")
        v2 = revise_specification(specification=v1, actor_name="admin")
        v2.characteristics.filter(name="downloadSpeed").update(description="Changed in v2")

        latest = portal.get(f"{SPECIFICATIONS}/PS-ADSL").json()
        first = portal.get(f"{SPECIFICATIONS}/PS-ADSL", {"version": 1}).json()

        assert latest["version"] == "2"
        assert _characteristic(latest, "downloadSpeed")["description"] == "Changed in v2"
        assert first["version"] == "1"
        assert first["href"].endswith("/productSpecification/PS-ADSL?version=1")
        assert _characteristic(first, "downloadSpeed")["description"] == "Download speed"

    def test_each_version_names_the_service_specification_versions_its_rules_name(self, portal, demo_catalog):
        revise_service_specification(code="Internet-Access", changes={"max_retries": 0}, actor_name="admin")

        latest = portal.get(f"{SPECIFICATIONS}/PS-BIZ-FIBRE").json()
        first = portal.get(f"{SPECIFICATIONS}/PS-BIZ-FIBRE", {"version": 1}).json()

        assert_valid(TMF620, "ProductSpecification", latest)
        assert latest["version"] == "2"
        assert [(s["id"], s["version"]) for s in latest["serviceSpecification"]] == [
            ("Internet-Access", "2"), ("CPE-Management", "1"), ("SLA-Monitoring", "1")]
        assert [(s["id"], s["version"]) for s in first["serviceSpecification"]] == [
            ("Internet-Access", "1"), ("CPE-Management", "1"), ("SLA-Monitoring", "1")]

    def test_unknown_id_or_version_is_a_tmf_404(self, portal, demo_catalog):
        assert_tmf_error(portal.get(f"{SPECIFICATIONS}/PS-NOPE"), 404)
        assert_tmf_error(portal.get(f"{SPECIFICATIONS}/PS-ADSL", {"version": 9}), 404)

    def test_bad_version_is_a_400(self, portal, demo_catalog):
        assert_tmf_error(portal.get(f"{SPECIFICATIONS}/PS-ADSL", {"version": "two"}), 400)


@pytest.mark.django_db
class TestSort:
    def test_offerings_by_name_descending(self, portal, demo_catalog):
        names = [o["name"] for o in portal.get(OFFERINGS, {"sort": "-name"}).json()]
        assert len(names) > 2 and names == sorted(names, reverse=True)

    def test_offerings_by_status_then_id(self, portal, demo_catalog):
        body = portal.get(OFFERINGS, {"sort": "lifecycleStatus,id"}).json()
        keys = [(o["lifecycleStatus"], o["id"]) for o in body]
        assert keys == sorted(keys) and len({status for status, _ in keys}) > 1

    def test_specifications_by_id_descending(self, portal, demo_catalog):
        ids = [s["id"] for s in portal.get(SPECIFICATIONS, {"sort": "-id"}).json()]
        assert len(ids) > 2 and ids == sorted(ids, reverse=True)

    @pytest.mark.parametrize("url, sortable", [
        (OFFERINGS, "category, id, lastUpdate, lifecycleStatus, name"),
        (SPECIFICATIONS, "brand, id, lastUpdate, lifecycleStatus, name"),
    ])
    def test_unsortable_attribute_is_a_400_naming_the_sortable_ones(self, portal, demo_catalog, url, sortable):
        body = assert_tmf_error(portal.get(url, {"sort": "name,-productOfferingPrice"}), 400)
        assert "productOfferingPrice" in body["message"] and f"sortable attributes: {sortable}" in body["message"]


@pytest.mark.django_db
class TestAccess:
    @pytest.mark.parametrize("url", [OFFERINGS, f"{OFFERINGS}/PO-INSTALL", SPECIFICATIONS,
                                     f"{SPECIFICATIONS}/PS-INSTALL"])
    def test_unauthenticated_is_refused_with_a_tmf_error(self, demo_catalog, url):
        response = APIClient().get(url)

        assert response.status_code in (401, 403)
        assert_tmf_error(response, response.status_code)

    def test_missing_bearer_token_is_a_401(self, demo_catalog):
        response = APIClient().get(OFFERINGS)

        assert_tmf_error(response, 401)
        assert response["WWW-Authenticate"] == "Bearer"

    def test_revoked_token_is_a_401(self, demo_catalog):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

        assert_tmf_error(client.get(OFFERINGS), 401)

    def test_any_channel_and_staff_may_read(self, make_channel, staff_client, demo_catalog):
        assert make_channel("shop").get(OFFERINGS).status_code == 200
        assert staff_client.get(SPECIFICATIONS).status_code == 200

    @pytest.mark.parametrize("path", ["productOffering", "productOffering/PO-INSTALL", "productSpecification",
                                      "productSpecification/PS-INSTALL"])
    def test_with_and_without_trailing_slash(self, portal, demo_catalog, path):
        assert portal.get(f"{BASE}/{path}").status_code == 200
        assert portal.get(f"{BASE}/{path}/").status_code == 200


@pytest.mark.django_db
def test_openapi_schema_documents_the_catalog(staff_client):
    response = staff_client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    operations = {operation["operationId"] for path, item in paths.items() if "/productCatalogManagement/" in path
                  for operation in item.values()}
    assert operations == {"listProductOffering", "retrieveProductOffering", "listProductSpecification",
                          "retrieveProductSpecification"}
