"""Every path that used to strand an order inProgress forever (issue [3/8] item 4, a to i), one test each.

The SOM is played with the simulator's own TMF641 functions, and where the TMF641 spec allows less than our
simulator sends (an event with only the order-level state), the event is written out by hand.
"""
import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from catalog.models import DecompositionRule, ServiceSpecification
from comapp.errors import NotAllowed
from inventory import services as inventory
from inventory.models import Product
from orders import selectors, tasks
from orders.models import (
    BillingIntent,
    Fallout,
    FalloutStage,
    InboundEvent,
    OrderEvent,
    ProductOrder,
    ServiceOrderItem,
)
from orders.services import aggregation, fallouts, reconciliation
from orders.services.decomposition import decompose_order
from orders.services.holds import release_hold
from orders.services.repairs import fail_fallout, retry_fallout
from somsim import tmf as somtmf

from .bodies import item, order_body
from .flows import HttpSom, installation, plan, service_orders, submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")


def minimal_event(som_order_id: str, state: str, event_type="ServiceOrderStateChangeEvent", **service_order) -> dict:
    """The least TMF641 requires of an event: an id, a type, and the service order with its state."""
    return {"eventId": f"min-{uuid.uuid4()}", "eventType": event_type,
            "event": {"serviceOrder": {"id": som_order_id, "state": state, **service_order}}}


def open_fallouts(order):
    return list(Fallout.objects.filter(order=order, resolved_at__isnull=True).order_by("id"))


def agent(django_user_model, name="agent-x"):
    return django_user_model.objects.create_user(username=name, password="pw", is_staff=True)


# --- a. an event with only the order-level state ---------------------------------------------------------

def test_a_final_order_level_event_without_items_completes_the_order(web, som, settings,
                                                                    django_capture_on_commit_callbacks):
    order = submit(web.channel, superfibre(wifiManagement=False))
    [service_order] = service_orders(order)
    som_order = som.accept(service_order)
    som.start(service_order)
    for line in som_order["serviceOrderItem"]:
        somtmf.complete_item(som.orders[service_order.pk], line["id"])  # SOM built them, and says only...

    with django_capture_on_commit_callbacks() as callbacks:
        som.report(minimal_event(som_order["id"], "completed"))  # ...that the service order is completed

    order.refresh_from_db()
    # COM reads it back to learn how its items ended (the second task queued: the first applies the event)
    assert order.state == "inProgress" and len(callbacks) == 2
    http_som = HttpSom(som)
    settings.COM_SOM_ENDPOINTS = {"default": {"url": http_som.url, "secret": settings.COM_SOM_EVENT_SECRET}}
    try:
        reconciliation.read_back(service_order_id=service_order.pk)
    finally:
        http_som.close()
    order.refresh_from_db()
    assert order.state == "completed"
    assert [p[3] for p in plan(order)] == ["completed", "completed"]
    product = Product.objects.get(created_by_order=order)
    assert product.status == "active" and all(s["service_id"] for s in product.realizing_services)


def test_when_som_cannot_be_read_back_the_items_follow_the_order(web, som, settings):
    settings.COM_SOM_ENDPOINTS = {"default": {"url": "http://127.0.0.1:9/som", "secret": settings.COM_SOM_EVENT_SECRET}}
    settings.COM_HTTP_TIMEOUT = 1
    order = submit(web.channel, superfibre(wifiManagement=False))
    [service_order] = service_orders(order)
    som_order = som.accept(service_order)
    som.report(minimal_event(som_order["id"], "completed"))

    assert "completed" in reconciliation.read_back(service_order_id=service_order.pk)
    order.refresh_from_db()
    assert order.state == "completed" and [p[3] for p in plan(order)] == ["completed", "completed"]


def test_a_partial_order_level_event_without_items_is_read_back(web, som, settings):
    order = submit(web.channel, superfibre(wifiManagement=False))
    [service_order] = service_orders(order)
    som_order = som.accept(service_order)
    som.start(service_order)
    access, cpe = [line["id"] for line in som_order["serviceOrderItem"]]
    som.complete(service_order, access)
    # SOM finishes CPE-Management as failed, but its final event says only "partial"
    somtmf.fail_item(som.orders[service_order.pk], cpe, "NO_STOCK", "no CPE in stock", somtmf.utc_now())
    som.report(minimal_event(som_order["id"], "partial"))
    order.refresh_from_db()
    assert order.state == "inProgress"  # partial says nothing about which item: not guessed
    assert service_orders(order)[0].state == "partial"

    http_som = HttpSom(som)
    try:
        settings.COM_SOM_ENDPOINTS = {"default": {"url": http_som.url, "secret": settings.COM_SOM_EVENT_SECRET}}
        outcome = reconciliation.read_back(service_order_id=service_order.pk)
    finally:
        http_som.close()

    assert "failed" in outcome
    # CPE-Management failed with retries left (its policy): a retry went out; the read-back unblocked the order
    assert [p[3] for p in plan(order)] == ["completed", "planned"]
    assert len(service_orders(order)) == 2


def test_a_failed_order_level_event_without_items_applies_the_failure_policy(web, som, settings):
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    som_order = som.accept(service_order)
    som.report(minimal_event(som_order["id"], "failed", errorMessage=[{"code": "TECH", "reason": "no technician"}]))
    # the read-back finds a SOM that says no more about its item than the event did
    som.orders[service_order.pk]["serviceOrderItem"] = []
    som.orders[service_order.pk]["state"] = "failed"
    http_som = HttpSom(som)
    settings.COM_SOM_ENDPOINTS = {"default": {"url": http_som.url, "secret": settings.COM_SOM_EVENT_SECRET}}
    try:
        reconciliation.read_back(service_order_id=service_order.pk)
    finally:
        http_som.close()

    order.refresh_from_db()
    assert order.state == "held"  # ONT-Installation: no retries, fallout policy
    [fallout] = open_fallouts(order)
    assert fallout.reason_code == "SERVICE_FAILED" and fallout.service_order_item.state == "failed"


# --- b. SOM reporting an item cancelled, partial, or something the machine has no move for ------------------

@pytest.mark.parametrize("reported,reason_code", [("partial", "SERVICE_PARTIAL"), ("cancelled", "SOM_CANCELLED")])
def test_an_item_ended_partial_or_cancelled_by_som_goes_to_fallout(web, som, reported, reason_code):
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    som_order = som.accept(service_order)
    som.start(service_order)
    line = som_order["serviceOrderItem"][0]

    som.report(minimal_event(som_order["id"], "inProgress", event_type="ServiceOrderAttributeValueChangeEvent",
                             serviceOrderItem=[{"id": line["id"], "state": reported, "action": "add"}]))

    order.refresh_from_db()
    [service] = ServiceOrderItem.objects.filter(order=order)
    assert service.state == reported
    [fallout] = open_fallouts(order)
    assert fallout.reason_code == reason_code and fallout.service_order_item == service
    assert order.state == "held" and order.items.get().state == "held"


def test_som_changing_its_mind_about_a_finished_item_goes_to_fallout(web, som):
    order = submit(web.channel, superfibre(wifiManagement=False))
    [service_order] = service_orders(order)
    som_order = som.accept(service_order)
    som.start(service_order)
    access = som_order["serviceOrderItem"][0]["id"]
    som.complete(service_order, access)

    som.report(minimal_event(som_order["id"], "inProgress", event_type="ServiceOrderAttributeValueChangeEvent",
                             serviceOrderItem=[{"id": access, "state": "failed", "action": "add"}]))

    [fallout] = open_fallouts(order)
    assert fallout.reason_code == "UNEXPECTED_SOM_STATE"
    assert fallout.service_order_item.state == "completed"  # never moved back


# --- c. a service relying on one that failed for good ------------------------------------------------------

def fibre_and_static_ip(ext="fip-1", customer="CUST-3003", place="ADDR-3003"):
    return order_body(ext, customer=customer, productOrderItem=[
        item("1", offering="PO-BIZ-FIBRE-1G", place=place, downloadSpeed=1000, sla="standard"),
        item("2", offering="PO-STATIC-IP", place=place, relationships=("1",), ipVersion="IPv4"),
    ])


def test_a_service_relying_on_a_failed_one_is_cancelled_never_sent_and_its_item_falls_out(web, som):
    som.fail("Internet-Access")  # fails every attempt: retries spent, its policy compensates
    order = som.fulfil(submit(web.channel, fibre_and_static_ip()))

    static_ip = ServiceOrderItem.objects.get(order=order, service_specification__code="Static-IP")
    assert static_ip.state == "cancelled" and static_ip.attempts == 0 and static_ip.service_order is None
    assert static_ip.error["code"] == "DEPENDENCY_FAILED"
    [fallout] = open_fallouts(order)
    assert fallout.reason_code == "DEPENDENCY_FAILED" and list(fallout.items.all()) == [order.items.get(item_id="2")]
    order.refresh_from_db()
    assert order.state == "held" and order.items.get(item_id="1").state == "failed"
    # nothing is stranded: the agent gives up on the static IP and the order ends
    fail_fallout(fallout=fallout, user=None, reason="no access line")
    order.refresh_from_db()
    assert order.state == "failed"


# --- d. a fallout on a CFS shared by several product items -----------------------------------------------

def two_products_sharing_cpe(ext="share-1"):
    return order_body(ext, customer="CUST-3003", productOrderItem=[
        item("1", offering="PO-BIZ-FIBRE-1G", place="ADDR-3003", downloadSpeed=1000, sla="standard"),
        item("2", offering="PO-MANAGED-ROUTER", place="ADDR-3003", routerModel="Cisco C1111"),
    ])


def test_a_shared_service_falling_out_is_one_fallout_and_one_repair_resolves_it(web, som, django_user_model):
    ServiceSpecification.objects.filter(code="CPE-Management").update(failure_policy="fallout", max_retries=0)
    som.fail("CPE-Management", times=1)
    order = som.fulfil(submit(web.channel, two_products_sharing_cpe()))

    [fallout] = open_fallouts(order)
    cpe = fallout.service_order_item
    assert cpe.service_specification_id and cpe.product_items.count() == 2
    assert sorted(i.item_id for i in fallout.items.all()) == ["1", "2"]
    assert sorted(order.items.values_list("state", flat=True)) == ["held", "held"]

    user = agent(django_user_model)
    retry_fallout(fallout=fallout, user=user, reason="port freed")
    order = som.fulfil(order)
    assert order.state == "completed"
    # a second repair of the same fallout is refused with a message, never an error page
    with pytest.raises(NotAllowed, match="already resolved"):
        retry_fallout(fallout=fallout, user=user)


def test_retrying_a_service_still_running_at_som_is_refused_with_a_message(web, som, django_user_model):
    order = submit(web.channel, installation())
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    service = ServiceOrderItem.objects.get(order=order)
    with transaction.atomic():
        fallout = fallouts.open_service_fallout(order, service, reason_code="SERVICE_FAILED", message="odd",
                                                actor="system")
    with pytest.raises(NotAllowed, match="still inProgress at SOM"):
        retry_fallout(fallout=fallout, user=agent(django_user_model))


# --- e. an add item whose plan is empty --------------------------------------------------------------------

def test_an_item_the_catalog_cannot_build_at_the_address_is_refused_at_checks(web):
    # ADDR-4004 has only ADSL; the installation has rules for GPON and HFC only
    order = submit(web.channel, order_body("inst-adsl", customer="CUST-1001", productOrderItem=[
        item(offering="PO-INSTALL", place="ADDR-4004", installationType="standard", appointment="APT-9")]))
    assert order.state == "rejected" and order.state_reason_code == "NOT_SERVICEABLE"
    assert "cannot be built with ADSL" in order.state_reason


def test_an_add_item_given_nothing_to_build_goes_to_fallout_not_completed(web):
    order = submit(web.channel, installation())
    ServiceOrderItem.objects.filter(order=order).delete()
    order.plans.all().delete()
    DecompositionRule.objects.filter(specification__spec_id="PS-INSTALL").delete()  # a catalog gap
    with transaction.atomic():
        order = ProductOrder.objects.select_for_update().get(pk=order.pk)
        decompose_order(order, actor="system")
        aggregation.refresh_states(order, actor="system")

    order.refresh_from_db()
    [fallout] = open_fallouts(order)
    assert fallout.reason_code == "PLAN_EMPTY" and fallout.stage == FalloutStage.PLANNING
    assert order.state == "held" and not BillingIntent.objects.filter(order=order).exists()


# --- f. an inventory write that fails ----------------------------------------------------------------------

def completed_superfibre(web, som, ext="base-1"):
    order = som.fulfil(submit(web.channel, superfibre(ext, wifiManagement=False)))
    assert order.state == "completed"
    return Product.objects.get(created_by_order=order)


def modify_speed(product, ext, speed=500):
    return order_body(ext, productOrderItem=[item(action="modify", product_id=product.pk, place=None,
                                                  downloadSpeed=speed)])


def test_an_inventory_write_refused_goes_to_fallout_not_an_endless_retry(web, som, django_user_model):
    product = completed_superfibre(web, som)
    order = submit(web.channel, modify_speed(product, "mod-1"))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    # meanwhile the product is terminated elsewhere
    with transaction.atomic():
        inventory.terminate_product(product_id=product.pk, order=order, item=order.items.get())

    som.run(service_order)

    order.refresh_from_db()
    assert order.state == "held"
    [fallout] = open_fallouts(order)
    assert fallout.reason_code == "INVENTORY_CONFLICT" and fallout.stage == FalloutStage.COMPLETION
    assert "terminated" in fallout.message
    assert all(e.status == "processed" for e in InboundEvent.objects.filter(service_order__order=order))
    with pytest.raises(NotAllowed, match="Inventory still refuses"):
        retry_fallout(fallout=fallout, user=agent(django_user_model))
    assert Fallout.objects.get(pk=fallout.pk).is_open


# --- g. two in-flight orders on the same product -----------------------------------------------------------

def test_a_second_order_on_a_product_in_flight_waits_and_no_update_is_lost(web, som):
    product = completed_superfibre(web, som)
    first = submit(web.channel, modify_speed(product, "mod-a", speed=500))
    second = submit(web.channel, order_body("mod-b", productOrderItem=[
        item(action="modify", product_id=product.pk, place=None, wifiManagement=True)]))
    assert first.state == "inProgress"
    assert second.state == "held" and second.state_reason_code == "PRODUCT_IN_FLIGHT"
    assert second.items.get().product_version == 1

    som.fulfil(first)
    product.refresh_from_db()
    assert product.version == 2 and product.characteristics["downloadSpeed"] == 500
    # the first ended: the recheck_orders_waiting_for task queues a recheck of each order that waited for the
    # product; those recheck tasks run, and the second is re-pinned and goes on
    waiting = list(selectors.orders_held_for_products([product.pk]).values_list("pk", flat=True))
    assert waiting == [second.pk]
    for order_id in waiting:
        assert not tasks.recheck_order(order_id, "productReleased").startswith(("skipped", "error"))
    second.refresh_from_db()
    assert second.state == "inProgress" and second.items.get().product_version == 2
    assert second.check_runs.count() == 2

    som.fulfil(second)
    product.refresh_from_db()
    assert product.version == 3
    assert product.characteristics["downloadSpeed"] == 500 and product.characteristics["wifiManagement"] is True


def test_completion_refuses_a_product_changed_since_validation(web, som):
    product = completed_superfibre(web, som)
    order = submit(web.channel, modify_speed(product, "mod-c"))
    Product.objects.filter(pk=product.pk).update(version=7)  # changed behind COM's back
    som.fulfil(order)

    order.refresh_from_db()
    [fallout] = open_fallouts(order)
    assert fallout.reason_code == "PRODUCT_CHANGED" and "version 7" in fallout.message
    assert order.state == "held"


def test_a_held_order_waiting_for_a_product_cannot_be_released_early(web, som, django_user_model):
    product = completed_superfibre(web, som)
    submit(web.channel, modify_speed(product, "mod-d"))
    second = submit(web.channel, modify_speed(product, "mod-e", speed=100))
    with pytest.raises(NotAllowed, match="waits for"):
        release_hold(order=second, user=agent(django_user_model), reason="hurry")


# --- h. quantity reaches inventory and billing -------------------------------------------------------------

def test_quantity_reaches_inventory_and_billing(web, som):
    base = completed_superfibre(web, som)
    body = order_body("ips-3", productOrderItem=[{**item(offering="PO-STATIC-IP", ipVersion="IPv4"), "quantity": 3}])
    order = som.fulfil(submit(web.channel, body))
    assert order.state == "completed", order.state_reason

    product = Product.objects.get(created_by_order=order)
    assert product.quantity == 3
    intent = BillingIntent.objects.get(order=order)
    assert intent.quantity == 3 and intent.action == "activate"
    [monthly] = intent.prices
    assert Decimal(monthly["unit_amount"]) == Decimal("5.00") and Decimal(monthly["amount"]) == Decimal("15.00")
    assert base.status == "active"


# --- i. giving up on a fallout undoes what was built ----------------------------------------------------

def test_failing_a_fallout_deletes_the_services_already_built_for_the_item(web, som, django_user_model):
    ServiceSpecification.objects.filter(code="CPE-Management").update(failure_policy="fallout", max_retries=0)
    som.fail("CPE-Management", times=1)
    order = som.fulfil(submit(web.channel, superfibre("undo-1", wifiManagement=False)))
    [fallout] = open_fallouts(order)
    access = ServiceOrderItem.objects.get(order=order, service_specification__code="Internet-Access")
    assert access.state == "completed"

    fail_fallout(fallout=fallout, user=agent(django_user_model), reason="customer gave up")

    undo = ServiceOrderItem.objects.get(order=order, compensates=access)
    assert undo.action == "delete" and undo.service_id == access.service_id and undo.state == "planned"
    assert service_orders(order)[-1].purpose == "compensate"
    order = som.fulfil(order)
    assert order.state == "failed"
    assert not Product.objects.filter(created_by_order=order).exists()
    assert order.events.filter(type=OrderEvent.Type.COMPENSATION_STARTED).exists()
