"""Regressions from the review of the order mutation code: what a cancellation may undo (and what it must
leave to a person), when it is done, and the guards on amendments and the task resources."""
import pytest

from inventory.models import Product
from orders.check_rules import AppointmentCheck
from orders.models import BillingIntent, Fallout, MutationRequest, ServiceOrderItem
from orders.services import amendments, fallouts, mutations, repairs
from orders.services.checks import configured_checks

from .bodies import item, order_body
from .flows import installation, service_orders, submit, superfibre
from .test_mutations import amend, cancel, cancel_at_som, line_of, milestone, supervisor

pytestmark = pytest.mark.usefixtures("demo")


def built_product(web, som, ext="base", customer="CUST-3003", place="ADDR-3003"):
    """A SuperFibre product the customer already has (an order fulfilled end to end)."""
    order = som.fulfil(submit(web.channel, superfibre(ext, customer=customer, place=place, wifiManagement=False)))
    assert order.state == "completed"
    return Product.objects.get(created_by_order=order)


def test_cancelling_an_order_whose_modify_item_completed_reverts_by_hand_and_keeps_the_product(
        web, som, django_user_model):
    # given: the customer's live product, and an order that changed its speed (done) and books an installation
    product = built_product(web, som)
    body = order_body("c-mod", customer="CUST-3003", productOrderItem=[
        item("1", action="modify", product_id=product.pk, place=None, downloadSpeed=500),
        item("2", offering="PO-INSTALL", place="ADDR-3003", installationType="standard", appointment="APT-9")])
    order = submit(web.channel, body)
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    som.complete(service_order, line_of(som, service_order, "Internet-Access"))
    order.refresh_from_db()
    assert order.items.get(item_id="1").state == "completed"

    # when: the whole order is cancelled
    response = cancel(web, order.pk)
    notes = {s["service"]: s["note"] for s in response.json()["impact"]["serviceOrderItem"]}
    assert "agent" in notes["Internet-Access"] and "not terminated" in notes["Internet-Access"]
    mutations.approve_mutation(mutation_id=response.json()["id"], user=supervisor(django_user_model))
    cancel_at_som(som, service_order)
    som.fulfil(order)

    # then: the customer's product is not terminated nor its billing stopped; an agent is asked to revert
    product.refresh_from_db()
    assert product.status != "terminated"
    assert not BillingIntent.objects.filter(product=product, action__in=["deactivate", "credit"]).exists()
    assert not ServiceOrderItem.objects.filter(order=order, compensates__isnull=False).exists()
    fallout = Fallout.objects.get(order=order, reason_code="COMPENSATION_MANUAL", resolved_at__isnull=True)
    assert list(fallout.items.values_list("item_id", flat=True)) == ["1"]
    order.refresh_from_db()
    assert order.state == "pendingCancellation"  # not cancelled while the change is still in place

    repairs.fail_fallout(fallout=fallout, user=supervisor(django_user_model, "sup-2"), reason="speed set back")
    order.refresh_from_db()
    assert order.state == "cancelled"
    assert MutationRequest.objects.get(pk=response.json()["id"]).state == "applied"
    product.refresh_from_db()
    assert product.status != "terminated"


def test_cancelling_a_completed_item_terminates_its_product_once_deleted_and_waits_for_its_dependants(
        web, som, django_user_model):
    # given: the fibre is built (its item completed); the static IP that relies on it is being built at SOM
    body = order_body("c-item", customer="CUST-3003", productOrderItem=[
        item("1", offering="PO-BIZ-FIBRE-1G", place="ADDR-3003", downloadSpeed=1000, sla="standard"),
        item("2", offering="PO-STATIC-IP", place="ADDR-3003", relationships=("1",), ipVersion="IPv4")])
    order = submit(web.channel, body)
    som.run(service_orders(order)[0])
    order.refresh_from_db()
    assert order.items.get(item_id="1").state == "completed"
    ip_order = service_orders(order)[-1]
    som.accept(ip_order)
    som.start(ip_order)
    fibre = Product.objects.get(pk=order.items.get(item_id="1").product_id)

    # when: the fibre alone is cancelled (the static IP goes with it)
    response = cancel(web, order.pk, items=["1"])
    request = MutationRequest.objects.get(pk=response.json()["id"])
    if request.state == "pendingApproval":
        mutations.approve_mutation(mutation_id=request.pk, user=supervisor(django_user_model))
    request.refresh_from_db()

    # then: nothing is called done while the delete and the dependant's cancellation run
    assert request.state == "applying"
    fibre.refresh_from_db()
    assert fibre.status != "terminated"
    cancel_at_som(som, ip_order)
    request.refresh_from_db()
    assert request.state == "applying"  # the fibre's delete has not run yet
    som.fulfil(order)
    order.refresh_from_db()
    assert order.items.get(item_id="2").state == "cancelled"
    assert ServiceOrderItem.objects.filter(order=order, compensates__isnull=False, state="completed").exists()
    fibre.refresh_from_db()
    assert fibre.status == "terminated"
    [deactivate] = BillingIntent.objects.filter(product=fibre, action="deactivate")
    assert deactivate.mutation_id == request.pk
    request.refresh_from_db()
    assert request.state == "applied"


def test_a_built_service_that_cannot_be_undone_goes_to_an_agent_before_the_order_is_cancelled(
        web, som, django_user_model):
    # given: the installation visit (not reversible) is done, the static IP is still being built
    body = order_body("c-visit", customer="CUST-3003", productOrderItem=[
        item("1", offering="PO-INSTALL", place="ADDR-3003", installationType="standard", appointment="APT-4"),
        item("2", offering="PO-STATIC-IP", place="ADDR-3003", ipVersion="IPv4")])
    order = submit(web.channel, body)
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    som.complete(service_order, line_of(som, service_order, "ONT-Installation"))
    order.refresh_from_db()
    assert order.items.get(item_id="1").state == "completed"

    # when: the order is cancelled
    response = cancel(web, order.pk)
    notes = {s["service"]: s["note"] for s in response.json()["impact"]["serviceOrderItem"]}
    assert "COMPENSATION_MANUAL" in notes["ONT-Installation"]
    mutations.approve_mutation(mutation_id=response.json()["id"], user=supervisor(django_user_model))
    cancel_at_som(som, service_order)
    som.fulfil(order)

    # then: a person is asked to finish the clean-up, and the order waits for them
    fallout = Fallout.objects.get(order=order, reason_code="COMPENSATION_MANUAL", resolved_at__isnull=True)
    assert fallout.service_order_item.service_specification.code == "ONT-Installation"
    assert fallout.category == "resource" and fallouts.repairs_for(fallout) == ["fail"]
    order.refresh_from_db()
    assert order.state == "pendingCancellation"
    visit = Product.objects.get(pk=order.items.get(item_id="1").product_id)
    assert visit.status != "terminated"

    repairs.fail_fallout(fallout=fallout, user=supervisor(django_user_model, "sup-2"), reason="visit reversed")
    order.refresh_from_db()
    visit.refresh_from_db()
    assert order.state == "cancelled" and visit.status == "terminated"
    assert MutationRequest.objects.get(pk=response.json()["id"]).state == "applied"


def test_an_item_being_cancelled_cannot_be_amended(web, som):
    # given: the installation is being cancelled (its visit runs on at SOM with the static IP, to be undone)
    body = order_body("c-amend", customer="CUST-3003", productOrderItem=[
        item("1", offering="PO-INSTALL", place="ADDR-3003", installationType="standard", appointment="APT-5"),
        item("2", offering="PO-STATIC-IP", place="ADDR-3003", ipVersion="IPv4")])
    order = submit(web.channel, body)
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    cancel(web, order.pk, items=["1"])
    order.refresh_from_db()
    assert order.items.get(item_id="1").state == "pendingCancellation"
    plans = order.plans.count()

    # when: someone reschedules its visit
    response = amend(web, order.pk, productOrderItem=[{"id": "1", "appointment": {"id": "APT-77"}}])

    # then: refused, and nothing re-sent for it
    assert response.status_code in (403, 409, 422), response.content
    assert "cancellation of it is under way" in str(response.json())
    order.refresh_from_db()
    assert order.items.get(item_id="1").appointment["id"] == "APT-5" and order.plans.count() == plans


def test_a_commercial_amendment_without_the_customers_consent_is_refused(web, som):
    order = submit(web.channel, superfibre("a-consent", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    upgrade = [{"id": "1", "product": {"productCharacteristic": [{"name": "routerModel", "value": "FritzBox 7590"}]}}]

    response = amend(web, order.pk, productOrderItem=upgrade)

    assert response.status_code == 400, response.content
    assert "customerConsentRef" in str(response.json())
    assert not MutationRequest.objects.filter(order=order).exists()
    assert amend(web, order.pk, productOrderItem=upgrade, customerConsentRef="CALL-9").status_code == 201


def test_the_stale_guard_of_an_approval_covers_the_prices_the_approver_saw():
    seen = mutations.Assessment(
        kind="amendment", decision="approval", policy_rule="A1", reason="", compensation=False, execution_point="",
        impact={"services": [{"ref": "3", "change": "modify"}],
                "prices": {"1": {"before": [{"name": "Monthly fee", "amount": "39.99"}],
                                 "after": [{"name": "Monthly fee", "amount": "44.99"}]}}})
    now = mutations.Assessment(**{**seen.__dict__, "impact": {**seen.impact, "prices": {"1": {
        "before": [{"name": "Monthly fee", "amount": "79.98"}], "after": [{"name": "Monthly fee", "amount": "89.98"}]}}}})
    same = mutations.Assessment(**{**seen.__dict__, "impact": {**seen.impact}})
    assert now.signature != seen.signature
    assert same.signature == seen.signature


def test_every_check_an_amendment_touches_is_a_configured_check():
    configured = {c.code for c in configured_checks()}
    named = {code for codes in amendments.TOUCHES.values() for code in codes}
    assert named - configured == set()


def test_a_new_appointment_is_checked_again(web, som):
    order = submit(web.channel, installation("r-appt"))
    visit = order.items.get()
    assert AppointmentCheck().run(order).outcome == "pass"
    visit.appointment = {"id": "APT-8", "date": "2020-01-01T09:00:00Z"}
    visit.save()
    assert AppointmentCheck().run(order).reason_code == "APPOINTMENT_IN_PAST"
    visit.appointment = None
    visit.save()
    assert AppointmentCheck().run(order).reason_code == "APPOINTMENT_MISSING"
    visit.appointment = {"id": "APT-1"}
    visit.save()
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)

    response = amend(web, order.pk, productOrderItem=[{"id": "1", "appointment": {"id": "APT-77"}}])

    assert response.json()["kind"] == "reschedule" and response.json()["impact"]["checks"] == ["appointment"]
    run = order.check_runs.get(trigger="mutation")
    assert run.checks == ["appointment"] and run.outcome == "pass"


def test_a_refused_cancellation_returns_the_order_to_the_state_its_items_now_call_for(web, som, django_user_model):
    # given: a cancellation waiting for a supervisor; meanwhile the visit fails and its item falls out
    order = submit(web.channel, installation("c-fell"))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    milestone(som, service_order, line_of(som, service_order, "ONT-Installation"), "assigned")
    response = cancel(web, order.pk)
    assert response.json()["decision"]["outcome"] == "approval"
    som.fail_item(service_order, line_of(som, service_order, "ONT-Installation"))
    order.refresh_from_db()
    assert order.state == "assessingCancellation" and order.items.get().state == "held"

    # when: the supervisor rejects the cancellation
    mutations.reject_mutation(mutation_id=response.json()["id"], user=supervisor(django_user_model), comment="no")

    # then: the order is held by its fallout, not inProgress
    order.refresh_from_db()
    assert order.state == "held" and order.state_reason_code == "FALLOUT"


def test_a_dry_run_with_an_idempotency_key_already_used_previews(web, som):
    order = submit(web.channel, installation("c-dry"))
    body = {"productOrder": {"id": order.pk}, "reason": "typo", "notificationContact": "bob@example.org"}
    url = "/tmf-api/productOrderingManagement/v4/amendProductOrder"
    assert web.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="case-9").status_code == 201

    response = web.post(url + "?dryRun=true", body, format="json", HTTP_IDEMPOTENCY_KEY="case-9")

    assert response.status_code == 200, response.content
    assert response.json()["dryRun"] is True
    assert MutationRequest.objects.filter(order=order).count() == 1


def test_a_cancellation_requested_for_a_later_day_is_refused_rather_than_done_now(web):
    order = submit(web.channel, superfibre("c-later"))
    body = {"productOrder": {"id": order.pk}, "cancellationReason": "moving in June",
            "requestedCancellationDate": "2099-06-01T00:00:00Z"}

    response = web.post("/tmf-api/productOrderingManagement/v4/cancelProductOrder", body, format="json")

    assert response.status_code == 400, response.content
    assert "scheduled cancellation is not supported" in response.json()["message"]
    order.refresh_from_db()
    assert order.state != "cancelled" and not MutationRequest.objects.filter(order=order).exists()


def test_a_cancelled_order_keeps_no_order_level_fallout_open(web, som):
    order = submit(web.channel, installation("c-stalled"))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    cancel(web, order.pk)
    order.refresh_from_db()
    assert order.state == "pendingCancellation"  # SOM is cancelling the visit
    stalled = fallouts.open_order_fallout(order, stage="watchdog", reason_code="STALLED", actor="watchdog",
                                          message="nothing heard from SOM")

    cancel_at_som(som, service_order)

    order.refresh_from_db()
    stalled.refresh_from_db()
    assert order.state == "cancelled"
    assert stalled.resolved_at is not None and stalled.resolution == "cancelled"
    assert not order.fallouts.filter(resolved_at__isnull=True).exists()
