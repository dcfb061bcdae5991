"""Order mutations through the TMF622 task resources and the services: cancellation (whole or items, before
and after points of no return), corrections, amendments (approval), reschedules, supersession; the stale and
duplicate guards; the impact preview. The SOM is played with the simulator's own TMF641 functions."""
import uuid

import pytest
from django.contrib.auth.models import Permission

from comapp.errors import NotAllowed
from inventory.models import Product
from orders.models import (
    BillingIntent,
    MutationRequest,
    OutboxMessage,
    ServiceOrderCancellation,
    ServiceOrderItem,
)
from orders.services import mutations
from orders.services.mutations import MutationDraft
from somsim import tmf as somtmf
from tests.tmf_schema import TMF622, assert_valid

from .bodies import item, order_body
from .flows import installation, service_orders, submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")
BASE = "/tmf-api/productOrderingManagement/v4"


def supervisor(django_user_model, name="sup-1"):
    user = django_user_model.objects.create_user(username=name, password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["approve_mutationrequest",
                                                                        "add_mutationrequest"]))
    return django_user_model.objects.get(pk=user.pk)


def cancel(client, order_id, *, items=(), reason="customer changed their mind", key=None, if_match=None,
           dry_run=False):
    body = {"productOrder": {"id": order_id}, "cancellationReason": reason}
    if items:
        body["productOrderItem"] = [{"id": i} for i in items]
    headers = {}
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    if if_match:
        headers["HTTP_IF_MATCH"] = if_match
    return client.post(f"{BASE}/cancelProductOrder{'?dryRun=true' if dry_run else ''}", body, format="json",
                       **headers)


def amend(client, order_id, reason="customer asked", **changes):
    return client.post(f"{BASE}/amendProductOrder", {"productOrder": {"id": order_id}, "reason": reason, **changes},
                       format="json")


def milestone(som, service_order, line_id, name):
    """A TMF641 v4.1 ServiceOrderMilestoneEvent: the milestone on the service order, naming its item."""
    order = som.orders[service_order.pk]
    order.setdefault("milestone", []).append(
        {"id": f"{line_id}-{name}", "name": name, "status": "reached", "milestoneDate": somtmf.utc_now(),
         "serviceOrderItem": [{"itemId": line_id, "serviceOrderId": order["id"]}], "@type": "ServiceOrderMilestone"})
    return som.report(somtmf.make_event("ServiceOrderMilestoneEvent", dict(order)))


def line_of(som, service_order, code):
    return next(line["id"] for line in som.orders[service_order.pk]["serviceOrderItem"]
                if line["service"]["serviceSpecification"]["id"] == code)


def cancel_at_som(som, service_order, state="done"):
    """SOM answers the cancelServiceOrder COM queued: accepted, then done (items and order cancelled)."""
    cancellation = ServiceOrderCancellation.objects.get(service_order=service_order)
    from orders.services.delivery import _consequence  # what the relay does with SOM's 201

    message = OutboxMessage.objects.get(cancellation=cancellation)
    OutboxMessage.objects.filter(pk=message.pk).update(status="delivered", response_body={"id": "C-1"})
    message.refresh_from_db()
    from django.db import transaction

    with transaction.atomic():
        _consequence(message, "delivered")
    som_order = som.orders[service_order.pk]
    if state == "done":
        for line in som_order["serviceOrderItem"]:
            if line["state"] not in somtmf.TERMINAL_ITEM_STATES:
                line["state"] = "cancelled"
        som_order["state"] = "cancelled"
        som.report(somtmf.make_event("ServiceOrderStateChangeEvent", dict(som_order)))
    event = {"eventId": f"cancel-{uuid.uuid4()}", "eventType": "CancelServiceOrderStateChangeEvent",
             "event": {"cancelServiceOrder": {"id": "C-1", "state": state, "serviceOrder": {"id": som_order["id"]}}}}
    som.report(event)


# --- cancellation ---------------------------------------------------------------------------------------

def test_cancel_before_fulfilment_starts_is_done_at_once(web):
    order = submit(web.channel, superfibre("c-held", customer="CUST-4004"))  # held by the credit check
    assert order.state == "held"

    response = cancel(web, order.pk)

    assert response.status_code == 201, response.content
    body = response.json()
    assert_valid(TMF622, "CancelProductOrder", body)
    assert body["state"] == "done" and body["decision"]["outcome"] == "apply"
    assert body["decision"]["policyRule"] == "C1" and body["decision"]["executionPoint"] == "none"
    order.refresh_from_db()
    assert order.state == "cancelled" and order.cancellation_reason == "customer changed their mind"
    assert [i.state for i in order.items.all()] == ["cancelled"]
    assert web.get(body["href"]).json()["state"] == "done"


def test_cancel_before_reaching_som_withdraws_the_service_order(web):
    order = submit(web.channel, superfibre("c-out"))  # its service order is still in COM's outbox
    response = cancel(web, order.pk)
    assert response.json()["state"] == "done"
    [service_order] = service_orders(order)
    assert service_order.state == "rejected" and service_order.outbox_message.status == "dead"
    assert "withdrawn" in service_order.outbox_message.last_error
    order.refresh_from_db()
    assert order.state == "cancelled"


def test_cancel_in_flight_before_the_point_of_no_return_cancels_at_som(web, som):
    order = submit(web.channel, installation("c-inst"))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    milestone(som, service_order, line_of(som, service_order, "ONT-Installation"), "scheduled")  # before "assigned"

    response = cancel(web, order.pk)

    assert response.json()["state"] == "inProgress" and response.json()["decision"]["policyRule"] == "C2"
    order.refresh_from_db()
    assert order.state == "pendingCancellation"
    cancellation = ServiceOrderCancellation.objects.get(service_order=service_order)
    service_order.refresh_from_db()
    assert cancellation.outbox_message.payload["serviceOrder"]["id"] == service_order.som_order_id != ""
    cancel_at_som(som, service_order)
    order.refresh_from_db()
    assert order.state == "cancelled" and order.items.get().state == "cancelled"
    assert MutationRequest.objects.get(order=order).state == "applied"
    assert not Product.objects.filter(created_by_order=order).exists()


def test_cancel_after_a_router_was_dispatched_needs_approval_and_returns_it(web, som, django_user_model):
    order = submit(web.channel, superfibre("c-cpe", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    cpe = line_of(som, service_order, "CPE-Management")
    milestone(som, service_order, cpe, "dispatched")
    assert ServiceOrderItem.objects.get(order=order, service_specification__code="CPE-Management").milestone \
        == "dispatched"

    preview = cancel(web, order.pk, dry_run=True).json()
    assert preview["dryRun"] is True and preview["decision"]["outcome"] == "approval"
    assert preview["decision"]["executionPoint"] == "pastPointOfNoReturn"
    outcomes = {s["service"]: s["outcome"] for s in preview["impact"]["serviceOrderItem"]}
    assert outcomes == {"Internet-Access": "compensate", "CPE-Management": "compensate"} or \
        outcomes["CPE-Management"] == "compensate"
    assert not MutationRequest.objects.exists()  # a dry run records nothing

    response = cancel(web, order.pk, reason="moved abroad")
    assert response.json()["state"] == "inProgress" and response.json()["decision"]["approvalRequired"] is True
    order.refresh_from_db()
    assert order.state == "assessingCancellation"

    request = MutationRequest.objects.get(order=order)
    mutations.approve_mutation(mutation_id=request.pk, user=supervisor(django_user_model), comment="ok")
    order.refresh_from_db()
    assert order.state == "pendingCancellation"
    som.fulfil(order)  # SOM builds what it had started; COM then deletes it (a return for the router)
    order.refresh_from_db()
    undo = ServiceOrderItem.objects.filter(order=order, compensates__isnull=False)
    assert {(u.action, u.service_specification.code) for u in undo} == {("delete", "CPE-Management"),
                                                                         ("delete", "Internet-Access")}
    assert order.state == "cancelled"


def test_cancel_only_the_static_ip_leaves_the_fibre_running(web, som):
    body = order_body("fip", customer="CUST-3003", productOrderItem=[
        item("1", offering="PO-BIZ-FIBRE-1G", place="ADDR-3003", downloadSpeed=1000, sla="standard"),
        item("2", offering="PO-STATIC-IP", place="ADDR-3003", relationships=("1",), ipVersion="IPv4")])
    order = submit(web.channel, body)

    response = cancel(web, order.pk, items=["2"])

    assert response.status_code == 201 and response.json()["productOrderItem"] == [{"id": "2"}]
    impact = response.json()["impact"]
    assert [i["id"] for i in impact["productOrderItem"]] == ["2"]
    order = som.fulfil(order)
    assert order.items.get(item_id="2").state == "cancelled"
    assert order.items.get(item_id="1").state == "completed"
    assert order.state == "completed"
    assert ServiceOrderItem.objects.get(order=order, service_specification__code="Static-IP").state == "cancelled"


def test_cancel_the_fibre_cancels_the_static_ip_that_relies_on_it(web, som):
    body = order_body("fip2", customer="CUST-3003", productOrderItem=[
        item("1", offering="PO-BIZ-FIBRE-1G", place="ADDR-3003", downloadSpeed=1000, sla="standard"),
        item("2", offering="PO-STATIC-IP", place="ADDR-3003", relationships=("1",), ipVersion="IPv4")])
    order = submit(web.channel, body)

    response = cancel(web, order.pk, items=["1"])

    impact = response.json()["impact"]
    assert {i["id"]: i["why"] for i in impact["productOrderItem"]} == {"1": "targeted",
                                                                       "2": "relies on a cancelled item"}
    order.refresh_from_db()
    assert order.state == "cancelled"  # both its items cancelled one by one: the order is cancelled


def test_the_same_cancellation_sent_twice_creates_one_request(web, som):
    order = submit(web.channel, installation("c-twice"))
    som.accept(service_orders(order)[0])
    first = cancel(web, order.pk, key="case-881")
    again = cancel(web, order.pk, key="case-881")
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    other = cancel(web, order.pk, key="case-882")
    assert other.status_code == 409  # a second open cancellation of the same order
    assert MutationRequest.objects.filter(order=order).count() == 1
    assert ServiceOrderCancellation.objects.count() == 1


def test_a_cancellation_against_an_old_version_that_would_now_be_decided_differently_is_412(web, som):
    order = submit(web.channel, superfibre("c-stale", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    order.refresh_from_db()
    seen = order.version
    milestone(som, service_order, line_of(som, service_order, "CPE-Management"), "dispatched")

    response = cancel(web, order.pk, if_match=f'W/"{seen}"')

    assert response.status_code == 412, response.content
    assert not MutationRequest.objects.exists()
    order.refresh_from_db()
    assert order.state == "inProgress"


def test_a_cancellation_racing_the_completion_is_decided_on_the_state_at_apply_time(web, som, django_user_model):
    order = submit(web.channel, installation("c-race"))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    milestone(som, service_order, line_of(som, service_order, "ONT-Installation"), "assigned")  # past PoNR
    response = cancel(web, order.pk)
    assert response.json()["decision"]["outcome"] == "approval"
    som.fulfil(order)  # the installation completes before any supervisor looks

    order.refresh_from_db()
    request = MutationRequest.objects.get(order=order)
    assert order.state == "completed" and request.state == "superseded"
    with pytest.raises(NotAllowed):
        mutations.approve_mutation(mutation_id=request.pk, user=supervisor(django_user_model), comment="late")


def test_nobody_approves_their_own_request_and_agents_cannot_approve(web, som, django_user_model):
    order = submit(web.channel, installation("c-sod"))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    milestone(som, service_order, line_of(som, service_order, "ONT-Installation"), "assigned")
    boss = supervisor(django_user_model)
    request, _ = mutations.request_mutation(order_id=order.pk, actor="user:sup-1", user=boss,
                                            draft=MutationDraft(kind="cancellation", reason="x"))
    assert request.state == "pendingApproval"
    with pytest.raises(NotAllowed, match="separation of duties"):
        mutations.approve_mutation(mutation_id=request.pk, user=boss)
    agent = django_user_model.objects.create_user(username="agent-a", password="pw", is_staff=True)
    with pytest.raises(NotAllowed, match="Only a supervisor"):
        mutations.approve_mutation(mutation_id=request.pk, user=agent)
    other = supervisor(django_user_model, "sup-2")
    mutations.reject_mutation(mutation_id=request.pk, user=other, comment="installer already on site")
    order.refresh_from_db()
    assert order.state == "inProgress"  # a refused cancellation returns the order where it was
    assert MutationRequest.objects.get(pk=request.pk).state == "rejected"


def test_a_finished_order_cannot_be_cancelled(web, som):
    order = som.fulfil(submit(web.channel, installation("c-done")))
    response = cancel(web, order.pk)
    assert response.status_code == 201 and response.json()["state"] == "terminatedWithError"
    assert response.json()["decision"]["policyRule"] == "T1"


def test_cancelling_a_whole_order_with_a_completed_item_terminates_its_product(web, som, django_user_model):
    body = order_body("c-two", customer="CUST-3003", productOrderItem=[
        item("1", offering="PO-STATIC-IP", place="ADDR-3003", ipVersion="IPv4"),
        item("2", offering="PO-INSTALL", place="ADDR-3003", installationType="standard", appointment="APT-2")])
    order = submit(web.channel, body)
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    som.complete(service_order, line_of(som, service_order, "Static-IP"))  # the installation is still running
    order.refresh_from_db()
    assert order.items.get(item_id="1").state == "completed" and order.state == "inProgress"

    response = cancel(web, order.pk)
    assert response.json()["decision"]["outcome"] == "approval"  # something built: a supervisor decides
    mutations.approve_mutation(mutation_id=response.json()["id"], user=supervisor(django_user_model))
    cancel_at_som(som, service_order)  # the installation, before its technician was assigned
    som.fulfil(order)  # the static IP's delete
    order.refresh_from_db()
    assert order.state == "cancelled" and order.items.get(item_id="1").state == "completed"
    product = Product.objects.get(created_by_order=order)
    assert product.status == "terminated"
    assert BillingIntent.objects.filter(product=product, action="deactivate").count() == 1


# --- corrections, amendments, reschedules, supersession ------------------------------------------------------

def test_a_contact_correction_applies_directly(web):
    order = submit(web.channel, superfibre("k-1"))
    response = amend(web, order.pk, notificationContact="alice@example.org")
    body = response.json()
    assert response.status_code == 201 and body["kind"] == "correction" and body["state"] == "done"
    order.refresh_from_db()
    assert order.notification_contact == "alice@example.org"
    assert order.events.filter(type="orderCorrected").count() == 1


def test_upgrading_the_router_is_an_amendment_that_needs_approval(web, som, django_user_model):
    order = submit(web.channel, superfibre("a-router", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)

    response = amend(web, order.pk, productOrderItem=[{"id": "1", "product": {"productCharacteristic": [
        {"name": "routerModel", "value": "FritzBox 7590"}]}}], customerConsentRef="CALL-17")

    body = response.json()
    assert body["kind"] == "amendment" and body["decision"]["outcome"] == "approval"
    assert body["impact"]["prices"]["1"]["after"] != body["impact"]["prices"]["1"]["before"]
    order.refresh_from_db()
    assert order.items.get().characteristics["routerModel"] == "Nokia Beacon 6"  # nothing changed yet

    mutations.approve_mutation(mutation_id=body["id"], user=supervisor(django_user_model), comment="consent ok")
    order.refresh_from_db()
    line = order.items.get()
    assert line.characteristics["routerModel"] == "FritzBox 7590"
    assert any(p["name"] == "Premium router" for p in line.item_prices)
    assert order.plans.count() == 2
    order = som.fulfil(order)
    assert order.state == "completed"
    product = Product.objects.get(created_by_order=order)
    assert product.characteristics["routerModel"] == "FritzBox 7590"
    cpe_rows = ServiceOrderItem.objects.filter(order=order, service_specification__code="CPE-Management")
    # the first CPE was being built in the same service order as the access line: SOM could not cancel it
    # alone, so it was built, then modified to the new model: only the delta went to SOM
    assert sorted(r.action for r in cpe_rows) == ["add", "modify"]


def test_rescheduling_the_installation_before_assignment_replaces_it_at_som(web, som):
    order = submit(web.channel, installation("r-inst"))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)

    response = amend(web, order.pk, productOrderItem=[{"id": "1", "appointment": {"id": "APT-77"}}])

    body = response.json()
    assert body["kind"] == "reschedule" and body["decision"]["outcome"] == "apply" and body["state"] == "done"
    cancel_at_som(som, service_order)
    order = som.fulfil(order)
    assert order.state == "completed"
    rows = ServiceOrderItem.objects.filter(order=order).order_by("sequence")
    assert [(r.state, (r.appointment or {}).get("id")) for r in rows] == [("cancelled", "APT-1"),
                                                                          ("completed", "APT-77")]
    assert service_orders(order)[-1].outbox_message.payload["serviceOrderItem"][0]["appointment"]["id"] == "APT-77"


def test_changing_the_address_before_activation_replans_at_the_new_address(web, som):
    order = submit(web.channel, installation("k-addr"))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)

    response = amend(web, order.pk, productOrderItem=[{"id": "1", "product": {"place": [{"id": "ADDR-2002"}]}}])

    body = response.json()
    assert body["kind"] == "correction" and body["state"] == "done", body
    assert "serviceability" in body["impact"]["checks"]
    cancel_at_som(som, service_order)
    order = som.fulfil(order)
    assert order.state == "completed"
    built = ServiceOrderItem.objects.get(order=order, state="completed")
    # ADDR-2002 is HFC: the installation becomes a modem shipment there
    assert built.service_specification.code == "Modem-Shipment" and built.place["id"] == "ADDR-2002"


def test_an_address_change_that_is_not_serviceable_is_refused_and_changes_nothing(web, som):
    order = submit(web.channel, installation("k-bad"))
    response = amend(web, order.pk, productOrderItem=[{"id": "1", "product": {"place": [{"id": "ADDR-9999"}]}}])
    assert response.json()["state"] == "terminatedWithError"
    order.refresh_from_db()
    assert order.items.get().place["id"] == "ADDR-1001" and order.plans.count() == 1


def test_an_amendment_past_the_point_of_no_return_is_refused(web, som):
    order = submit(web.channel, superfibre("a-late", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    milestone(som, service_order, line_of(som, service_order, "CPE-Management"), "dispatched")
    response = amend(web, order.pk, productOrderItem=[{"id": "1", "product": {"productCharacteristic": [
        {"name": "routerModel", "value": "FritzBox 7590"}]}}])
    assert response.json()["state"] == "terminatedWithError" and response.json()["decision"]["policyRule"] == "A2"


def test_superseding_an_order_links_the_replacement_and_cancels_the_original(web, django_user_model):
    order = submit(web.channel, superfibre("s-old"))
    replacement = order_body("s-new", productOrderItem=[item(downloadSpeed=500, wifiManagement=False)])
    response = amend(web, order.pk, reason="wrong speed ordered", replacementOrder=replacement)
    body = response.json()
    assert body["kind"] == "supersession" and body["decision"]["outcome"] == "approval"

    mutations.approve_mutation(mutation_id=body["id"], user=supervisor(django_user_model))
    request = MutationRequest.objects.get(pk=body["id"])
    new = request.replacement_order
    assert new.replaces_id == order.pk and new.external_id == "s-new"
    order.refresh_from_db()
    assert order.state == "cancelled"


def test_a_built_product_of_a_cancelled_order_is_deactivated_and_its_one_time_fee_credited(web, som,
                                                                                        django_user_model):
    body = order_body("c-credit", productOrderItem=[
        item("1", downloadSpeed=200, wifiManagement=False),
        item("2", offering="PO-INSTALL", installationType="standard", appointment="APT-3")])
    order = submit(web.channel, body)
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    for code in ("Internet-Access", "CPE-Management"):
        som.complete(service_order, line_of(som, service_order, code))
    order.refresh_from_db()
    assert order.items.get(item_id="1").state == "completed"

    response = cancel(web, order.pk, reason="changed provider")
    assert {b["item"]: b["intent"] for b in response.json()["impact"]["billing"]} == {"1": "deactivate"}
    mutations.approve_mutation(mutation_id=response.json()["id"], user=supervisor(django_user_model))
    cancel_at_som(som, service_order)
    som.fulfil(order)

    order.refresh_from_db()
    assert order.state == "cancelled"
    intents = {i.action: i for i in BillingIntent.objects.filter(order=order)}
    assert set(intents) == {"activate", "deactivate", "credit"}
    assert intents["credit"].mutation_id == response.json()["id"]
    assert [(p["name"], p["amount"]) for p in intents["credit"].prices] == [("Activation fee", "49.00")]
