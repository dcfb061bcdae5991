"""Cross-cutting behaviour: throttling, OpenAPI, production settings, the admin pages agents use."""
import json
import os
import subprocess
import sys
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


def test_production_settings_pass_the_deploy_check():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "comapp.production", "SECRET_KEY": "x" * 60 + "-prod-secret-!",
           "ALLOWED_HOSTS": "com.example.org"}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


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
    for text in ("decomposition plan", "internet-access", "allowed next moves", "fulfilmentstarted", "inprogress"):
        assert text in html, text
    listing = admin_client.get("/admin/orders/productorder/?state__exact=inProgress&q=CUST-1001")
    assert order_id in listing.content.decode()
    assert admin_client.get(f"/admin/orders/productorder/{order_id}/history/").status_code == 200
