"""The order desk's screens: who may run which command, what the state refuses (a message, never an error
page), the held and fallout queues, the order page, the impact preview before a change, the approvals queue
with separation of duties, the fallout groups and the dashboard."""
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from orders import roles
from orders.models import Fallout, HubSubscription, MutationRequest, Notification, OrderEvent, ProductOrder

from .flows import in_data_fallout, installation, submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")


def login(client, username):
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def nobody(django_user_model):
    """Staff, in no group: sees nothing of the desk."""
    return django_user_model.objects.create_user(username="nobody", password="pw", is_staff=True)


@pytest.fixture
def supervisor2(django_user_model):
    user = django_user_model.objects.create_user(username="supervisor2", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.SUPERVISOR))
    return user


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def html(response) -> str:
    return response.content.decode()


def held_for_credit(web, ext="held-1", priority="2"):
    body = superfibre(ext, customer="CUST-4004")
    body["priority"] = priority
    order = submit(web.channel, body)
    assert order.state == "held" and order.state_reason_code == "CREDIT_LIMIT"
    return order


def in_fallout(web, som, ext="inst-1", customer="CUST-1001"):
    som.fail("ONT-Installation", times=1)
    order = som.fulfil(submit(web.channel, installation(ext, customer=customer)))
    assert order.state == "held"
    return order, Fallout.objects.get(order=order)


def command_url(order, name):
    return reverse("admin:orders_productorder_command", args=[order.pk, name])


def fallout_command_url(fallout, name):
    return reverse("admin:orders_fallout_command", args=[fallout.pk, name])


def order_page(client, order):
    return client.get(reverse("admin:orders_productorder_change", args=[order.pk]))


def buttons(response) -> set[str]:
    return set(re.findall(r'data-command="([\w-]+)"', html(response)))


# --- who may do what -------------------------------------------------------------------------------------

def test_staff_without_a_role_gets_403_everywhere_on_the_desk(client, web, som, nobody):
    order = held_for_credit(web)
    _, fallout = in_fallout(web, som)
    client.force_login(nobody)

    for url in [reverse("admin:orders_heldorder_changelist"), reverse("admin:orders_fallout_changelist"),
                reverse("admin:orders_pendingapproval_changelist"), reverse("admin:orders_fallout_groups"),
                reverse("admin:orders_productorder_change", args=[order.pk]), command_url(order, "release"),
                reverse("admin:orders_fallout_change", args=[fallout.pk]), fallout_command_url(fallout, "retry"),
                reverse("admin:orders_mutationrequest_policy")]:
        assert client.get(url).status_code == 403, url
    assert client.post(command_url(order, "release"), {"reason": "x"}).status_code == 403
    assert client.post(reverse("admin:orders_fallout_group_retry"), {"root_cause": fallout.root_cause,
                                                                      "reason": "x"}).status_code == 403
    assert ProductOrder.objects.get(pk=order.pk).state == "held"
    assert Fallout.objects.get(pk=fallout.pk).is_open
    index = client.get(reverse("admin:index"))
    assert 'id="desk-dashboard"' not in html(index)


def test_a_viewer_sees_the_order_but_no_button_and_cannot_post_a_command(client, web, django_user_model):
    from django.contrib.auth.models import Permission

    order = held_for_credit(web)
    viewer = django_user_model.objects.create_user(username="viewer", password="pw", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_productorder"))
    client.force_login(viewer)

    page = order_page(client, order)

    assert page.status_code == 200 and buttons(page) == set()
    assert 'id="order-no-commands"' in html(page)
    assert client.post(command_url(order, "release"), {"reason": "x"}).status_code == 403
    assert ProductOrder.objects.get(pk=order.pk).state == "held"


def test_an_agent_sees_the_commands_of_a_held_order_in_words(client, web):
    order = held_for_credit(web)

    page = order_page(login(client, "agent"), order)

    assert buttons(page) == {"release", "recheck", "request-information", "reject", "note", "change-item",
                             "reschedule", "correct-details", "cancel"}
    text = html(page)
    for words in ("Release the hold", "Reject the order", "Ask for information", "Request a cancellation",
                  "Change the appointment", "held: needs an agent", "CREDIT_LIMIT"):
        assert words in text
    assert 'name="_save"' not in text


def test_a_finished_order_offers_only_a_note(client, web, som):
    order = som.fulfil(submit(web.channel, superfibre("done", customer="CUST-3003", place="ADDR-3003")))
    assert order.state == "completed"

    assert buttons(order_page(login(client, "agent"), order)) == {"note"}


def test_a_command_the_state_refuses_is_a_message_not_an_error_page(client, web, som):
    order = som.fulfil(submit(web.channel, superfibre("done", customer="CUST-3003", place="ADDR-3003")))
    login(client, "agent")
    before = ProductOrder.objects.get(pk=order.pk).version

    for response in (client.get(command_url(order, "release"), follow=True),
                     client.post(command_url(order, "release"), {"reason": "please"}, follow=True),
                     client.post(command_url(order, "cancel"), {"reason_code": "CUSTOMER_REQUEST", "reason": "x",
                                                                "_preview": "1"}, follow=True)):
        assert response.status_code == 200
        assert response.redirect_chain[-1][0] == reverse("admin:orders_productorder_change", args=[order.pk])
        assert any("The order is completed" in m for m in messages_of(response)), messages_of(response)
    assert ProductOrder.objects.get(pk=order.pk).version == before
    assert not MutationRequest.objects.exists()


def test_a_service_refusal_is_a_message_too(client, web, som):
    """The hold is released only when the product another order changes is free: the service says so."""
    from .bodies import item, order_body

    built = som.fulfil(submit(web.channel, superfibre("base", wifiManagement=False)))
    product = built.items.get().product
    first = submit(web.channel, order_body("mod-a", productOrderItem=[
        item(action="modify", product_id=product.pk, place=None, downloadSpeed=500)]))
    second = submit(web.channel, order_body("mod-b", productOrderItem=[
        item(action="modify", product_id=product.pk, place=None, wifiManagement=True)]))
    assert second.state == "held" and second.state_reason_code == "PRODUCT_IN_FLIGHT"
    login(client, "agent")
    assert "release" in buttons(order_page(client, second))

    response = client.post(command_url(second, "release"), {"reason": "go"}, follow=True)

    assert response.status_code == 200
    assert any("waits for" in m and first.pk in m for m in messages_of(response)), messages_of(response)
    assert ProductOrder.objects.get(pk=second.pk).state == "held"


def test_a_refusal_of_what_was_typed_shows_the_form_again_with_the_reason(client, web, settings):
    order = held_for_credit(web)
    settings.COM_MAX_NOTES_PER_ORDER = len(order.notes)  # full
    login(client, "agent")

    response = client.post(command_url(order, "request-information"), {"reason": "Payslip please"})

    assert response.status_code == 200 and "notes, the most allowed" in html(response)
    assert ProductOrder.objects.get(pk=order.pk).notes == order.notes


# --- the held queue ---------------------------------------------------------------------------------------

def test_the_held_queue_lists_check_holds_by_priority_then_age_with_the_failing_check(client, web, som):
    low = held_for_credit(web, "low", priority="4")
    urgent = held_for_credit(web, "urgent", priority="0")
    in_fallout(web, som)  # held by a fallout: the fallout queue's
    running = submit(web.channel, superfibre("run", customer="CUST-3003", place="ADDR-3003"))

    page = login(client, "agent").get(reverse("admin:orders_heldorder_changelist"))

    text = html(page)
    listed = re.findall(r'class="desk-order-link" href="[^"]+">(PO-\w+)<', text)
    assert listed == [urgent.pk, low.pk]
    assert running.pk not in text
    assert "CREDIT_LIMIT" in text and "exceed the credit limit" in text and "(CUST-4004)" in text
    assert "Release the hold" in text and "Reject the order (with the reason code)" in text


def test_an_agent_releases_from_the_held_queue_and_the_order_moves_on(client, web):
    order = held_for_credit(web)
    login(client, "agent")

    response = client.post(reverse("admin:orders_heldorder_changelist"),
                           {"action": "release_holds", "_selected_action": [order.pk], "reason": "credit raised",
                            "reason_code": ""}, follow=True)

    assert messages_of(response) == [f"{order.pk}: released"]
    order.refresh_from_db()
    assert order.state == "inProgress"
    released = order.events.get(type=OrderEvent.Type.HOLD_RELEASED)
    assert (released.actor, released.message) == ("user:agent", "credit raised")
    assert order.pk not in html(client.get(reverse("admin:orders_heldorder_changelist")))


def test_a_rejection_from_the_held_queue_carries_the_reason_code(client, web):
    order = held_for_credit(web)
    login(client, "agent")

    client.post(reverse("admin:orders_heldorder_changelist"),
                {"action": "reject_held_orders", "_selected_action": [order.pk], "reason_code": "FRAUD_CONFIRMED",
                 "reason": "stolen card"})

    order.refresh_from_db()
    assert (order.state, order.state_reason_code, order.state_reason) == ("rejected", "FRAUD_CONFIRMED",
                                                                         "stolen card")


def test_asking_for_information_and_adding_a_note_from_the_order_page(client, web):
    order = held_for_credit(web)
    login(client, "agent")

    response = client.post(command_url(order, "request-information"),
                           {"reason": "Payslip for the credit check"}, follow=True)
    assert "Information requested" in messages_of(response)[0]
    response = client.post(command_url(order, "note"), {"text": "Called the customer"}, follow=True)
    assert messages_of(response) == ["Note added"]
    invalid = client.post(command_url(order, "note"), {"text": ""})
    assert invalid.status_code == 200 and "This field is required" in html(invalid)

    order.refresh_from_db()
    assert [n["text"] for n in order.notes[-2:]] == ["Information required: Payslip for the credit check",
                                                     "Called the customer"]
    assert {n["author"] for n in order.notes[-2:]} == {"user:agent"}
    page = html(order_page(client, order))
    assert "Called the customer" in page and "Information Requested" in page


def test_the_desk_shows_which_channel_wrote_a_note_and_channels_never_see_staff_names(client, web):
    order = held_for_credit(web)
    HubSubscription.objects.create(channel=web.channel, callback="http://listener.test/web")
    url = f"/tmf-api/productOrderingManagement/v4/productOrder/{order.pk}"
    assert web.patch(url, {"note": [{"author": "Jane at the shop", "text": "Customer called back"}]},
                     format="json").status_code == 200
    login(client, "agent")
    client.post(command_url(order, "note"), {"text": "Called the customer"})
    client.post(command_url(order, "request-information"), {"reason": "Payslip for the credit check"})

    page = html(order_page(client, order))
    assert "<strong>Jane at the shop</strong> via channel:web" in page
    assert "<strong>user:agent</strong>" in page

    body = web.get(url).json()
    assert [n["author"] for n in body["note"][-3:]] == ["Jane at the shop", "order desk", "order desk"]
    told = json.dumps([n.payload for n in Notification.objects.filter(order=order)])
    assert "Called the customer" in told  # the channel was told of the notes, without the name
    assert "user:agent" not in json.dumps(body) and "user:agent" not in told


def test_release_from_the_order_page_needs_a_reason(client, web):
    order = held_for_credit(web)
    login(client, "agent")

    assert client.post(command_url(order, "release"), {"reason": ""}).status_code == 200  # the form again
    assert ProductOrder.objects.get(pk=order.pk).state == "held"
    response = client.post(command_url(order, "release"), {"reason": "customer paid a deposit"}, follow=True)

    assert messages_of(response) == ["Hold released: the order goes on"]
    assert ProductOrder.objects.get(pk=order.pk).state == "inProgress"


# --- changes: preview, then confirm; approvals -------------------------------------------------------------

def preview_then_confirm(client, url, data):
    preview = client.post(url, {**data, "_preview": "1"})
    assert preview.status_code == 200 and 'id="impact-preview"' in html(preview), html(preview)[:2000]
    seen = re.search(r'name="seen_version" value="(\d+)"', html(preview)).group(1)
    key = re.search(r'name="request_key" value="(\w+)"', html(preview)).group(1)
    return preview, client.post(url, {**data, "_confirm": "1", "seen_version": seen, "request_key": key},
                                follow=True)


def test_a_cancellation_is_previewed_then_confirmed(client, web):
    order = held_for_credit(web)
    login(client, "agent")

    preview, done = preview_then_confirm(client, command_url(order, "cancel"), {
        "reason_code": "CUSTOMER_REQUEST", "reason": "changed their mind", "customer_consent_ref": "CALL-1"})

    text = html(preview)
    assert "Applies at once" in text and 'id="command-confirm"' in text and 'id="impact-items"' in text
    [mutation] = MutationRequest.objects.filter(order=order)  # one: the preview recorded nothing
    assert (mutation.kind, mutation.state, mutation.requested_by.username) == ("cancellation", "applied", "agent")
    assert f"{mutation.pk} (cancellation) applied" in messages_of(done)
    assert ProductOrder.objects.get(pk=order.pk).state == "cancelled"


def test_a_confirmation_against_an_order_that_moved_on_shows_the_impact_again(client, web):
    order = held_for_credit(web)
    login(client, "agent")
    url = command_url(order, "cancel")
    data = {"reason_code": "CUSTOMER_REQUEST", "reason": "changed their mind"}
    client.post(url, {**data, "_preview": "1"})
    from orders.services.holds import release_hold
    release_hold(order=order, user=get_user_model().objects.get(username="supervisor"), reason="released meanwhile")

    stale = client.post(url, {**data, "_confirm": "1", "seen_version": "1", "request_key": "a" * 32})

    assert stale.status_code == 200 and 'id="impact-preview"' in html(stale)
    assert any("look at the order again" in m for m in messages_of(stale))
    assert not MutationRequest.objects.filter(order=order).exists()


def test_a_second_click_on_confirm_returns_the_first_request(client, web):
    order = submit(web.channel, superfibre("twice", customer="CUST-3003", place="ADDR-3003"))
    login(client, "agent")
    url = command_url(order, "correct-details")
    data = {"notification_contact": "alice@example.com", "reason_code": "DATA_ERROR", "reason": "typo"}
    preview = html(client.post(url, {**data, "_preview": "1"}))
    confirm = {**data, "_confirm": "1", "seen_version": re.search(r'name="seen_version" value="(\d+)"', preview)[1],
               "request_key": re.search(r'name="request_key" value="(\w+)"', preview)[1]}

    client.post(url, confirm)
    client.post(url, confirm)

    [mutation] = MutationRequest.objects.filter(order=order)
    assert (mutation.kind, mutation.state) == ("correction", "applied")
    assert ProductOrder.objects.get(pk=order.pk).notification_contact == "alice@example.com"


def amendment_by(client, username, order):
    """A commercial change (a premium router costs more): it waits for a supervisor."""
    login(client, username)
    _, done = preview_then_confirm(client, command_url(order, "change-item"), {
        "item": "1", "characteristic": "routerModel", "value": "FritzBox 7590", "reason_code": "CUSTOMER_REQUEST",
        "reason": "wants the premium router", "customer_consent_ref": "CALL-77"})
    [mutation] = MutationRequest.objects.filter(order=order, state="pendingApproval")
    assert mutation.kind == "amendment"
    assert any("waits for a supervisor's approval" in m for m in messages_of(done))
    return mutation


def test_an_agent_cannot_approve(client, web):
    order = submit(web.channel, superfibre("amend", customer="CUST-3003", place="ADDR-3003"))
    mutation = amendment_by(client, "agent", order)
    url = reverse("admin:orders_mutationrequest_change", args=[mutation.pk])

    page = client.get(url)
    decided = client.post(reverse("admin:orders_mutationrequest_decide", args=[mutation.pk]), {"_approve": "1"})

    assert page.status_code == 200
    assert 'id="approve-button"' not in html(page) and 'data-why="not-supervisor"' in html(page)
    assert decided.status_code == 403
    assert MutationRequest.objects.get(pk=mutation.pk).state == "pendingApproval"


def test_a_supervisor_sees_the_change_side_by_side_with_its_impact_and_approves_it(client, web):
    order = submit(web.channel, superfibre("amend", customer="CUST-3003", place="ADDR-3003"))
    mutation = amendment_by(client, "agent", order)
    login(client, "supervisor")

    queue = client.get(reverse("admin:orders_pendingapproval_changelist"))
    assert mutation.pk in html(queue) and "CALL-77" in html(queue) and "wants the premium router" in html(queue)
    page = client.get(reverse("admin:orders_mutationrequest_change", args=[mutation.pk]))
    text = html(page)
    side = text[text.index('id="approval-side-by-side"'):text.index('id="impact-preview"')]
    assert "Item 1 routerModel" in side and "Nokia Beacon 6" in side and "FritzBox 7590" in side
    assert 'id="impact-services"' in text and 'id="impact-prices"' in text and "Premium router" in text
    assert 'id="approve-button"' in text

    response = client.post(reverse("admin:orders_mutationrequest_decide", args=[mutation.pk]),
                           {"_approve": "1", "comment": "consent on file"}, follow=True)

    assert messages_of(response) == [f"{mutation.pk} approved: applied"]
    mutation.refresh_from_db()
    assert (mutation.state, mutation.approver.username, mutation.decision_comment) == (
        "applied", "supervisor", "consent on file")
    assert order.items.get().characteristics["routerModel"] == "FritzBox 7590"
    timeline = html(order_page(client, order))
    assert re.search(rf"{mutation.pk}</a>\s*amendment \(commercial\), applied, decision approval, approver supervisor",
                     timeline)


def test_a_supervisor_cannot_approve_their_own_request(client, web, supervisor2):
    order = submit(web.channel, superfibre("amend", customer="CUST-3003", place="ADDR-3003"))
    mutation = amendment_by(client, "supervisor", order)
    url = reverse("admin:orders_mutationrequest_change", args=[mutation.pk])

    page = client.get(url)
    assert 'id="approve-button"' not in html(page) and 'data-why="own-request"' in html(page)
    assert "separation of duties" in html(page)
    response = client.post(reverse("admin:orders_mutationrequest_decide", args=[mutation.pk]), {"_approve": "1"},
                           follow=True)
    assert response.status_code == 200
    assert any("separation of duties" in m for m in messages_of(response))
    assert MutationRequest.objects.get(pk=mutation.pk).state == "pendingApproval"

    client.force_login(supervisor2)
    assert 'id="approve-button"' in html(client.get(url))
    no_comment = client.post(reverse("admin:orders_mutationrequest_decide", args=[mutation.pk]), {"_reject": "1"},
                             follow=True)
    assert any("Say why" in m for m in messages_of(no_comment))
    client.post(reverse("admin:orders_mutationrequest_decide", args=[mutation.pk]),
                {"_reject": "1", "comment": "no consent recorded"})
    mutation.refresh_from_db()
    assert (mutation.state, mutation.approver, mutation.decision_comment) == ("rejected", supervisor2,
                                                                            "no consent recorded")


# --- the fallout queue, a fallout, the groups --------------------------------------------------------------

def test_the_fallout_queue_explains_each_fallout_and_proposes_its_repair(client, web, som):
    order, fallout = in_fallout(web, som)
    login(client, "agent")

    queue = html(client.get(reverse("admin:orders_fallout_changelist")))
    assert "resource shortage" in queue and "Retry now" in queue and fallout.root_cause in queue
    page = client.get(reverse("admin:orders_fallout_change", args=[fallout.pk]))
    text = html(page)
    assert 'data-category="resource"' in text
    repairs = re.findall(r'data-repair="([\w-]+)"', text)
    assert repairs == ["retry", "cancel-item", "complete-by-hand", "fail"]  # the class's repair first
    assert "Proposed: Retry now" in text

    response = client.post(fallout_command_url(fallout, "retry"), {"reason": "technician available"}, follow=True)

    assert messages_of(response)[0].startswith("Retried: ")
    assert Fallout.objects.get(pk=fallout.pk).resolution == "retried"
    assert ProductOrder.objects.get(pk=order.pk).state == "inProgress"
    assert "Proposed:" not in html(client.get(reverse("admin:orders_fallout_change", args=[fallout.pk])))


def test_a_fallout_is_fixed_by_correcting_a_characteristic(client, web, som):
    order, fallout = in_fallout(web, som)
    login(client, "agent")
    bad = client.post(fallout_command_url(fallout, "correct"), {
        "item": "1", "characteristic": "installationType", "value": "deluxe", "reason_code": "FALLOUT_REPAIR",
        "reason": "x", "_preview": "1"})
    assert "installationType takes one of standard, premium" in html(bad)

    preview, done = preview_then_confirm(client, fallout_command_url(fallout, "correct"), {
        "item": "1", "characteristic": "installationType", "value": "premium", "reason_code": "FALLOUT_REPAIR",
        "reason": "the building needs the premium installation"})

    assert "replace" in html(preview)
    assert any("(correction (non-commercial)) applied" in m for m in messages_of(done))
    assert "Retried: sent as corrected: 2 replaces 1" in messages_of(done)
    assert Fallout.objects.get(pk=fallout.pk).resolution == "retried"
    order = som.fulfil(order)
    assert order.state == "completed"
    tree = html(order_page(client, order))
    assert re.search(r'id="service-1" class="desk-service superseded', tree)


def test_a_manual_completion_is_requested_from_the_fallout_and_decided_by_a_supervisor(client, web, som):
    order, fallout = in_fallout(web, som)
    login(client, "agent")

    preview, done = preview_then_confirm(client, fallout_command_url(fallout, "complete-by-hand"), {
        "evidence": "Installed by the field team, job sheet JS-42", "reason": "SOM could not record it"})

    assert "Needs a supervisor's approval" in html(preview)
    [mutation] = MutationRequest.objects.filter(order=order)
    assert (mutation.kind, mutation.state) == ("manualCompletion", "pendingApproval")
    login(client, "supervisor")
    page = html(client.get(reverse("admin:orders_mutationrequest_change", args=[mutation.pk])))
    assert "completed (by hand)" in page and "JS-42" in page
    client.post(reverse("admin:orders_mutationrequest_decide", args=[mutation.pk]), {"_approve": "1"})
    assert ProductOrder.objects.get(pk=order.pk).state == "completed"
    assert Fallout.objects.get(pk=fallout.pk).resolution == "completedByHand"


def test_the_bulk_retry_refuses_fallouts_that_need_a_correction_each(client, web, som):
    data = [in_data_fallout(web, som, f"bad-{n}", customer)[1] for n, customer in enumerate(["CUST-1001", "CUST-3003"])]
    _, resource = in_fallout(web, som, ext="inst-9", customer="CUST-4004")
    login(client, "agent")

    response = client.post(reverse("admin:orders_fallout_changelist"),
                           {"action": "retry", "_selected_action": [f.pk for f in [*data, resource]],
                            "reason": "all at once"}, follow=True)

    said = messages_of(response)
    assert f"Fallout {resource.pk}: retried" in said
    assert f"Fallout {data[0].pk}: Its class is data error: such a fallout needs its own correction" in " ".join(said)
    assert all(Fallout.objects.get(pk=f.pk).is_open for f in data)
    assert not Fallout.objects.get(pk=resource.pk).is_open

    group = client.post(reverse("admin:orders_fallout_group_retry"),
                        {"root_cause": data[0].root_cause, "reason": "all at once"}, follow=True)
    assert any("data error" in m and "one by one" in m for m in messages_of(group))
    assert all(Fallout.objects.get(pk=f.pk).is_open for f in data)


def test_fallouts_of_one_root_cause_are_grouped_and_retried_together_each_audited(client, web, som):
    found = [in_fallout(web, som, f"g-{n}", customer) for n, customer in enumerate(["CUST-1001", "CUST-3003"])]
    root = found[0][1].root_cause
    login(client, "agent")

    groups = html(client.get(reverse("admin:orders_fallout_groups")))
    assert f'data-root-cause="{root}" data-count="2"' in groups and "Retry all 2" in groups

    response = client.post(reverse("admin:orders_fallout_group_retry"), {"root_cause": root, "reason": "port freed"},
                           follow=True)

    assert messages_of(response) == [f"Retried 2 of 2 fallout(s) of {root}, each on its own"]
    for order, fallout in found:
        assert Fallout.objects.get(pk=fallout.pk).resolution == "retried"
        [event] = order.events.filter(type=OrderEvent.Type.FALLOUT_RESOLVED)
        assert event.actor == "user:agent"


# --- the dashboard and the policy ------------------------------------------------------------------------

def test_the_dashboard_shows_the_desk_with_charts_linking_to_their_queues(client, web, som):
    held_for_credit(web)
    in_fallout(web, som)
    som.fulfil(submit(web.channel, superfibre("done", customer="CUST-3003", place="ADDR-3003")))
    login(client, "agent")

    page = html(client.get(reverse("admin:index")))

    for chart in ("chart-orders-by-state", "chart-held-backlog", "chart-fallout-backlog", "chart-cycle-time",
                  "chart-fallout-rate-offering", "chart-fallout-rate-service", "chart-orders-per-day"):
        assert f'id="{chart}"' in page, chart
    assert "<script" not in page[page.index('id="desk-dashboard"'):page.index('id="chart-orders-per-day"')]
    links = set(re.findall(r'<a class="desk-bar" href="([^"]+)"', page))
    assert links
    for link in links:
        assert client.get(link.replace("&amp;", "&")).status_code == 200, link
    held_link = next(link for link in links if "heldorder" in link)
    assert "age=" in held_link
    assert client.get(held_link.replace("&amp;", "&")).status_code == 200


def test_the_catalog_manager_has_no_dashboard(client):
    page = html(login(client, "catalog").get(reverse("admin:index")))
    assert 'id="desk-dashboard"' not in page


def test_the_policy_is_shown_read_only(client):
    page = login(client, "agent").get(reverse("admin:orders_mutationrequest_policy"))
    assert page.status_code == 200 and 'id="rule-M1"' in html(page) and 'id="rule-C3"' in html(page)
    assert "<form" not in html(page).split('id="content-main"')[1]


@pytest.mark.django_db(transaction=True)
def test_the_roles_come_back_after_a_flush():
    """A flush (as a transactional test's teardown runs) empties auth_group: post_migrate puts the roles back."""
    from django.core.management import call_command

    call_command("flush", "--noinput", verbosity=0)
    assert set(roles.ROLES) <= set(Group.objects.values_list("name", flat=True))
    supervisor = Group.objects.get(name=roles.SUPERVISOR)
    assert supervisor.permissions.filter(codename="approve_mutationrequest").exists()
    assert not Group.objects.get(name=roles.AGENT).permissions.filter(codename="approve_mutationrequest").exists()
    call_command("load_demo", verbosity=0)  # what the end-to-end tests do after a flush
    assert get_user_model().objects.get(username="agent").groups.get().name == roles.AGENT
