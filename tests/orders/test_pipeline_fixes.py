"""Regressions found by a review of the fulfilment pipeline (withdrawing, fallouts overtaken by SOM, sweeps,
poison events, callbacks): each test shows the unhappy path that used to strand or mislead, on COM's real
services with the SOM played as ``flows`` does."""
import pytest
from django.db import transaction

from orders import selectors
from orders.models import OutboxMessage, ServiceOrderCancellation, ServiceOrderItem
from orders.services import outbox

from .bodies import item, order_body
from .flows import installation, plan, service_orders, submit, superfibre
from .test_mutations import amend, cancel, cancel_at_som

pytestmark = pytest.mark.usefixtures("demo")


def fibre_and_installation(ext="two-1"):
    """Two independent items whose services go to SOM together, in one service order."""
    return order_body(ext, productOrderItem=[
        item("1", downloadSpeed=200),
        item("2", offering="PO-INSTALL", installationType="standard", appointment="APT-1")])


# --- 1. an item cancelled while its service order is still in the outbox ----------------------------------

def test_cancelling_one_item_of_an_unsent_service_order_sends_the_other_items_anew(web, som):
    order = submit(web.channel, fibre_and_installation())
    [first] = service_orders(order)
    assert first.outbox_message.status == "pending"  # not sent yet: it can be withdrawn

    response = cancel(web, order.pk, items=["2"])

    assert response.status_code == 201 and response.json()["state"] == "done"
    first.refresh_from_db()
    assert first.state == "rejected" and first.outbox_message.status == "dead"
    # the fibre's services left the withdrawn service order and went in a new one
    fibre = ServiceOrderItem.objects.filter(order=order, product_items__item_id="1")
    assert {s.state for s in fibre} == {"planned"}
    [second] = [so for so in service_orders(order) if so.pk != first.pk]
    assert {s.service_order_id for s in fibre} == {second.pk} and second.outbox_message.status == "pending"
    assert all(s.attempts == 1 for s in fibre)
    assert selectors.waiting_on(order).what == "outbox"
    order = som.fulfil(order)
    assert order.state == "completed"
    assert {i.item_id: i.state for i in order.items.all()} == {"1": "completed", "2": "cancelled"}
    assert [p[3] for p in plan(order) if p[1] == "ONT-Installation"] == ["cancelled"]


# --- 2. a service order whose first POST timed out may be at SOM: never "withdrawn" ------------------------

def timed_out_at_som(som, service_order):
    """COM's first POST timed out (a retry is due later), but SOM had created the order."""
    claimed = outbox.claim(service_order.outbox_message.pk)
    assert claimed is not None
    with transaction.atomic():
        outbox.record(claimed[0].pk, claimed[1], outcome="retry", error="ReadTimeout: read timed out")
    return som.receive(service_order)


def test_cancelling_an_order_whose_submission_timed_out_cancels_it_at_som_not_in_com(web, som):
    order = submit(web.channel, superfibre("to-1", wifiManagement=False))
    [service_order] = service_orders(order)
    timed_out_at_som(som, service_order)

    assert cancel(web, order.pk).status_code == 201

    service_order.refresh_from_db()
    message = OutboxMessage.objects.get(pk=service_order.outbox_message.pk)
    assert service_order.state == "planned" and message.status == "pending"  # SOM may have it: not withdrawn
    assert [p[3] for p in plan(order)] == ["planned", "planned"]
    # the resend is answered with the order SOM has: COM asks SOM to cancel it
    som.accept(service_order)
    assert ServiceOrderCancellation.objects.filter(service_order=service_order).exists()
    cancel_at_som(som, service_order)
    order.refresh_from_db()
    assert order.state == "cancelled" and [p[3] for p in plan(order)] == ["cancelled", "cancelled"]


def test_a_revised_plan_never_withdraws_a_service_order_whose_submission_timed_out(web, som):
    order = submit(web.channel, installation("to-2"))
    [service_order] = service_orders(order)
    timed_out_at_som(som, service_order)

    response = amend(web, order.pk, productOrderItem=[{"id": "1", "appointment": {"id": "APT-77"}}])

    assert response.json()["state"] == "done", response.content
    service_order.refresh_from_db()
    assert service_order.state == "planned"  # not withdrawn: no second version sent beside the one SOM has
    assert OutboxMessage.objects.get(pk=service_order.outbox_message.pk).status == "pending"
    assert len(service_orders(order)) == 1  # the new appointment waits for the old one to end
    som.accept(service_order)
    assert ServiceOrderCancellation.objects.filter(service_order=service_order).exists()
    cancel_at_som(som, service_order)
    order = som.fulfil(order)
    assert order.state == "completed"
    rows = ServiceOrderItem.objects.filter(order=order).order_by("sequence")
    assert [(r.state, (r.appointment or {}).get("id")) for r in rows] == [("cancelled", "APT-1"),
                                                                          ("completed", "APT-77")]
