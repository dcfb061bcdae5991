"""Cross-cutting behaviour: throttling, OpenAPI, the admin pages agents use (production: test_production_settings)."""
import pytest
import json
from pathlib import Path

from django.core.cache import cache

from orders.api.throttling import ChannelRateThrottle
from tests.orders.bodies import order_body

ROOT = Path(__file__).resolve().parents[1]
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"


def test_each_channel_is_throttled_on_its_own(portal, make_channel, monkeypatch):
    cache.clear()
    monkeypatch.setattr(ChannelRateThrottle, "rate", "3/minute", raising=False)
    statuses = [portal.get(ORDERS).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    body = portal.get(ORDERS).json()
    assert body["status"] == "429" and body["@type"] == "Error"
    assert make_channel("retail").get(ORDERS).status_code == 200
    cache.clear()


def test_openapi_schema_is_served_to_authenticated_clients(portal, client):
    assert client.get("/api/schema/").status_code in (401, 403)
    response = portal.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in ("/tmf-api/productOrderingManagement/v4/productOrder",
                 "/tmf-api/productCatalogManagement/v4/productOffering",
                 "/tmf-api/productInventory/v4/product"):
        assert any(p.startswith(path) for p in paths), path


def test_admin_order_page_shows_items_plan_timeline_and_history(make_channel, admin_client):
    from django.core.management import call_command

    call_command("load_demo", verbosity=0)
    web = make_channel("web")
    order_id = web.post(ORDERS, data=json.dumps(order_body()), content_type="application/json").json()["id"]
    from orders.services.checks import run_order_checks

    run_order_checks(order_id=order_id)
    page = admin_client.get(f"/admin/orders/productorder/{order_id}/change/")
    assert page.status_code == 200
    html = page.content.decode().lower()
    for text in ("decomposition: product items", "internet-access", "waiting on", "fulfilment started", "in progress"):
        assert text in html, text
    listing = admin_client.get("/admin/orders/productorder/?state__exact=inProgress&q=CUST-1001")
    assert order_id in listing.content.decode()
    assert admin_client.get(f"/admin/orders/productorder/{order_id}/history/").status_code == 200


def test_the_tmf_specs_the_tests_use_are_the_official_files_named_in_sources():
    """tests/tmf holds byte-for-byte copies of TM Forum's published specs: each is named in SOURCES.md with the
    sha256 of the published file, and every spec tests/tmf_schema.py uses is there."""
    import hashlib
    import re

    from tests import tmf_schema

    folder = ROOT / "tests" / "tmf"
    listed = dict(re.findall(r"^\| (\S+\.json) \|.*\| ([0-9a-f]{64}) \|$", (folder / "SOURCES.md").read_text(),
                             flags=re.M))
    assert set(listed) == {p.name for p in folder.glob("*.json")}
    assert {tmf_schema.TMF620, tmf_schema.TMF622, tmf_schema.TMF637, tmf_schema.TMF641} <= set(listed)
    assert tmf_schema.SPEC_DIR == folder
    for name, digest in listed.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)  # exits non-zero if one is missing
    assert "No changes detected" in out.getvalue()
