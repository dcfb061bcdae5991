"""An agent's decisions: release or reject a held order, retry or fail a fallout; as commands and admin actions."""
import pytest
from django.urls import reverse

from comapp.errors import NotAllowed
from inventory.models import Product
from orders.check_rules import Check
from orders.models import Fallout, OrderEvent, ProductOrder, ServiceOrderItem
from orders.services.holds import reject_held, release_hold
from orders.services.repairs import fail_fallout, retry_fallout
from orders.tasks import run_order_checks

from .bodies import item, order_body
from .flows import capture, installation, service_orders, submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password="pw", email="root@example.com")


@pytest.fixture
def admin_browser(client, agent):
    client.force_login(agent)
    return client


def snapshot(order):
    order = ProductOrder.objects.get(pk=order.pk)
    return (order.state, order.version, order.state_reason_code, order.events.count(),
            list(order.items.values_list("state", flat=True)), ServiceOrderItem.objects.filter(order=order).count())


def held_for_credit(web):
    order = submit(web.channel, superfibre(customer="CUST-4004"))
    assert order.state == "held" and order.state_reason_code == "CREDIT_LIMIT"
    return order


def in_fallout(web, som, body=None):
    som.fail("ONT-Installation", times=1)
    order = som.fulfil(submit(web.channel, body or installation()))
    assert order.state == "held" and order.state_reason_code == "FALLOUT"
    return order, Fallout.objects.get(order=order)


# --- held by a check -------------------------------------------------------------------------------

def test_release_of_an_order_with_a_future_start_date_waits_for_it(web, agent):
    body = superfibre(customer="CUST-4004")
    body["requestedStartDate"] = "2029-06-01T08:00:00Z"
    order = submit(web.channel, body)
    assert order.state == "held"

    release_hold(order=order, user=agent, reason="approved")

    order.refresh_from_db()
    assert order.state == "pending"
    assert [i.state for i in order.items.all()] == ["pending"]
    assert not ServiceOrderItem.objects.filter(order=order).exists()


def test_release_hold_starts_fulfilment(web, agent):
    order = held_for_credit(web)

    release_hold(order=order, user=agent, reason="supervisor approved the credit")

    order.refresh_from_db()
    assert order.state == "inProgress" and order.state_reason_code == "" and order.state_reason == ""
    assert [i.state for i in order.items.all()] == ["inProgress"]
    assert len(service_orders(order)) == 1 and ServiceOrderItem.objects.filter(order=order).count() == 3
    released = order.events.get(type=OrderEvent.Type.HOLD_RELEASED)
    assert released.actor == "user:root" and released.message == "supervisor approved the credit"
    assert released.payload == {"reasonCode": "CREDIT_LIMIT"}


def test_reject_held_rejects_the_order_and_its_items(web, agent):
    order = held_for_credit(web)

    reject_held(order=order, user=agent, reason="customer could not pay")

    order.refresh_from_db()
    assert order.state == "rejected"
    assert order.state_reason_code == "REJECTED_BY_AGENT" and order.state_reason == "customer could not pay"
    assert [i.state for i in order.items.all()] == ["rejected"]
    assert order.events.filter(type=OrderEvent.Type.REJECTED, actor="user:root").count() == 1
    assert not ServiceOrderItem.objects.filter(order=order).exists()


@pytest.mark.parametrize("command", [release_hold, reject_held])
def test_an_order_not_held_cannot_be_released_or_rejected(web, agent, command):
    acknowledged = capture(web.channel, superfibre("ack"))
    in_progress = submit(web.channel, superfibre("run", customer="CUST-3003", place="ADDR-3003"))
    rejected = submit(web.channel, superfibre("bad", place="ADDR-9999"))

    for order in (acknowledged, in_progress, rejected):
        before = snapshot(order)
        with pytest.raises(NotAllowed):
            command(order=order, user=agent, reason="")
        assert snapshot(order) == before


@pytest.mark.parametrize("command", [release_hold, reject_held])
def test_an_order_held_by_a_fallout_is_not_a_check_hold(web, som, agent, command):
    order, _ = in_fallout(web, som)
    before = snapshot(order)

    with pytest.raises(NotAllowed):
        command(order=order, user=agent, reason="")

    assert snapshot(order) == before


class Exploding(Check):
    """A check with a bug in it: the order ends held by an INTERNAL_ERROR fallout before fulfilment."""

    code = "exploding"

    def run(self, order):
        raise RuntimeError("credit bureau answered nonsense")


def held_by_a_checks_fallout(web, settings):
    settings.COM_ORDER_CHECKS = [*settings.COM_ORDER_CHECKS, "tests.orders.test_holds.Exploding"]
    order = capture(web.channel, superfibre())
    for _ in range(settings.COM_MAX_PROCESSING_ATTEMPTS):
        run_order_checks(order.pk)
    order.refresh_from_db()
    assert order.state == "held" and not order.service_items.exists()
    return order, Fallout.objects.get(order=order, resolved_at__isnull=True)


def test_an_order_held_by_a_fallout_before_fulfilment_is_not_rejected_around_its_fallout(web, agent, settings,
                                                                                         admin_browser):
    order, fallout = held_by_a_checks_fallout(web, settings)
    before = snapshot(order)

    with pytest.raises(NotAllowed, match="fallout"):
        reject_held(order=order, user=agent, reason="tired of it", reason_code="REJECTED_BY_AGENT")
    messages = admin_action(admin_browser, "productorder", "reject_held_orders", order.pk)
    assert len(messages) == 1 and "fallout" in messages[0]

    assert snapshot(order) == before and Fallout.objects.get(pk=fallout.pk).is_open
    # giving up on the fallout closes it first, then rejects the order
    assert fail_fallout(fallout=fallout, user=agent, reason="bureau down for good") == "order rejected"
    order.refresh_from_db()
    assert order.state == "rejected" and not Fallout.objects.get(pk=fallout.pk).is_open


# --- fallout ---------------------------------------------------------------------------------------

def test_retry_fallout_sends_the_service_again(web, som, agent):
    order, fallout = in_fallout(web, som)

    retry_fallout(fallout=fallout, user=agent, reason="technician available")

    fallout.refresh_from_db()
    assert fallout.resolution == "retried" and fallout.resolved_by == agent and not fallout.is_open
    order.refresh_from_db()
    assert order.state == "inProgress" and order.items.get().state == "inProgress"
    retry = service_orders(order)[-1]
    assert (retry.sequence, retry.purpose, retry.state) == (2, "retry", "planned")
    ont = ServiceOrderItem.objects.get(order=order)
    assert ont.service_order == retry and ont.attempts == 2 and ont.state == "planned"
    assert order.events.filter(type=OrderEvent.Type.FALLOUT_RESOLVED, actor="user:root").count() == 1

    with pytest.raises(NotAllowed):
        retry_fallout(fallout=fallout, user=agent)  # resolved already
    assert len(service_orders(order)) == 2

    order = som.fulfil(order)
    assert order.state == "completed"
    assert Product.objects.get(created_by_order=order).status == "active"


def test_fail_fallout_fails_the_item_and_finishes_the_order(web, som, agent):
    order, fallout = in_fallout(web, som)

    fail_fallout(fallout=fallout, user=agent, reason="no access to the building")

    fallout.refresh_from_db()
    assert fallout.resolution == "failed" and not fallout.is_open
    order.refresh_from_db()
    assert order.state == "failed" and order.completion_date is not None
    line = order.items.get()
    assert line.state == "failed" and line.state_reason == "no access to the building"
    assert not Product.objects.filter(created_by_order=order).exists()
    with pytest.raises(NotAllowed):
        fail_fallout(fallout=fallout, user=agent)


def test_failing_one_item_of_two_gives_partial(web, som, agent):
    body = order_body("two", productOrderItem=[
        item("1", downloadSpeed=200),
        item("2", offering="PO-INSTALL", installationType="standard", appointment="APT-1"),
    ])
    order, fallout = in_fallout(web, som, body)
    assert dict(order.items.values_list("item_id", "state")) == {"1": "completed", "2": "held"}

    fail_fallout(fallout=fallout, user=agent, reason="")

    order.refresh_from_db()
    assert order.state == "partial"
    assert dict(order.items.values_list("item_id", "state")) == {"1": "completed", "2": "failed"}
    assert Product.objects.get(created_by_order=order).order_items.get().item_id == "1"


# --- the admin -------------------------------------------------------------------------------------

def admin_action(browser, model, action, *pks, query=""):
    url = reverse(f"admin:orders_{model}_changelist") + query
    response = browser.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks]}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def test_admin_lists_and_shows_orders_with_the_commands_their_state_allows(admin_browser, web):
    order = held_for_credit(web)

    assert admin_browser.get(reverse("admin:orders_productorder_changelist")).status_code == 200
    page = admin_browser.get(reverse("admin:orders_productorder_change", args=[order.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    # named as an agent says them, not as the state machine's methods
    for label in ("Release the hold", "Reject the order", "Ask for information", "Request a cancellation"):
        assert label in html
    assert "assess_cancellation" not in html


def test_admin_release_holds_action(admin_browser, web):
    order = held_for_credit(web)

    messages = admin_action(admin_browser, "productorder", "release_holds", order.pk)

    assert messages == [f"{order.pk}: released"]
    order.refresh_from_db()
    assert order.state == "inProgress"
    assert order.events.get(type=OrderEvent.Type.HOLD_RELEASED).actor == "user:root"


def test_admin_reject_held_orders_action_reports_what_it_could_not_do(admin_browser, web):
    held = held_for_credit(web)
    running = submit(web.channel, superfibre("run", customer="CUST-3003", place="ADDR-3003"))
    before = snapshot(running)

    messages = admin_action(admin_browser, "productorder", "reject_held_orders", held.pk, running.pk)

    assert f"{held.pk}: rejected" in messages
    assert any(m.startswith(f"{running.pk}: ") and "cannot be rejected" in m for m in messages)
    assert ProductOrder.objects.get(pk=held.pk).state == "rejected"
    assert snapshot(running) == before


def test_admin_fallout_retry_action(admin_browser, web, som):
    order, fallout = in_fallout(web, som)

    messages = admin_action(admin_browser, "fallout", "retry", fallout.pk)

    assert messages == [f"Fallout {fallout.pk}: retried"]
    assert Fallout.objects.get(pk=fallout.pk).resolution == "retried"
    assert ProductOrder.objects.get(pk=order.pk).state == "inProgress"
    assert service_orders(order)[-1].purpose == "retry"


def test_admin_fallout_fail_action(admin_browser, web, som):
    order, fallout = in_fallout(web, som)

    messages = admin_action(admin_browser, "fallout", "fail", fallout.pk)

    assert messages == [f"Fallout {fallout.pk}: failed"]
    assert ProductOrder.objects.get(pk=order.pk).state == "failed"
    # the queue lists open fallouts; the resolved one, listed with status=all, refuses a second repair
    assert admin_action(admin_browser, "fallout", "fail", fallout.pk) == []
    again = admin_action(admin_browser, "fallout", "fail", fallout.pk, query="?status=all")
    assert again == [f"Fallout {fallout.pk}: Fallout {fallout.pk} was already resolved (failed)"]


def test_an_agent_without_change_permission_cannot_run_the_actions(client, django_user_model, web):
    from django.contrib.auth.models import Permission

    order = held_for_credit(web)
    viewer = django_user_model.objects.create_user(username="viewer", password="pw", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_productorder"))  # view, no change
    client.force_login(viewer)

    client.post(reverse("admin:orders_productorder_changelist"),
                {"action": "release_holds", "_selected_action": [order.pk]})

    assert ProductOrder.objects.get(pk=order.pk).state == "held"
