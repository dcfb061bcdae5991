"""Order mutations on the real pipeline: a channel calling TMF622 over HTTP (the live server, a bearer token),
the Celery worker on Redis, the SOM simulator process over HTTP, PostgreSQL.

The simulator reports the catalog's milestones and refuses to cancel past the catalog's points of no return
(``catalog.demo.MILESTONES``); a ``pause`` rule holds a service right after a milestone, so each change
arrives at the moment the scenario names. ``HOLD`` pauses are cut short by the cancellation the scenario
sends (SOM stops a cancelled order at once); ``WINDOW`` pauses expire, and the order goes on.

Every test ends with ``assert_sound``: every live order waits on something, every finished one on nothing,
no request is left open on a finished order, nothing of a finished order still runs at SOM, and SOM created
each service order exactly once.
"""
import threading

import pytest
import requests
from django.contrib.auth.models import Permission
from django.db import IntegrityError, connection, transaction

from catalog.demo import MILESTONES
from comapp.errors import NotAllowed
from inventory.models import Product
from orders import selectors
from orders.models import (
    OPEN_MUTATION_STATES,
    TERMINAL_ORDER_STATES,
    Fallout,
    InboundEvent,
    MutationRequest,
    OutboxMessage,
    ProductOrder,
    ServiceOrder,
    ServiceOrderCancellation,
    ServiceOrderItem,
)
from orders.services import mutations, repairs
from tests.orders.bodies import item, order_body
from tests.tmf_schema import TMF622, assert_valid

from .conftest import wait_for, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
BASE = "/tmf-api/productOrderingManagement/v4"
HOLD = 30  # seconds: a pause the scenario's cancellation cuts short
WINDOW = 4  # seconds: a pause that expires (the scenario acts inside it)
TERMINAL_SOM = {"completed", "failed", "partial", "cancelled", "rejected"}


# --- the catalog as SOM plays it ----------------------------------------------------------------------------

def catalog_rules() -> list[dict]:
    """Every CFS reports the catalog's milestones, and SOM cannot cancel it past the catalog's point of no return."""
    rules = []
    for code, (milestones, point_of_no_return, _) in MILESTONES.items():
        rules.append({"behaviour": "milestones", "match": {"serviceSpecification": code}, "milestones": milestones})
        rules.append({"behaviour": "point_of_no_return", "match": {"serviceSpecification": code},
                      "milestone": point_of_no_return})
    return rules


def pause(code: str, seconds: float, after: str | None = None) -> dict:
    rule = {"behaviour": "pause", "match": {"serviceSpecification": code}, "seconds": seconds}
    if after:
        rule["milestone"] = after
    return rule


def behave(som, *extra: dict) -> None:
    """From now on (for service orders SOM accepts from now on): the catalog, plus these rules."""
    som.call("DELETE", "/_sim/rules")
    som.call("POST", "/_sim/rules", {"rules": catalog_rules() + list(extra)})


def sim_lines(som) -> list[tuple[str, str, str, str, str]]:
    """What SOM received and did: (externalId, service, action, item state, order state) in arrival order."""
    return [(o["externalId"], line["service"]["serviceSpecification"]["id"], line["action"], line["state"], o["state"])
            for o in som.orders() for line in o["serviceOrderItem"]]


def sim_cancels(som) -> list[dict]:
    return som.call("GET", "/tmf-api/serviceOrdering/v4/cancelServiceOrder")


# --- a channel over HTTP --------------------------------------------------------------------------------------

class Channel:
    """A sales channel calling COM's TMF622 API over HTTP with its bearer token (a connection per request: no
    server thread, and its database session, is left waiting on a kept-alive socket)."""

    def __init__(self, url: str, token: str):
        self.base = url + BASE
        self.token = token

    def call(self, method: str, url: str, **kwargs) -> requests.Response:
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {self.token}"
            return http.request(method, url, timeout=30, **kwargs)

    def order(self, body: dict) -> str:
        response = self.call("POST", f"{self.base}/productOrder", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def get(self, order_id: str) -> requests.Response:
        return self.call("GET", f"{self.base}/productOrder/{order_id}")

    def cancel(self, order_id, *, items=(), reason="customer changed their mind", key=None, if_match=None,
               dry_run=False) -> requests.Response:
        body = {"productOrder": {"id": order_id}, "cancellationReason": reason}
        if items:
            body["productOrderItem"] = [{"id": i} for i in items]
        return self.call("POST", f"{self.base}/cancelProductOrder", json=body,
                         params={"dryRun": "true"} if dry_run else {}, headers=_headers(key, if_match))

    def amend(self, order_id, *, reason="customer asked", key=None, if_match=None, **changes) -> requests.Response:
        body = {"productOrder": {"id": order_id}, "reason": reason, **changes}
        return self.call("POST", f"{self.base}/amendProductOrder", json=body, headers=_headers(key, if_match))


def _headers(key, if_match) -> dict:
    headers = {}
    if key:
        headers["Idempotency-Key"] = key
    if if_match:
        headers["If-Match"] = if_match
    return headers


@pytest.fixture
def channel(som, live_server, make_channel):
    return Channel(live_server.url, make_channel("e2e-mutations").token)


@pytest.fixture
def boss(som, django_user_model):
    """A supervisor: may approve or reject a change to an order."""
    user = django_user_model.objects.create_user(username="supervisor-1", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["approve_mutationrequest",
                                                                        "add_mutationrequest"]))
    return django_user_model.objects.get(pk=user.pk)


# --- waiting on COM -----------------------------------------------------------------------------------------

def settle(order_id: str, states=TERMINAL_ORDER_STATES, timeout=40) -> ProductOrder:
    """The order in one of these states, and what SOM still had to say about it (its last events) applied."""
    def reached():
        order = ProductOrder.objects.get(pk=order_id)
        return order if order.state in states else None

    try:
        wait_for(reached, timeout=timeout, what=f"order {order_id} to reach one of {sorted(states)}")
    except AssertionError as stuck:
        order = ProductOrder.objects.get(pk=order_id)
        raise AssertionError(f"{stuck}: it is {order.state} ({order.state_reason}); items "
                             f"{[(i.item_id, i.state) for i in order.items.all()]}; services {services(order_id)}; "
                             f"requests {list(order.mutations.values_list('kind', 'state', 'error'))}; "
                             f"waiting on {selectors.waiting_on(order)}") from None
    wait_idle(quiet_for=0.5)
    return ProductOrder.objects.get(pk=order_id)


def reached(order_id: str, code: str, milestone: str) -> ServiceOrderItem:
    """COM has heard (ServiceOrderMilestoneEvent) that the order's ``code`` service reached ``milestone``."""
    return wait_for(lambda: ServiceOrderItem.objects.filter(
        order_id=order_id, service_specification__code=code, milestone=milestone, superseded_by__isnull=True).first(),
        what=f"{code} of {order_id} at {milestone}")


def quiet(order_id: str) -> ProductOrder:
    """Every SOM event about the order applied: its version stands still while SOM pauses."""
    wait_for(lambda: not InboundEvent.objects.filter(service_order__order_id=order_id,
                                                     processed_at__isnull=True).exists(),
             what=f"SOM events of {order_id} applied")
    return ProductOrder.objects.get(pk=order_id)


def services(order_id: str) -> list[tuple[str, str, str]]:
    return [(s.service_specification.code, s.action, s.state) for s in ServiceOrderItem.objects.filter(
        order_id=order_id).select_related("service_specification").order_by("sequence")]


def approve(request_id: str, user, comment="consent checked") -> MutationRequest:
    mutations.approve_mutation(mutation_id=request_id, user=user, comment=comment)
    return MutationRequest.objects.get(pk=request_id)


def assert_sound(som) -> None:
    """The liveness and exactly-once invariants, over every order of the test."""
    wait_idle(quiet_for=0.5)
    for order in ProductOrder.objects.all():
        wait = selectors.waiting_on(order)
        if order.state in TERMINAL_ORDER_STATES:
            assert wait.what == "done", (order.pk, order.state, wait)
            assert not order.mutations.filter(state__in=OPEN_MUTATION_STATES).exists(), f"{order.pk}: request open"
            running = ServiceOrder.objects.filter(order=order).exclude(state__in=TERMINAL_SOM)
            assert not running.exists(), f"{order.pk} is {order.state} but {list(running)} still run"
        else:
            assert wait.what != "nothing", (order.pk, order.state, wait)
        if order.state == "cancelled":
            assert not Product.objects.filter(created_by_order=order, status="active").exists(), order.pk
    stats = som.stats()
    assert stats["duplicatesCreated"] == 0, stats
    assert all(entry["created"] == 1 for entry in stats["orders"].values()), stats["orders"]


# --- bodies ---------------------------------------------------------------------------------------------------

def superfibre(ext, customer="CUST-1001", **characteristics) -> dict:
    characteristics = {"downloadSpeed": 200, "wifiManagement": False, "routerModel": "Nokia Beacon 6",
                       **characteristics}
    return order_body(ext, customer=customer, productOrderItem=[item(**characteristics)])


def installation(ext, place="ADDR-1001") -> dict:
    return order_body(ext, productOrderItem=[item(offering="PO-INSTALL", place=place, installationType="standard",
                                                  appointment="APT-1")])


def fibre_with_static_ip(ext) -> dict:
    return order_body(ext, customer="CUST-3003", productOrderItem=[
        item("1", offering="PO-BIZ-FIBRE-1G", place="ADDR-3003", downloadSpeed=1000, sla="standard"),
        item("2", offering="PO-STATIC-IP", place="ADDR-3003", relationships=("1",), ipVersion="IPv4")])


# --- cancellation -------------------------------------------------------------------------------------------

def test_cancel_before_fulfilment_starts(som, channel):
    behave(som)
    order_id = channel.order(superfibre("x-held", customer="CUST-4004"))
    settle(order_id, {"held"})  # the credit check holds it: nothing decomposed, nothing sent

    response = channel.cancel(order_id)

    assert response.status_code == 201, response.text
    body = response.json()
    assert_valid(TMF622, "CancelProductOrder", body)
    assert (body["state"], body["decision"]["policyRule"], body["decision"]["executionPoint"]) == ("done", "C1", "none")
    order = ProductOrder.objects.get(pk=order_id)
    assert order.state == "cancelled" and order.cancellation_reason == "customer changed their mind"
    assert [i.state for i in order.items.all()] == ["cancelled"]
    assert channel.call("GET", body["href"]).json()["state"] == "done"
    assert som.stats()["serviceOrdersCreated"] == 0 and sim_cancels(som) == []
    assert_sound(som)


def test_cancel_after_a_task_started_before_its_point_of_no_return(som, channel):
    behave(som, pause("ONT-Installation", HOLD, after="scheduled"))  # the technician is not assigned yet
    order_id = channel.order(installation("x-inst"))
    reached(order_id, "ONT-Installation", "scheduled")

    response = channel.cancel(order_id, reason="moving house")

    body = response.json()
    assert (response.status_code, body["state"], body["decision"]["policyRule"]) == (201, "inProgress", "C2"), body
    assert [s["outcome"] for s in body["impact"]["serviceOrderItem"]] == ["cancelAtSom"]
    order = settle(order_id, timeout=20)
    assert order.state == "cancelled" and order.items.get().state == "cancelled"
    assert MutationRequest.objects.get(order_id=order_id).state == "applied"
    done = channel.call("GET", body["href"]).json()
    assert_valid(TMF622, "CancelProductOrder", done)
    assert done["state"] == "done" and done["effectiveCancellationDate"]
    assert ServiceOrderCancellation.objects.get(service_order__order_id=order_id).state == "done"
    # SOM: one service order, cancelled on the one cancelServiceOrder COM sent; nothing installed
    [cancel] = sim_cancels(som)
    assert cancel["state"] == "done"
    assert sim_lines(som) == [(f"{order_id}-SO1", "ONT-Installation", "add", "cancelled", "cancelled")]
    assert not Product.objects.filter(created_by_order_id=order_id).exists()
    assert_sound(som)


def test_cancel_after_a_router_was_dispatched_needs_approval_and_returns_it(som, channel, boss):
    behave(som, pause("CPE-Management", WINDOW, after="dispatched"))
    body = order_body("x-router", customer="CUST-3003", productOrderItem=[
        item(offering="PO-MANAGED-ROUTER", place="ADDR-3003", routerModel="Cisco C1111")])
    order_id = channel.order(body)
    reached(order_id, "CPE-Management", "dispatched")  # the router left the warehouse

    preview = channel.cancel(order_id, dry_run=True).json()
    assert preview["dryRun"] is True and preview["decision"]["outcome"] == "approval"
    assert {s["service"]: (s["point"], s["outcome"]) for s in preview["impact"]["serviceOrderItem"]} == {
        "CPE-Management": ("pastPointOfNoReturn", "compensate"),
        "Router-Configuration": ("notStarted", "cancelLocally")}
    assert not MutationRequest.objects.exists()  # a dry run records nothing

    response = channel.cancel(order_id, reason="ordered by mistake")
    answer = response.json()
    assert (answer["state"], answer["decision"]["policyRule"], answer["decision"]["approvalRequired"]) == \
        ("inProgress", "C3", True), answer
    assert ProductOrder.objects.get(pk=order_id).state == "assessingCancellation"
    request = approve(answer["id"], boss)
    assert request.state == "applying", request.error

    order = settle(order_id, timeout=30)
    assert order.state == "cancelled", services(order_id)
    assert MutationRequest.objects.get(pk=answer["id"]).state == "applied"
    assert services(order_id) == [("CPE-Management", "add", "completed"),
                                  ("Router-Configuration", "add", "cancelled"),
                                  ("CPE-Management", "delete", "completed")]
    # SOM built the router (past its point of no return nothing could stop it), then the return reached it;
    # the router's configuration never did
    assert sim_lines(som) == [(f"{order_id}-SO1", "CPE-Management", "add", "completed", "completed"),
                              (f"{order_id}-SO2", "CPE-Management", "delete", "completed", "completed")]
    assert sim_cancels(som) == []
    assert_sound(som)


def test_cancel_after_activation_terminates_the_access_and_stops_the_router(som, channel, boss):
    behave(som, pause("CPE-Management", HOLD))  # the access line is activated; the router has not started
    order_id = channel.order(superfibre("x-active"))
    wait_for(lambda: ServiceOrderItem.objects.filter(order_id=order_id, service_specification__code="Internet-Access",
                                                     state="completed").exists(), what="the access line built")
    quiet(order_id)

    answer = channel.cancel(order_id).json()

    assert (answer["decision"]["outcome"], answer["decision"]["policyRule"]) == ("approval", "C4"), answer
    assert {s["service"]: (s["point"], s["outcome"]) for s in answer["impact"]["serviceOrderItem"]} == {
        "Internet-Access": ("completed", "compensate"), "CPE-Management": ("inFlight", "cancelAtSom")}
    approve(answer["id"], boss)
    order = settle(order_id, timeout=30)
    assert order.state == "cancelled", services(order_id)
    assert services(order_id) == [("Internet-Access", "add", "completed"), ("CPE-Management", "add", "cancelled"),
                                  ("Internet-Access", "delete", "completed")]
    # SOM: the router stopped by a cancelServiceOrder, the line terminated by a delete
    assert [c["state"] for c in sim_cancels(som)] == ["done"]
    assert sim_lines(som) == [(f"{order_id}-SO1", "Internet-Access", "add", "completed", "partial"),
                              (f"{order_id}-SO1", "CPE-Management", "add", "cancelled", "partial"),
                              (f"{order_id}-SO2", "Internet-Access", "delete", "completed", "completed")]
    assert not Product.objects.filter(created_by_order_id=order_id).exists()
    assert_sound(som)


def test_cancel_only_the_static_ip_and_the_fibre_completes(som, channel):
    behave(som, pause("Static-IP", HOLD, after="allocated"))
    order_id = channel.order(fibre_with_static_ip("x-ip"))
    reached(order_id, "Static-IP", "allocated")  # sent once the access line was built

    response = channel.cancel(order_id, items=["2"], reason="no longer needs a fixed address")

    answer = response.json()
    assert answer["productOrderItem"] == [{"id": "2"}] and answer["decision"]["policyRule"] == "C2", answer
    assert [i["id"] for i in answer["impact"]["productOrderItem"]] == ["2"]
    order = settle(order_id, timeout=30)
    assert order.state == "completed"
    assert {i.item_id: i.state for i in order.items.all()} == {"1": "completed", "2": "cancelled"}
    assert ServiceOrderItem.objects.get(order_id=order_id, service_specification__code="Static-IP").state == "cancelled"
    assert list(Product.objects.filter(created_by_order_id=order_id).values_list("status", flat=True)) == ["active"]
    lines = {(spec, state) for _, spec, _, state, _ in sim_lines(som)}
    assert lines == {("Internet-Access", "completed"), ("CPE-Management", "completed"), ("SLA-Monitoring", "completed"),
                     ("Static-IP", "cancelled")}
    assert [c["state"] for c in sim_cancels(som)] == ["done"]
    assert_sound(som)


def test_cancel_the_fibre_and_the_static_ip_goes_with_it(som, channel):
    behave(som, pause("Internet-Access", HOLD, after="assigned"))
    order_id = channel.order(fibre_with_static_ip("x-fibre"))
    reached(order_id, "Internet-Access", "assigned")

    answer = channel.cancel(order_id, items=["1"]).json()

    assert {i["id"]: i["why"] for i in answer["impact"]["productOrderItem"]} == {
        "1": "targeted", "2": "relies on a cancelled item"}
    assert {s["service"]: s["outcome"] for s in answer["impact"]["serviceOrderItem"]} == {
        "Internet-Access": "cancelAtSom", "CPE-Management": "cancelAtSom", "SLA-Monitoring": "cancelAtSom",
        "Static-IP": "cancelLocally"}
    order = settle(order_id, timeout=30)
    assert order.state == "cancelled"
    assert {i.item_id: i.state for i in order.items.all()} == {"1": "cancelled", "2": "cancelled"}
    # SOM: the fibre's service order cancelled; the static IP never reached it
    assert {(spec, state, so_state) for _, spec, _, state, so_state in sim_lines(som)} == {
        ("Internet-Access", "cancelled", "cancelled"), ("CPE-Management", "cancelled", "cancelled"),
        ("SLA-Monitoring", "cancelled", "cancelled")}
    assert som.stats()["serviceOrdersCreated"] == 1 and [c["state"] for c in sim_cancels(som)] == ["done"]
    assert_sound(som)


# --- changes in flight ----------------------------------------------------------------------------------------

def test_reschedule_the_installation_before_assignment(som, channel):
    behave(som, pause("ONT-Installation", HOLD, after="scheduled"))
    order_id = channel.order(installation("r-inst"))
    reached(order_id, "ONT-Installation", "scheduled")
    behave(som)  # the new visit goes through without a pause

    response = channel.amend(order_id, productOrderItem=[{"id": "1", "appointment": {"id": "APT-77"}}])

    answer = response.json()
    assert (answer["kind"], answer["decision"]["policyRule"], answer["state"]) == ("reschedule", "R1", "done"), answer
    order = settle(order_id, timeout=30)
    assert order.state == "completed"
    assert [(s.state, (s.appointment or {}).get("id")) for s in ServiceOrderItem.objects.filter(
        order_id=order_id).order_by("sequence")] == [("cancelled", "APT-1"), ("completed", "APT-77")]
    som_orders = som.orders()
    assert [(o["externalId"], o["state"]) for o in som_orders] == [(f"{order_id}-SO1", "cancelled"),
                                                                   (f"{order_id}-SO2", "completed")]
    assert som_orders[1]["serviceOrderItem"][0]["appointment"]["id"] == "APT-77"
    assert_sound(som)


def test_change_the_address_before_activation(som, channel):
    behave(som, pause("Internet-Access", HOLD, after="assigned"))
    order_id = channel.order(superfibre("k-addr"))
    reached(order_id, "Internet-Access", "assigned")  # a port assigned, the line not yet activated
    behave(som)

    answer = channel.amend(order_id, productOrderItem=[
        {"id": "1", "product": {"place": [{"id": "ADDR-2002", "role": "installationAddress"}]}}]).json()

    assert (answer["kind"], answer["decision"]["policyRule"], answer["state"]) == ("correction", "K1", "done"), answer
    assert "serviceability" in answer["impact"]["checks"]
    order = settle(order_id, timeout=30)
    assert order.state == "completed"
    product = Product.objects.get(created_by_order_id=order_id)
    assert product.status == "active" and product.place["id"] == "ADDR-2002"
    som_orders = som.orders()
    assert [(o["externalId"], o["state"]) for o in som_orders] == [(f"{order_id}-SO1", "cancelled"),
                                                                   (f"{order_id}-SO2", "completed")]
    assert {line["service"]["place"][0]["id"] for line in som_orders[1]["serviceOrderItem"]} == {"ADDR-2002"}
    assert_sound(som)


def test_change_the_address_while_som_is_unreachable(som, channel):
    """The service order still waits in COM's outbox: it is taken back whole, and SOM only ever sees the new
    address."""
    som.stop()
    order_id = channel.order(superfibre("k-down"))
    wait_for(lambda: OutboxMessage.objects.filter(order_id=order_id, kind="serviceOrder", attempts__gte=1).exists(),
             what="a failed delivery")

    answer = channel.amend(order_id, productOrderItem=[
        {"id": "1", "product": {"place": [{"id": "ADDR-2002", "role": "installationAddress"}]}}]).json()

    assert (answer["kind"], answer["decision"]["policyRule"], answer["state"]) == ("correction", "K1", "done"), answer
    assert OutboxMessage.objects.get(dedup_key=f"{order_id}-SO1").status == "dead"
    som.start()
    behave(som)
    order = settle(order_id, timeout=40)
    assert order.state == "completed"
    assert Product.objects.get(created_by_order_id=order_id).place["id"] == "ADDR-2002"
    som_orders = som.orders()
    assert [(o["externalId"], o["state"]) for o in som_orders] == [(f"{order_id}-SO2", "completed")]
    assert {line["service"]["place"][0]["id"] for line in som_orders[0]["serviceOrderItem"]} == {"ADDR-2002"}
    assert list(som.stats()["orders"]) == [f"{order_id}-SO2"]  # the first was never posted once SOM was back
    assert_sound(som)


def test_upgrade_the_router_model_needs_approval(som, channel, boss):
    behave(som, pause("Internet-Access", WINDOW, after="assigned"))
    order_id = channel.order(superfibre("a-router"))
    reached(order_id, "Internet-Access", "assigned")

    answer = channel.amend(order_id, customerConsentRef="CALL-17", productOrderItem=[
        {"id": "1", "product": {"productCharacteristic": [{"name": "routerModel", "value": "FritzBox 7590"}]}}]).json()

    assert (answer["kind"], answer["decision"]["policyRule"], answer["state"]) == ("amendment", "A1", "inProgress")
    assert answer["impact"]["prices"]["1"]["after"] != answer["impact"]["prices"]["1"]["before"]
    assert ProductOrder.objects.get(pk=order_id).items.get().characteristics["routerModel"] == "Nokia Beacon 6"
    request = approve(answer["id"], boss)
    assert request.state == "applied", request.error
    order = settle(order_id, timeout=30)
    assert order.state == "completed"
    assert Product.objects.get(created_by_order_id=order_id).characteristics["routerModel"] == "FritzBox 7590"
    # the first router shared its service order with the access line: SOM could not cancel it alone, so it
    # was built, then changed: only the delta (a modify of the router) went to SOM
    assert [(ext[-3:], spec, action) for ext, spec, action, _, _ in sim_lines(som)] == [
        ("SO1", "Internet-Access", "add"), ("SO1", "CPE-Management", "add"), ("SO2", "CPE-Management", "modify")]
    modify = som.orders()[1]["serviceOrderItem"][0]["service"]
    assert {c["name"]: c["value"] for c in modify["serviceCharacteristic"]}["routerModel"] == "FritzBox 7590"
    assert_sound(som)


def test_supersede_an_order(som, channel, boss):
    behave(som, pause("Internet-Access", HOLD, after="assigned"))
    order_id = channel.order(superfibre("s-old"))
    reached(order_id, "Internet-Access", "assigned")
    behave(som)

    answer = channel.amend(order_id, reason="wrong speed ordered",
                           replacementOrder=superfibre("s-new", downloadSpeed=500)).json()

    assert (answer["kind"], answer["decision"]["policyRule"]) == ("supersession", "S1"), answer
    request = approve(answer["id"], boss)
    new_id = request.replacement_order_id
    assert ProductOrder.objects.get(pk=new_id).replaces_id == order_id
    assert settle(order_id, timeout=30).state == "cancelled"
    assert settle(new_id, timeout=30).state == "completed"
    detail = channel.call("GET", answer["href"]).json()
    assert detail["replacementOrder"]["id"] == new_id and detail["state"] == "done"
    assert Product.objects.get(created_by_order_id=new_id).characteristics["downloadSpeed"] == 500
    assert [(o["externalId"], o["state"]) for o in som.orders()] == [(f"{order_id}-SO1", "cancelled"),
                                                                     (f"{new_id}-SO1", "completed")]
    assert_sound(som)


def test_correct_the_contact(som, channel):
    behave(som, pause("Internet-Access", WINDOW / 2, after="assigned"))
    order_id = channel.order(superfibre("k-contact"))
    reached(order_id, "Internet-Access", "assigned")

    answer = channel.amend(order_id, notificationContact="alice@example.org").json()

    assert (answer["kind"], answer["decision"]["policyRule"], answer["state"]) == ("correction", "K1", "done"), answer
    order = settle(order_id, timeout=30)
    assert order.state == "completed" and order.notification_contact == "alice@example.org"
    assert order.events.filter(type="orderCorrected").count() == 1
    assert order.plans.count() == 1 and som.stats()["serviceOrdersCreated"] == 1  # nothing for SOM to redo
    assert_sound(som)


# --- races ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("offset", [-0.6, 0.0, 0.5])
def test_a_cancellation_racing_the_completion(som, channel, boss, offset):
    """The static IP waits, then is built in under a second; the cancellation arrives around the moment it goes
    on. Whatever wins, the order ends cancelled with what was built undone, or completed with the cancellation
    refused or overtaken: never both, never stuck."""
    import time

    behave(som, pause("Static-IP", 2.0))
    order_id = channel.order(order_body("race-ip", customer="CUST-3003", productOrderItem=[
        item(offering="PO-STATIC-IP", place="ADDR-3003", ipVersion="IPv4")]))
    wait_for(lambda: ServiceOrder.objects.filter(order_id=order_id, state="inProgress").exists(), what="SOM started")
    time.sleep(max(0.0, 2.0 + offset - 0.2))

    response = channel.cancel(order_id)
    assert response.status_code == 201, response.text
    answer = response.json()
    if answer["state"] == "inProgress" and answer["decision"]["outcome"] == "approval":
        try:
            approve(answer["id"], boss)
        except NotAllowed:
            pass  # the completion overtook it first
    order = settle(order_id, {"cancelled", "completed"}, timeout=30)
    request = MutationRequest.objects.get(pk=answer["id"])
    built = [line for line in sim_lines(som) if line[2] == "add" and line[3] == "completed"]
    if order.state == "cancelled":
        assert request.state == "applied"
        assert not Product.objects.filter(created_by_order=order, status="active").exists()
        deletes = [line for line in sim_lines(som) if line[2] == "delete"]
        # built anyway (SOM could not stop it): undone by a termination; else nothing to undo
        assert len(deletes) == len(built) and all(line[3] == "completed" for line in deletes)
    else:
        assert request.state in ("rejected", "superseded", "failed"), request.state
        assert Product.objects.get(created_by_order=order).status == "active"
        assert built and not [line for line in sim_lines(som) if line[2] == "delete"]
    assert_sound(som)


def test_an_amendment_still_awaiting_approval_when_the_order_completes_is_overtaken(som, channel, boss):
    behave(som, pause("Internet-Access", WINDOW / 2, after="assigned"))
    order_id = channel.order(superfibre("late-router"))
    reached(order_id, "Internet-Access", "assigned")
    answer = channel.amend(order_id, customerConsentRef="CALL-18", productOrderItem=[
        {"id": "1", "product": {"productCharacteristic": [{"name": "routerModel", "value": "FritzBox 7590"}]}}]).json()
    assert answer["decision"]["outcome"] == "approval", answer

    order = settle(order_id, timeout=30)  # no supervisor looked in time: built as first ordered

    assert order.state == "completed"
    detail = channel.call("GET", answer["href"]).json()
    assert detail["state"] == "terminatedWithError" and "before the request was decided" in detail["decision"]["error"]
    with pytest.raises(NotAllowed):
        approve(answer["id"], boss)
    assert Product.objects.get(created_by_order_id=order_id).characteristics["routerModel"] == "Nokia Beacon 6"
    assert som.stats()["serviceOrdersCreated"] == 1
    assert_sound(som)


def test_the_same_cancellation_sent_twice_at_once(som, channel, boss):
    behave(som, pause("ONT-Installation", HOLD, after="scheduled"), pause("CPE-Management", WINDOW, after="dispatched"))
    first_id = channel.order(installation("twice-1"))
    second_id = channel.order(superfibre("twice-2"))
    reached(first_id, "ONT-Installation", "scheduled")
    reached(second_id, "CPE-Management", "dispatched")

    def at_once(order_id, keys):
        answers, barrier = [None] * len(keys), threading.Barrier(len(keys))

        def send(index, key):
            barrier.wait()
            response = channel.cancel(order_id, key=key)
            answers[index] = (response.status_code, response.json())
            connection.close()

        threads = [threading.Thread(target=send, args=(i, k)) for i, k in enumerate(keys)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        return answers

    # the same request twice (a channel retrying on a timeout): one request, both answers name it
    same = at_once(first_id, ["case-881", "case-881"])
    assert sorted(status for status, _ in same) == [200, 201], same
    assert same[0][1]["id"] == same[1][1]["id"]
    assert MutationRequest.objects.filter(order_id=first_id).count() == 1

    # two different requests (two agents at once): one open cancellation, the other refused
    other = at_once(second_id, ["case-900", "case-901"])
    assert sorted(status for status, _ in other) == [201, 409], other
    [open_one] = MutationRequest.objects.filter(order_id=second_id)
    assert open_one.state == "pendingApproval"
    with pytest.raises(IntegrityError, match="one_open_cancellation_per_order"), transaction.atomic():
        MutationRequest.objects.create(order_id=second_id, kind="cancellation", requester="channel:direct",
                                       reason_code="CUSTOMER_REQUEST")
    mutations.reject_mutation(mutation_id=open_one.pk, user=boss, comment="the router is at the door")

    assert settle(first_id, timeout=30).state == "cancelled"
    assert settle(second_id, timeout=30).state == "completed"
    assert [c["state"] for c in sim_cancels(som)] == ["done"]  # one cancelServiceOrder, for the first order
    assert ServiceOrderCancellation.objects.count() == 1
    assert_sound(som)


def test_an_amendment_against_an_old_version_is_412(som, channel):
    behave(som, pause("Internet-Access", WINDOW, after="assigned"))
    order_id = channel.order(superfibre("stale-1"))
    seen = channel.get(order_id).headers["ETag"]
    reached(order_id, "Internet-Access", "assigned")
    quiet(order_id)

    stale = channel.amend(order_id, notificationContact="bob@example.org", if_match=seen)

    assert stale.status_code == 412, stale.text
    assert not MutationRequest.objects.filter(order_id=order_id).exists()
    assert ProductOrder.objects.get(pk=order_id).notification_contact != "bob@example.org"
    current = channel.get(order_id).headers["ETag"]
    assert current != seen
    fresh = channel.amend(order_id, notificationContact="bob@example.org", if_match=current)
    assert fresh.status_code == 201 and fresh.json()["state"] == "done", fresh.text
    order = settle(order_id, timeout=30)
    assert order.state == "completed" and order.notification_contact == "bob@example.org"
    assert_sound(som)


def test_a_customer_cancelling_while_a_fallout_repair_runs(som, channel, boss):
    behave(som, {"behaviour": "fail", "match": {"serviceSpecification": "ONT-Installation"}})
    order_id = channel.order(installation("fallout-1"))
    fallout = wait_for(lambda: Fallout.objects.filter(order_id=order_id, resolved_at__isnull=True).first(),
                       what="the failed installation in fallout")
    quiet(order_id)
    behave(som, pause("ONT-Installation", HOLD, after="scheduled"))  # a retried visit would wait for its technician

    outcomes, barrier = {}, threading.Barrier(2)

    def repair():
        barrier.wait()
        try:
            outcomes["repair"] = repairs.retry_fallout(fallout=fallout, user=boss, reason="engineer found the fault")
        except NotAllowed as refused:
            outcomes["repair"] = refused
        finally:
            connection.close()

    def cancel():
        barrier.wait()
        response = channel.cancel(order_id, reason="customer gave up")
        outcomes["cancel"] = (response.status_code, response.json())
        connection.close()

    threads = [threading.Thread(target=repair), threading.Thread(target=cancel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    status, answer = outcomes["cancel"]
    assert status == 201 and answer["decision"]["outcome"] == "apply", answer
    order = settle(order_id, timeout=30)
    assert order.state == "cancelled", (outcomes, services(order_id))
    assert MutationRequest.objects.get(order_id=order_id).state == "applied"
    assert not Fallout.objects.filter(order_id=order_id, resolved_at__isnull=True).exists()
    if isinstance(outcomes["repair"], NotAllowed):  # the cancellation went first: nothing was sent again
        assert som.stats()["serviceOrdersCreated"] == 1
    else:  # the repair went first: its new service order was withdrawn, or cancelled at SOM
        assert all(state in ("failed", "cancelled") for _, _, _, state, _ in sim_lines(som))
    assert_sound(som)
