"""Hub registration is safe: COM only calls callbacks that cannot reach inside, and only so many per channel."""
import ipaddress
import json

import pytest

from orders.models import HubSubscription
from orders.webhooks import refused_address
from tests.tmf_schema import TMF622, assert_valid

HUB = "/tmf-api/productOrderingManagement/v4/hub"


def register(client, callback):
    return client.post(HUB, data=json.dumps({"callback": callback}), content_type="application/json")


def refused(response, text):
    assert response.status_code == 400, response.content
    body = response.json()
    assert_valid(TMF622, "Error", body)
    assert body["code"] == "CALLBACK_REFUSED"
    assert body["errors"][0]["field"] == "callback"
    assert text in body["errors"][0]["message"], body["message"]
    assert not HubSubscription.objects.exists()
    return body


@pytest.fixture
def production(settings):
    """Production's rule: callbacks to private, loopback and link-local addresses are refused."""
    settings.COM_WEBHOOK_ALLOW_PRIVATE = False


# --- everywhere ------------------------------------------------------------------------------------

def test_only_http_and_https(portal):
    refused(register(portal, "ftp://listener.test/hub"), "must be an http or https URL, not ftp")


def test_no_credentials_in_the_url(portal):
    refused(register(portal, "https://user:secret@listener.test/hub"), "must not carry credentials")


def test_the_demo_allows_a_listener_on_this_machine(portal, settings):
    settings.COM_WEBHOOK_ALLOW_PRIVATE = True

    assert register(portal, "http://127.0.0.1:9000/listener").status_code == 201


# --- production: no address inside -----------------------------------------------------------------

def test_the_cloud_metadata_address_is_refused(portal, production):
    body = refused(register(portal, "http://169.254.169.254/latest/meta-data/"), "a link-local address")

    assert body["errors"][0]["message"] == ("169.254.169.254, a link-local address: callbacks must reach a public "
                                            "address (COM_WEBHOOK_ALLOW_PRIVATE is off)")


def test_a_host_name_resolving_to_loopback_is_refused(portal, production):
    # 'localhost' resolves to 127.0.0.1 through the machine's own resolver, as any name pointed there would.
    refused(register(portal, "http://localhost:8000/listener"), "host localhost resolves to 127.0.0.1, a loopback")


@pytest.mark.parametrize("url, kind", [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.10/hook", "private"),
    ("http://172.16.5.4/hook", "private"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://[::1]/hook", "loopback"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://[fc00::1]/hook", "private"),
    ("http://[::ffff:169.254.169.254]/hook", "link-local"),
    ("http://100.64.0.1/hook", "not publicly routable"),
])
def test_address_literals_inside_are_refused(portal, production, url, kind):
    refused(register(portal, url), f"a {kind} address")


def test_a_host_that_does_not_resolve_is_refused(portal, production):
    refused(register(portal, "https://listener.invalid/hub"), "host listener.invalid does not resolve")


def test_a_public_address_is_accepted(portal, production):
    response = register(portal, "https://93.184.215.14/listener")

    assert response.status_code == 201
    assert HubSubscription.objects.get().callback == "https://93.184.215.14/listener"


def test_refused_address_kinds():
    assert refused_address(ipaddress.ip_address("8.8.8.8")) == ""
    assert refused_address(ipaddress.ip_address("2001:4860:4860::8888")) == ""
    assert refused_address(ipaddress.ip_address("169.254.169.254")) == "link-local"
    assert refused_address(ipaddress.ip_address("::ffff:10.0.0.1")) == "private"


# --- a bounded number per channel ------------------------------------------------------------------

def test_a_channel_has_a_bounded_number_of_listeners(portal, make_channel, settings):
    settings.COM_MAX_HUB_SUBSCRIPTIONS = 2
    first = register(portal, "http://listener.test/1").json()["id"]
    assert register(portal, "http://listener.test/2").status_code == 201

    response = register(portal, "http://listener.test/3")

    assert response.status_code == 409
    body = response.json()
    assert_valid(TMF622, "Error", body)
    assert body["code"] == "TOO_MANY_SUBSCRIPTIONS"
    assert body["message"].startswith("Channel portal already has 2 hub listeners, the most allowed")
    assert HubSubscription.objects.filter(channel=portal.channel).count() == 2
    assert register(make_channel("shop"), "http://listener.test/shop").status_code == 201  # per channel
    assert portal.delete(f"{HUB}/{first}").status_code == 204
    assert register(portal, "http://listener.test/3").status_code == 201


def test_a_callback_that_now_resolves_inside_is_not_called(portal, demo_catalog, settings):
    """Registered while allowed, delivered in production: the address is checked again at delivery."""
    from orders.models import HubSubscription, OutboxMessage
    from orders.services import delivery

    HubSubscription.objects.create(channel=portal.channel, callback="http://127.0.0.1:9/hub")
    body = {"relatedParty": [{"id": "CUST-1", "role": "customer"}],
            "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "PO-STATIC-IP"},
                                  "product": {"place": [{"id": "ADDR-1001"}]}}]}
    assert portal.post("/tmf-api/productOrderingManagement/v4/productOrder", body, format="json").status_code == 201
    settings.COM_WEBHOOK_ALLOW_PRIVATE = False
    message = OutboxMessage.objects.get(kind="notification")
    assert delivery.deliver(message.pk) == "dead"
    message.refresh_from_db()
    assert message.status == "dead" and "loopback" in message.last_error and message.response_status is None
