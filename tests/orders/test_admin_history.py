"""History cannot be rewritten: the admin's history pages show old versions and refuse to save them, and the
order pages have no Save; changes are made by the actions, which are commands."""
import pytest
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse

from inventory.models import Product
from orders.models import OrderEvent, ProductOrder, ProductOrderItem, ServiceOrder, ServiceOrderItem

from .flows import submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")
DEMO_USERS = ["agent", "supervisor", "admin"]  # created by load_demo: order desk agent, supervisor, superuser


@pytest.fixture
def completed(web, som):
    order = som.fulfil(submit(web.channel, superfibre()))
    assert order.state == "completed"
    return order


def login(client, username):
    client.force_login(get_user_model().objects.get(username=username))
    return client


def row_state(obj):
    """Everything a revert would change: the row, its version and its history."""
    fresh = type(obj).objects.get(pk=obj.pk)
    status = getattr(fresh, "state", None) or getattr(fresh, "status", None)
    return status, getattr(fresh, "version", None), fresh.history.count()


def oldest_version_url(obj):
    opts = obj._meta
    oldest = obj.history.order_by("history_id").first()
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_simple_history", args=[obj.pk, oldest.history_id])


@pytest.mark.parametrize("username", DEMO_USERS)
def test_reverting_a_completed_order_from_its_history_is_refused(client, completed, username):
    login(client, username)
    url = oldest_version_url(completed)
    assert completed.history.order_by("history_id").first().state == "acknowledged"
    before = row_state(completed)
    events = completed.events.count()

    page = client.get(url)
    response = client.post(url, {"_save": "Revert"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # no Revert button
    assert response.status_code == 405
    assert row_state(completed) == before == ("completed", before[1], before[2])
    assert completed.events.count() == events


@pytest.mark.parametrize("username", ["agent", "admin"])
def test_no_machine_owned_history_can_be_written_back(client, completed, username):
    login(client, username)
    service_order = ServiceOrder.objects.filter(order=completed).first()
    records = [service_order, ServiceOrderItem.objects.filter(order=completed).first(),
               Product.objects.get(created_by_order=completed)]

    for record in records:
        before = row_state(record)
        response = client.post(oldest_version_url(record), {"_save": "Revert"})
        assert response.status_code == 405, type(record).__name__
        assert row_state(record) == before


def test_order_items_have_no_history_form_at_all():
    assert ProductOrderItem.history.model  # tracked ...
    with pytest.raises(NoReverseMatch):  # ... but never shown in a form that could save it
        reverse("admin:orders_productorderitem_simple_history", args=["x", 1])


@pytest.mark.parametrize("username", ["supervisor", "admin"])
def test_the_order_page_has_no_save_and_refuses_a_post(client, completed, username):
    login(client, username)
    url = reverse("admin:orders_productorder_change", args=[completed.pk])
    before = row_state(completed)

    page = client.get(url)
    response = client.post(url, {"description": "edited in place", "_save": "Save"})

    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert response.status_code == 403
    assert row_state(completed) == before
    assert ProductOrder.objects.get(pk=completed.pk).description == "SuperFibre for Alice"


def test_the_supervisor_changes_an_order_with_an_action_which_is_a_command(client, web):
    order = submit(web.channel, superfibre(customer="CUST-4004"))  # over the credit limit: held
    assert order.state == "held"
    login(client, "supervisor")

    page = client.get(reverse("admin:orders_productorder_changelist"))
    client.post(reverse("admin:orders_productorder_changelist"),
                {"action": "release_holds", "_selected_action": [order.pk]})

    assert "release_holds" in page.content.decode()
    order.refresh_from_db()
    assert order.state == "inProgress"
    released = order.events.get(type=OrderEvent.Type.HOLD_RELEASED)
    assert released.actor == "user:supervisor"


def test_the_agent_works_held_orders_with_actions_a_viewer_does_not_see(client, web, django_user_model):
    from django.contrib.auth.models import Permission

    submit(web.channel, superfibre(customer="CUST-4004"))  # held: the list is not empty
    login(client, "agent")
    page = client.get(reverse("admin:orders_heldorder_changelist"))
    assert page.status_code == 200
    assert "release_holds" in page.content.decode() and "reject_held_orders" in page.content.decode()

    viewer = django_user_model.objects.create_user(username="viewer", password="pw", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_productorder"))
    client.force_login(viewer)
    page = client.get(reverse("admin:orders_heldorder_changelist"))
    assert page.status_code == 200
    assert "release_holds" not in page.content.decode() and "reject_held_orders" not in page.content.decode()


def test_a_customers_credit_limit_change_is_kept_in_its_history_read_only(client):
    from orders.models import CustomerProfile

    customer = CustomerProfile.objects.get(party_id="CUST-4004")
    login(client, "supervisor")
    url = reverse("admin:orders_customerprofile_change", args=[customer.pk])
    old_limit = customer.credit_limit

    response = client.post(url, {"party_id": customer.party_id, "name": customer.name,
                                  "payment_type": customer.payment_type, "credit_limit": "5000.00",
                                  "segment": customer.segment, "billing_account_id": customer.billing_account_id})

    assert response.status_code == 302
    latest, previous = customer.history.order_by("-history_id")[:2]
    assert (previous.credit_limit, latest.credit_limit) == (old_limit, 5000)
    assert latest.history_user.username == "supervisor"
    history = client.get(reverse("admin:orders_customerprofile_history", args=[customer.pk]))
    assert history.status_code == 200 and "supervisor" in history.content.decode()
    # the old limit cannot be written back from the history either
    revert = client.post(reverse("admin:orders_customerprofile_simple_history",
                                 args=[customer.pk, previous.history_id]), {"_save": "Revert"})
    assert revert.status_code == 405
    assert CustomerProfile.objects.get(pk=customer.pk).credit_limit == 5000


def test_the_channel_page_shows_only_the_end_of_the_webhook_secret(client):
    from orders.models import Channel

    channel = Channel.objects.get(name="portal")
    login(client, "admin")

    page = client.get(reverse("admin:orders_channel_change", args=[channel.pk])).content.decode()

    assert channel.webhook_secret and len(channel.webhook_secret) > 8
    assert channel.webhook_secret not in page and channel.webhook_secret[:8] not in page
    assert f"…{channel.webhook_secret[-4:]}" in page and "manage.py channel show portal" in page
