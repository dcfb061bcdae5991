"""Races the end-to-end mutation tests (tests/e2e/test_mutations.py) found on PostgreSQL, replayed here step by
step: the interleaving that went wrong, then what COM must do."""
import copy

import pytest
from django.db import transaction

from comapp.errors import NotAllowed
from orders.models import (
    Fallout,
    MutationRequest,
    OrderCheckResult,
    ServiceOrderCancellation,
)
from orders.services import holds, mutations, outbox, repairs, submission
from orders.services.checks import run_order_checks
from somsim import tmf as somtmf

from .bodies import item, order_body
from .flows import installation, service_orders, submit, superfibre
from .test_mutations import amend, cancel, cancel_at_som, line_of, milestone, supervisor

pytestmark = pytest.mark.usefixtures("demo")


def test_a_twin_that_missed_the_first_request_finds_it_under_the_order_lock(web, som, monkeypatch):
    """Two identical requests at once: both look for their key before either has committed; the second gets
    the order lock once the first committed, and must answer with the first's request, not a 409."""
    order = submit(web.channel, installation("twin-1"))
    som.accept(service_orders(order)[0])
    first = cancel(web, order.pk, key="case-881")
    looked = []
    real = mutations._find_replay

    def before_the_first_committed(order_id, draft):
        looked.append(order_id)
        return None if len(looked) == 1 else real(order_id, draft)

    monkeypatch.setattr(mutations, "_find_replay", before_the_first_committed)
    twin = cancel(web, order.pk, key="case-881")

    assert (first.status_code, twin.status_code) == (201, 200), twin.content
    assert twin.json()["id"] == first.json()["id"] and len(looked) == 2
    assert MutationRequest.objects.filter(order=order).count() == 1


def test_the_replacement_of_a_superseded_order_is_not_held_as_its_duplicate(web, som, django_user_model):
    order = submit(web.channel, superfibre("dup-old"))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    response = amend(web, order.pk, reason="wrong speed ordered",
                     replacementOrder=order_body("dup-new", productOrderItem=[item(downloadSpeed=500)]))
    mutations.approve_mutation(mutation_id=response.json()["id"], user=supervisor(django_user_model))
    new = MutationRequest.objects.get(pk=response.json()["id"]).replacement_order

    run_order_checks(order_id=new.pk)  # the original is still being cancelled at SOM

    new.refresh_from_db()
    assert new.state == "inProgress", new.state_reason
    assert OrderCheckResult.objects.get(order=new, check_code="duplicate").outcome == "pass"


def test_a_service_order_sent_while_its_order_was_cancelled_is_cancelled_at_som_once_accepted(web, som):
    order = submit(web.channel, installation("send-race"))
    [service_order] = service_orders(order)
    message, token = outbox.claim(service_order.outbox_message.pk)  # the relay is sending it this instant

    response = cancel(web, order.pk)  # too late to withdraw it

    assert response.json()["decision"]["policyRule"] == "C1"
    service_order.refresh_from_db()
    assert service_order.state == "planned" and not ServiceOrderCancellation.objects.exists()
    som_order = somtmf.new_order(message.payload, "http://som.test")  # SOM accepted it
    som.orders[service_order.pk] = som_order
    with transaction.atomic():
        outbox.record(message.pk, token, outcome="delivered", status=201, response_body=copy.deepcopy(som_order))
        submission.service_order_accepted(service_order_id=service_order.pk, response=copy.deepcopy(som_order))

    cancellation = ServiceOrderCancellation.objects.get(service_order=service_order)
    assert cancellation.outbox_message.payload["serviceOrder"]["id"] == som_order["id"]
    cancel_at_som(som, service_order)
    order.refresh_from_db()
    assert order.state == "cancelled" and MutationRequest.objects.get(order=order).state == "applied"


def test_a_retried_service_starts_from_no_milestone(web, som, django_user_model):
    """The first attempt reached the point of no return, then failed; the retry is a new attempt: cancelling
    it before any milestone is a cancellation at SOM, not a compensation."""
    order = submit(web.channel, installation("retry-ms"))
    [first] = service_orders(order)
    som.accept(first)
    som.start(first)
    line = line_of(som, first, "ONT-Installation")
    milestone(som, first, line, "assigned")
    som.fail_item(first, line)
    fallout = Fallout.objects.get(order=order, resolved_at__isnull=True)

    repairs.retry_fallout(fallout=fallout, user=supervisor(django_user_model), reason="fault found")

    second = service_orders(order)[-1]
    assert second.pk != first.pk
    som.accept(second)
    row = second.items.get()
    assert (row.state, row.milestone) == ("acknowledged", "")
    preview = cancel(web, order.pk, dry_run=True).json()
    assert (preview["decision"]["policyRule"], preview["decision"]["executionPoint"]) == ("C2", "inFlight")


def test_the_undo_of_a_cancelled_order_is_never_itself_cancelled(web, som, django_user_model):
    """Its deletes serve items being cancelled too: SOM accepting them must not look like a late withdrawal."""
    order = submit(web.channel, superfibre("undo-1", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    milestone(som, service_order, line_of(som, service_order, "CPE-Management"), "dispatched")
    response = cancel(web, order.pk)
    mutations.approve_mutation(mutation_id=response.json()["id"], user=supervisor(django_user_model))

    order = som.fulfil(order)  # SOM builds what it had started, then the deletes

    undo = service_orders(order)[1:]
    assert undo and all(so.items.get().action == "delete" for so in undo)
    assert not ServiceOrderCancellation.objects.filter(service_order__in=undo).exists()
    assert order.state == "cancelled"


# --- a change while the service order waits in COM's outbox ------------------------------------------------

NEW_ADDRESS = [{"id": "1", "product": {"place": [{"id": "ADDR-2002"}]}}]


def test_a_change_before_the_service_order_left_withdraws_it_and_sends_the_new_plan(web, som):
    """SOM must never build the old version: the unsent service order is taken back whole."""
    order = submit(web.channel, superfibre("out-1", wifiManagement=False))
    [old] = service_orders(order)  # SOM is not answering yet: still in COM's outbox

    response = amend(web, order.pk, productOrderItem=NEW_ADDRESS)

    assert (response.json()["decision"]["policyRule"], response.json()["state"]) == ("K1", "done")
    old.refresh_from_db()
    assert old.state == "rejected" and old.outbox_message.status == "dead"
    [_, new] = service_orders(order)
    assert {line["service"]["place"][0]["id"] for line in new.outbox_message.payload["serviceOrderItem"]} == \
        {"ADDR-2002"}
    order = som.fulfil(order)
    assert order.state == "completed" and list(som.orders) == [new.pk]  # SOM saw only the new plan


def test_a_priced_change_before_the_service_order_left_resends_what_did_not_change(web, som, django_user_model):
    order = submit(web.channel, superfibre("out-2", wifiManagement=False))
    [old] = service_orders(order)
    response = amend(web, order.pk, customerConsentRef="CALL-2", productOrderItem=[
        {"id": "1", "product": {"productCharacteristic": [{"name": "routerModel", "value": "FritzBox 7590"}]}}])

    mutations.approve_mutation(mutation_id=response.json()["id"], user=supervisor(django_user_model))

    old.refresh_from_db()
    assert old.state == "rejected"
    [_, new] = service_orders(order)
    access = new.items.get(service_specification__code="Internet-Access")
    assert access.attempts == 1 and access.plan.version == 1  # the same row, sent once (the first never left)
    router = new.items.get(service_specification__code="CPE-Management")
    assert router.characteristics["routerModel"] == "FritzBox 7590"
    order = som.fulfil(order)
    assert order.state == "completed" and list(som.orders) == [new.pk]


def test_a_change_while_the_service_order_is_being_sent_cancels_it_once_som_has_it(web, som):
    order = submit(web.channel, superfibre("out-3", wifiManagement=False))
    [old] = service_orders(order)
    message, token = outbox.claim(old.outbox_message.pk)  # the relay is sending it this instant

    amend(web, order.pk, productOrderItem=NEW_ADDRESS)

    old.refresh_from_db()
    assert old.state == "planned"  # too late to take back
    [_, new] = service_orders(order)  # the line at the new address goes meanwhile
    assert {line["service"]["place"][0]["id"] for line in new.outbox_message.payload["serviceOrderItem"]} == \
        {"ADDR-2002"}
    som_order = somtmf.new_order(message.payload, "http://som.test")
    som.orders[old.pk] = som_order
    with transaction.atomic():
        outbox.record(message.pk, token, outcome="delivered", status=201, response_body=copy.deepcopy(som_order))
        submission.service_order_accepted(service_order_id=old.pk, response=copy.deepcopy(som_order))
    assert ServiceOrderCancellation.objects.get(service_order=old).outbox_message is not None
    cancel_at_som(som, old)
    order = som.fulfil(order)
    assert order.state == "completed"
    assert [so.state for so in service_orders(order)] == ["cancelled", "completed"]  # no delete was needed


# --- requests left waiting when the order ends --------------------------------------------------------------

ROUTER = [{"id": "1", "product": {"productCharacteristic": [{"name": "routerModel", "value": "FritzBox 7590"}]}}]


def test_a_change_awaiting_approval_when_the_order_completes_is_overtaken(web, som, django_user_model):
    order = submit(web.channel, superfibre("late-1", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    request_id = amend(web, order.pk, customerConsentRef="CALL-3", productOrderItem=ROUTER).json()["id"]

    order = som.fulfil(order)  # built as first ordered before any supervisor looked

    request = MutationRequest.objects.get(pk=request_id)
    assert order.state == "completed" and request.state == "superseded", request.state
    assert "completed before the request was decided" in request.error
    with pytest.raises(NotAllowed):
        mutations.approve_mutation(mutation_id=request_id, user=supervisor(django_user_model))


def test_a_replacement_awaiting_approval_when_an_agent_rejects_the_held_order_is_overtaken(web, django_user_model):
    order = submit(web.channel, superfibre("late-2", customer="CUST-4004"))
    assert order.state == "held"
    request_id = amend(web, order.pk, reason="another speed",
                       replacementOrder=superfibre("late-2-new", customer="CUST-4004", downloadSpeed=500)).json()["id"]
    assert MutationRequest.objects.get(pk=request_id).state == "pendingApproval"

    holds.reject_held(order=order, user=supervisor(django_user_model), reason="credit refused")

    assert MutationRequest.objects.get(pk=request_id).state == "superseded"
