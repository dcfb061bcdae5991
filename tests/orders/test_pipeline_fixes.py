"""Regressions found by a review of the fulfilment pipeline (withdrawing, fallouts overtaken by SOM, sweeps,
poison events, callbacks): each test shows the unhappy path that used to strand or mislead, on COM's real
services with the SOM played as ``flows`` does."""
import pytest

from orders import selectors
from orders.models import OutboxMessage, ServiceOrderItem

from .bodies import item, order_body
from .flows import plan, service_orders, submit
from .test_mutations import cancel

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
