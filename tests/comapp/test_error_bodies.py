"""Every API answers 405, 406 and 415 with a TMF Error whose texts are filled in (no "{method}" left)."""
import json

import pytest

from tests.orders.bodies import order_body
from tests.tmf_schema import TMF620, TMF622, TMF637, TMF641, assert_valid

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
HUB = "/tmf-api/productOrderingManagement/v4/hub"
OFFERINGS = "/tmf-api/productCatalogManagement/v4/productOffering"
SPECIFICATIONS = "/tmf-api/productCatalogManagement/v4/productSpecification"
PRODUCTS = "/tmf-api/productInventory/v4/product"
LISTENER = "/tmf-api/serviceOrdering/v4/listener/serviceOrderStateChangeEvent"

# (spec whose Error definition the body must satisfy, path)
APIS = [(TMF622, ORDERS), (TMF620, OFFERINGS), (TMF620, SPECIFICATIONS), (TMF637, PRODUCTS), (TMF641, LISTENER)]


def assert_filled_error(response, status: int, code: str, reason: str, spec: str) -> dict:
    body = response.json()
    assert response.status_code == status, response.content
    assert (body["status"], body["code"], body["reason"]) == (str(status), code, reason)
    for text in (body["reason"], body["message"]):
        assert "{" not in text and "}" not in text, text
    assert_valid(spec, "Error", body)
    return body


@pytest.mark.django_db
@pytest.mark.parametrize("spec, path", APIS)
def test_405_names_the_method(portal, spec, path):
    response = portal.delete(path)
    body = assert_filled_error(response, 405, "METHOD_NOT_ALLOWED", "Method Not Allowed", spec)
    assert body["message"] == 'Method "DELETE" not allowed.'
    assert "DELETE" not in response["Allow"]


@pytest.mark.django_db
@pytest.mark.parametrize("spec, path", APIS)
def test_406_when_the_accept_header_allows_no_json(portal, spec, path):
    method = portal.post if path == LISTENER else portal.get
    response = method(path, HTTP_ACCEPT="application/xml")
    body = assert_filled_error(response, 406, "NOT_ACCEPTABLE", "Not Acceptable", spec)
    assert body["message"] == "Could not satisfy the request Accept header."
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("method, path", [("post", ORDERS), ("patch", f"{ORDERS}/PO-ANY"), ("post", HUB)])
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_415_names_the_media_type(portal, demo_catalog, method, path, content_type):
    if method == "patch":
        order = portal.post(ORDERS, data=json.dumps(order_body()), content_type="application/json").json()
        path = f"{ORDERS}/{order['id']}"
    response = getattr(portal, method)(path, data="a=b", content_type=content_type)
    body = assert_filled_error(response, 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type", TMF622)
    assert body["message"] == f'Unsupported media type "{content_type}" in request.'


@pytest.mark.django_db
def test_throttled_answer_is_filled_in(portal, monkeypatch):
    from django.core.cache import cache

    from orders.api.throttling import ChannelRateThrottle

    cache.clear()
    monkeypatch.setattr(ChannelRateThrottle, "rate", "1/minute", raising=False)
    portal.get(ORDERS)
    response = portal.get(ORDERS)
    body = assert_filled_error(response, 429, "THROTTLED", "Too Many Requests", TMF622)
    assert body["message"].startswith("Request was throttled. Expected available in ")
    cache.clear()

