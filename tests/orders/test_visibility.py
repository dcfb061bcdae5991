"""Who reads what: channels their own orders (or every channel's, if granted, read-only); staff only with the
view permission; the products of visible orders, with only the order items the caller may see."""
import base64
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from orders.models import Channel, HubSubscription, OutboxMessage, ProductOrder
from tests.tmf_schema import TMF622, TMF637, assert_valid

from .bodies import item, order_body
from .flows import submit, superfibre

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
HUB = "/tmf-api/productOrderingManagement/v4/hub"
PRODUCTS = "/tmf-api/productInventory/v4/product"

pytestmark = pytest.mark.usefixtures("demo")


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def patch(client, order_id, body):
    return client.patch(f"{ORDERS}/{order_id}", data=json.dumps(body), content_type="application/json")


@pytest.fixture
def shop(make_channel):
    return make_channel("shop")


@pytest.fixture
def callcentre(make_channel):
    """A channel granted every channel's orders (TAM 5.3: visible to the other channels if needed)."""
    client = make_channel("callcentre")
    Channel.objects.filter(pk=client.channel.pk).update(sees_all_channels=True)
    return client


@pytest.fixture
def orders(web, shop):
    """One order of 'web' and one of 'shop'."""
    mine = post(web, ORDERS, order_body("w-1")).json()
    theirs = post(shop, ORDERS, order_body("s-1", customer="CUST-3003", productOrderItem=[
        item(place="ADDR-3003", downloadSpeed=200)])).json()
    return mine, theirs


def ids(response):
    assert response.status_code == 200, response.content
    return {o["id"] for o in response.json()}


# --- channels ------------------------------------------------------------------------------------

def test_a_channel_cannot_read_list_or_patch_another_channels_orders(web, shop, orders):
    mine, theirs = orders

    assert ids(web.get(ORDERS)) == {mine["id"]}
    assert ids(web.get(ORDERS, {"id": theirs["id"]})) == set()
    assert web.get(f"{ORDERS}/{theirs['id']}").status_code == 404
    response = patch(web, theirs["id"], {"description": "mine now"})
    assert response.status_code == 404
    assert_valid(TMF622, "Error", response.json())
    assert ProductOrder.objects.get(pk=theirs["id"]).description == "SuperFibre for Alice"


def test_a_channel_is_off_every_other_channels_orders_by_default(web):
    assert Channel.objects.get(pk=web.channel.pk).sees_all_channels is False


def test_a_granted_channel_reads_every_order_but_changes_none_of_others(callcentre, orders):
    mine, theirs = orders
    before = ProductOrder.objects.get(pk=theirs["id"])

    assert ids(callcentre.get(ORDERS)) == {mine["id"], theirs["id"]}
    read = callcentre.get(f"{ORDERS}/{theirs['id']}")
    assert read.status_code == 200 and read.json()["channel"][0]["name"] == "shop"
    response = patch(callcentre, theirs["id"], {"description": "changed by the call centre"})

    assert response.status_code == 403
    body = response.json()
    assert_valid(TMF622, "Error", body)
    assert body["message"] == (f"Order {theirs['id']} belongs to channel shop: a channel changes only its own "
                               "orders.")
    after = ProductOrder.objects.get(pk=theirs["id"])
    assert (after.description, after.version, after.events.count()) == (before.description, before.version,
                                                                         before.events.count())


def test_a_granted_channels_hub_hears_only_its_own_orders(callcentre, shop):
    assert post(callcentre, HUB, {"callback": "http://listener.test/cc"}).status_code == 201
    subscription = HubSubscription.objects.get(channel=callcentre.channel)

    post(shop, ORDERS, order_body("s-2"))
    post(callcentre, ORDERS, order_body("cc-1", customer="CUST-3003", productOrderItem=[
        item(place="ADDR-3003", downloadSpeed=200)]))

    heard = OutboxMessage.objects.filter(subscription=subscription)
    assert [m.order.channel.name for m in heard] == ["callcentre"]


def test_a_hub_cannot_be_registered_for_another_channel(web, shop):
    response = post(web, HUB, {"callback": "http://listener.test/web", "channel": {"id": str(shop.channel.pk)}})

    assert response.status_code == 201
    assert HubSubscription.objects.get().channel == web.channel  # the channel is the caller's, whatever is sent
    assert shop.delete(f"{HUB}/{response.json()['id']}").status_code == 404


# --- staff ---------------------------------------------------------------------------------------

def test_staff_without_the_view_permission_is_refused(orders, django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user(username="desk", password="pw", is_staff=True))

    for path in (ORDERS, f"{ORDERS}/{orders[0]['id']}"):
        response = client.get(path)
        assert response.status_code == 403
        assert "orders.view_productorder" in response.json()["message"]
        assert_valid(TMF622, "Error", response.json())


def test_a_user_with_the_view_permission_reads_every_order_without_is_staff(orders, django_user_model):
    user = django_user_model.objects.create_user(username="auditor", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="view_productorder"))
    client = APIClient()
    client.force_authenticate(user)

    assert ids(client.get(ORDERS)) == {orders[0]["id"], orders[1]["id"]}
    assert patch(client, orders[1]["id"], {"description": "x"}).status_code == 403  # reading is not changing


def test_basic_authentication_is_refused_even_with_a_valid_password(orders):
    # The demo's 'agent' has the view permission and the password 'demo': Basic still gets nowhere.
    credentials = base64.b64encode(b"agent:demo").decode()
    client = APIClient()

    for path in (ORDERS, f"{ORDERS}/{orders[0]['id']}", PRODUCTS):
        response = client.get(path, HTTP_AUTHORIZATION=f"Basic {credentials}")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"


def test_the_session_of_a_user_with_the_permission_reads_orders(client, orders):
    client.force_login(get_user_model().objects.get(username="agent"))  # the browsable pages use the session

    assert ids(client.get(ORDERS)) == {orders[0]["id"], orders[1]["id"]}


# --- products ------------------------------------------------------------------------------------

@pytest.fixture
def shared_product(web, shop, som):
    """A product 'web' sold, which 'shop' then ordered a change of (one customer, two channels)."""
    order = som.fulfil(submit(web.channel, superfibre("w-owned")))
    product = order.items.get().product
    change = post(shop, ORDERS, order_body("s-mod", productOrderItem=[
        item(action="modify", product_id=product.pk, place=None, downloadSpeed=500)]))
    assert change.status_code == 201, change.content
    return product, order, change.json()


def order_ids_of(product_json):
    return [ref["productOrderId"] for ref in product_json.get("productOrderItem", [])]


def test_a_product_lists_only_the_order_items_the_caller_may_see(web, shop, callcentre, shared_product):
    product, order, change = shared_product

    seen_by_web = web.get(f"{PRODUCTS}/{product.pk}").json()
    seen_by_shop = shop.get(f"{PRODUCTS}/{product.pk}").json()
    seen_by_all = callcentre.get(f"{PRODUCTS}/{product.pk}").json()

    assert order_ids_of(seen_by_web) == [order.pk]
    assert order_ids_of(seen_by_shop) == [change["id"]]
    assert order_ids_of(seen_by_all) == [order.pk, change["id"]]
    for body in (seen_by_web, seen_by_shop, seen_by_all):
        assert_valid(TMF637, "Product", body)


def test_a_channel_cannot_read_another_channels_customers_products(web, make_channel, callcentre, som):
    product = som.fulfil(submit(web.channel, superfibre("w-owned"))).items.get().product
    stranger = make_channel("stranger")

    assert stranger.get(f"{PRODUCTS}/{product.pk}").status_code == 404
    assert stranger.get(PRODUCTS).json() == []
    assert stranger.get(PRODUCTS, {"relatedParty.id": "CUST-1001"}).json() == []
    assert [p["id"] for p in callcentre.get(PRODUCTS).json()] == [product.pk]  # unless granted


def test_staff_read_products_only_with_the_view_permission(web, som, django_user_model):
    product = som.fulfil(submit(web.channel, superfibre("w-owned"))).items.get().product
    user = django_user_model.objects.create_user(username="desk", password="pw", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)

    assert client.get(PRODUCTS).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_product", content_type__app_label="inventory"))
    client.force_authenticate(django_user_model.objects.get(pk=user.pk))  # permissions are cached per object

    listed = client.get(PRODUCTS).json()
    assert [p["id"] for p in listed] == [product.pk]
    assert order_ids_of(listed[0]) == []  # no order permission: no order items shown


# --- where the grant is shown --------------------------------------------------------------------

def test_the_grant_is_shown_and_editable_in_the_admin_and_shown_by_the_command(admin_client, callcentre, capsys):
    page = admin_client.get(reverse("admin:orders_channel_change", args=[callcentre.channel.pk]))
    assert page.status_code == 200
    assert 'name="sees_all_channels"' in page.content.decode()
    changelist = admin_client.get(reverse("admin:orders_channel_changelist"))
    assert "sees every channel" in changelist.content.decode().lower()

    call_command("channel", "show", "callcentre")
    assert "sees every channel's orders True" in capsys.readouterr().out
