"""The mutation policy matrix (orders/policy/mutation_policy.json), row by row.

For every row of the file, a real order is brought (through the API and the SOM played in-process) to a
state and an execution point that row covers, the mutation of that row's kind is requested as a channel
requests it, and the request records that row and its decision. The rows are read from the file: a new row
without a scenario here fails.
"""
import json

import pytest

from orders import policy
from orders.models import MutationKind, MutationRequest, OrderState, ProductOrder

from orders.services import mutations

from .flows import installation, service_orders, submit, superfibre
from .test_desk_services import completion_draft, in_fallout
from .test_mutations import amend, cancel, line_of, milestone

pytestmark = pytest.mark.usefixtures("demo")
ROWS = json.loads(policy.POLICY_FILE.read_text())["rows"]
NEW_ROUTER = {"productOrderItem": [{"id": "1", "product": {"productCharacteristic": [
    {"name": "routerModel", "value": "FritzBox 7590"}]}}], "customerConsentRef": "CALL-1"}
NEW_ADDRESS = {"productOrderItem": [{"id": "1", "product": {"place": [{"id": "ADDR-2002"}]}}]}
NEW_VISIT = {"productOrderItem": [{"id": "1", "appointment": {"id": "APT-9"}}]}


# --- orders in the states and execution points the rows name ---------------------------------------------

def in_flight(web, som, ext):
    """A broadband order at SOM, nothing past a point of no return (the access line and router in progress)."""
    order = submit(web.channel, superfibre(ext, wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    return order, service_order


def router_dispatched(web, som, ext):
    """The router left the warehouse: CPE-Management past its point of no return (dispatched)."""
    order, service_order = in_flight(web, som, ext)
    milestone(som, service_order, line_of(som, service_order, "CPE-Management"), "dispatched")
    return order


def line_built(web, som, ext):
    """The access line is built (completed), the router still in progress."""
    order, service_order = in_flight(web, som, ext)
    som.complete(service_order, line_of(som, service_order, "Internet-Access"))
    return order


def visit(web, som, ext, reached):
    """An installation visit at SOM that reached a milestone (scheduled: before its point of no return)."""
    order = submit(web.channel, installation(ext))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    milestone(som, service_order, line_of(som, service_order, "ONT-Installation"), reached)
    return order


def replacement(ext):
    return {"reason": "wrong speed ordered", "replacementOrder": superfibre(ext, downloadSpeed=500)}


# --- one scenario per row: (the order, the request the channel sends) -> the response ------------------------

def scenario_t1(web, som, users):  # any change to a finished order
    order = som.fulfil(submit(web.channel, installation("p-t1")))
    assert order.state == OrderState.COMPLETED
    return cancel(web, order.pk)


def scenario_t2(web, som, users):  # any change while a cancellation awaits a supervisor
    order = router_dispatched(web, som, "p-t2")
    assert cancel(web, order.pk).json()["decision"]["policyRule"] == "C3"
    order.refresh_from_db()
    assert order.state == OrderState.ASSESSING_CANCELLATION
    return amend(web, order.pk, notificationContact="alice@example.org")


def scenario_c1(web, som, users):  # held by the credit check: nothing decomposed
    order = submit(web.channel, superfibre("p-c1", customer="CUST-4004"))
    assert order.state == OrderState.HELD
    return cancel(web, order.pk)


def scenario_c2(web, som, users):  # the visit scheduled, no technician assigned yet
    return cancel(web, visit(web, som, "p-c2", "scheduled").pk)


def scenario_c3(web, som, users):
    return cancel(web, router_dispatched(web, som, "p-c3").pk)


def scenario_c4(web, som, users):
    return cancel(web, line_built(web, som, "p-c4").pk)


def scenario_k1(web, som, users):
    order, _ = in_flight(web, som, "p-k1")
    return amend(web, order.pk, notificationContact="alice@example.org")


def scenario_k2(web, som, users):  # moving the line once the router left: no longer a correction
    return amend(web, router_dispatched(web, som, "p-k2").pk, **NEW_ADDRESS)


def scenario_a1(web, som, users):
    order, _ = in_flight(web, som, "p-a1")
    return amend(web, order.pk, **NEW_ROUTER)


def scenario_a2(web, som, users):
    return amend(web, router_dispatched(web, som, "p-a2").pk, **NEW_ROUTER)


def scenario_a3(web, som, users):  # a faster line (priced) once the line is built
    return amend(web, line_built(web, som, "p-a3").pk, productOrderItem=[
        {"id": "1", "product": {"productCharacteristic": [{"name": "downloadSpeed", "value": 500}]}}])


def scenario_r1(web, som, users):
    return amend(web, visit(web, som, "p-r1", "scheduled").pk, **NEW_VISIT)


def scenario_r2(web, som, users):  # the technician is assigned
    return amend(web, visit(web, som, "p-r2", "assigned").pk, **NEW_VISIT)


def scenario_s1(web, som, users):
    order, _ = in_flight(web, som, "p-s1")
    return amend(web, order.pk, **replacement("p-s1-new"))


def scenario_s2(web, som, users):
    return amend(web, router_dispatched(web, som, "p-s2").pk, **replacement("p-s2-new"))


def scenario_m1(web, som, users):
    """A service in fallout, done by hand: the agent asks at the desk (no channel asks for it over the API)."""
    order, fallout = in_fallout(web, som, ext="p-m1")
    mutation, _ = mutations.request_mutation(order_id=order.pk, draft=completion_draft(fallout), actor="user:agent",
                                             user=users.objects.get(username="agent"))
    return mutation


def scenario_z(web, som, users):
    """No real order reaches the catch-all today: every kind has rows for every live state and execution point
    but one, an acknowledged order with work at SOM, which COM's state machine cannot produce (services are
    planned only once an order has started). The state is forged to that combination to prove that it is
    refused, not let through."""
    order, _ = in_flight(web, som, "p-z")
    ProductOrder.objects.filter(pk=order.pk).update(state=OrderState.ACKNOWLEDGED)
    return cancel(web, order.pk)


SCENARIOS = {"T1": scenario_t1, "T2": scenario_t2, "C1": scenario_c1, "C2": scenario_c2, "C3": scenario_c3,
             "C4": scenario_c4, "K1": scenario_k1, "K2": scenario_k2, "A1": scenario_a1, "A2": scenario_a2,
             "A3": scenario_a3, "R1": scenario_r1, "R2": scenario_r2, "S1": scenario_s1, "S2": scenario_s2,
             "M1": scenario_m1, "Z": scenario_z}


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_every_row_decides_a_real_request(row, web, som, django_user_model):
    scenario = SCENARIOS.get(row["id"])
    if scenario is None:
        pytest.fail(f"policy row {row['id']} has no scenario in {__name__}: add one")

    response = scenario(web, som, django_user_model)

    if isinstance(response, MutationRequest):  # requested at the desk
        request = MutationRequest.objects.get(pk=response.pk)
    else:
        assert response.status_code == 201, response.content
        request = MutationRequest.objects.get(pk=response.json()["id"])
        assert response.json()["decision"]["policyRule"] == row["id"]
    assert (request.policy_rule, request.decision) == (row["id"], row["decision"]), request.assessment
    if row["kind"] != "*":
        assert request.kind == row["kind"]
    state = {"apply": ["applying", "applied"], "approval": ["pendingApproval"], "refuse": ["rejected"]}
    assert request.state in state[row["decision"]], request.state


def test_the_file_ends_with_a_catch_all_that_refuses():
    last = ROWS[-1]
    assert (last["kind"], last["orderStates"], last["executionPoints"], last["decision"]) == ("*", ["*"], ["*"],
                                                                                                "refuse")
    assert not any(row["kind"] == "*" and row["orderStates"] == ["*"] and row["executionPoints"] == ["*"]
                   for row in ROWS[:-1]), "a catch-all before the end hides every row after it"
    assert policy.decide("anything", "anyState", "anyPoint").id == last["id"]


def test_every_name_in_the_file_is_one_the_code_knows():
    kinds = {k.value for k in MutationKind} | {"*"}
    states = {s.value for s in OrderState} | {"terminal", "*"}
    ids = [row["id"] for row in ROWS]
    assert len(ids) == len(set(ids)), "row ids are unique"
    for row in ROWS:
        assert row["kind"] in kinds, row
        assert set(row["orderStates"]) <= states, row
        assert set(row["executionPoints"]) <= {*policy.EXECUTION_POINTS, "*"}, row
        assert row["decision"] in policy.DECISIONS, row
        assert row["reason"].strip(), row
        assert isinstance(row.get("compensation", False), bool), row
    assert [r.id for r in policy.rows()] == ids  # the loader reads every row, in order


def test_a_row_naming_an_unknown_decision_or_execution_point_is_refused_at_load(tmp_path, monkeypatch):
    for bad in ({"decision": "maybe"}, {"executionPoints": ["halfway"]}):
        raw = {"rows": [{"id": "X", "kind": "*", "orderStates": ["*"], "executionPoints": ["*"],
                         "decision": "refuse", "reason": "r", **bad}]}
        path = tmp_path / "policy.json"
        path.write_text(json.dumps(raw))
        monkeypatch.setattr(policy, "POLICY_FILE", path)
        policy.rows.cache_clear()
        with pytest.raises(ValueError, match="malformed"):
            policy.rows()
    policy.rows.cache_clear()


def test_a_refused_request_changes_nothing_and_says_why(web, som):
    order = router_dispatched(web, som, "p-why")
    order.refresh_from_db()
    before = order.version
    response = amend(web, order.pk, **NEW_ROUTER)
    body = response.json()
    assert body["state"] == "terminatedWithError" and body["decision"]["reason"] == next(
        row["reason"] for row in ROWS if row["id"] == "A2")
    order.refresh_from_db()
    assert order.items.get().characteristics["routerModel"] != "FritzBox 7590"
    assert order.plans.count() == 1 and order.version == before + 1  # only the refusal's record

