"""The behaviours added for COM's fault suite: order_level_only, item_state,
drop_events, milestones and pause (cancellation has its own file)."""

import json
import signal
import time

import pytest

from .support import (
    LISTENER_PATH,
    MILESTONE,
    STATE_CHANGE,
    VALUE_CHANGE,
    Sim,
    event_states,
    final_order,
    order_payload,
    wait_until,
)

# -- rule validation --------------------------------------------------------------------


MALFORMED_RULES = [
    {"behaviour": "item_state"},
    {"behaviour": "item_state", "state": "completed"},
    {"behaviour": "item_state", "state": "held"},
    {"behaviour": "item_state", "state": "pending", "seconds": -1},
    {"behaviour": "milestones"},
    {"behaviour": "milestones", "milestones": []},
    {"behaviour": "milestones", "milestones": "reserved"},
    {"behaviour": "milestones", "milestones": ["reserved", ""]},
    {"behaviour": "milestones", "milestones": ["reserved", "reserved"]},
    {"behaviour": "milestones", "milestones": ["reserved"], "seconds": "1"},
    {"behaviour": "pause"},
    {"behaviour": "pause", "seconds": 1, "milestone": ""},
    {"behaviour": "pause", "seconds": 1, "milestone": 3},
    {"behaviour": "point_of_no_return"},
    {"behaviour": "point_of_no_return", "milestone": " "},
    {"behaviour": "drop_events"},
    {"behaviour": "drop_events", "probability": 1.5},
    {"behaviour": "drop_events", "probability": -0.1},
    {"behaviour": "drop_events", "probability": "0.5"},
    {"behaviour": "drop_events", "probability": True},
    {"behaviour": "drop_events", "probability": 0.5, "seed": "x"},
    {"behaviour": "drop_events", "probability": 0.5, "seed": 1.5},
    {"behaviour": "order_level_only", "match": {"state": "x"}},
]


def test_malformed_new_rules_are_rejected(sim):
    # one simulator for all the cases: starting one per case would cost more than the checks
    for rule in MALFORMED_RULES:
        status, _, error = sim.request("POST", "/_sim/rules", rule)
        assert (status, error["@type"]) == (400, "Error"), rule
        assert error["message"], rule
    # a list with one bad rule adds none of them
    status, _, _ = sim.request("POST", "/_sim/rules", {"rules": [
        {"behaviour": "order_level_only"}, MALFORMED_RULES[0]]})
    assert status == 400
    assert sim.request("GET", "/_sim/rules")[2] == []


def test_new_rules_are_listed_with_their_parameters(sim):
    rules = sim.add_rules(
        {"behaviour": "order_level_only", "match": {"externalIdPrefix": "lean-"}},
        {"behaviour": "item_state", "state": "held", "seconds": 0.5},
        {"behaviour": "item_state", "state": "cancelled"},
        {"behaviour": "drop_events", "probability": 0.25, "seed": 7},
        {"behaviour": "milestones", "milestones": ["reserved", "dispatched"], "seconds": 0.2,
         "match": {"serviceSpecification": "CPE-Management"}},
        {"behaviour": "pause", "milestone": "reserved", "seconds": 5},
        {"behaviour": "pause", "seconds": 1},
        {"behaviour": "point_of_no_return", "milestone": "dispatched"})
    assert [{k: v for k, v in rule.items() if k != "id"} for rule in rules] == [
        {"behaviour": "order_level_only", "match": {"externalIdPrefix": "lean-"}},
        {"behaviour": "item_state", "match": {}, "state": "held", "seconds": 0.5},
        {"behaviour": "item_state", "match": {}, "state": "cancelled"},
        {"behaviour": "drop_events", "match": {}, "probability": 0.25, "seed": 7},
        {"behaviour": "milestones", "match": {"serviceSpecification": "CPE-Management"},
         "milestones": ["reserved", "dispatched"], "seconds": 0.2},
        {"behaviour": "pause", "match": {}, "milestone": "reserved", "seconds": 5.0},
        {"behaviour": "pause", "match": {}, "seconds": 1.0},
        {"behaviour": "point_of_no_return", "match": {}, "milestone": "dispatched"},
    ]


# -- order_level_only -------------------------------------------------------------------


def test_order_level_only_events_carry_no_items_but_get_has_them(sim, listener):
    sim.add_rules({"behaviour": "order_level_only", "match": {"serviceSpecification": "CFS_TV"}},
                  {"behaviour": "fail", "match": {"serviceSpecification": "CFS_TV"}})
    lean = sim.post_order(order_payload("lean-1", ("1", "add", "CFS_INTERNET"),
                                        ("2", "add", "CFS_TV")))[2]
    normal = sim.post_order(order_payload("full-1"))[2]
    records = listener.wait_for_order(lean["id"], 4)
    listener.wait_for_order(normal["id"], 3)

    assert [(r.type, r.order["state"]) for r in records] == [
        (STATE_CHANGE, "inProgress"), (VALUE_CHANGE, "inProgress"),
        (VALUE_CHANGE, "inProgress"), (STATE_CHANGE, "partial")]
    for record in records:
        assert "serviceOrderItem" not in record.order
        assert record.order["id"] == lean["id"] and record.order["externalId"] == "lean-1"
        assert record.order["href"] == lean["href"] and record.order["@type"] == "ServiceOrder"
    # order-level fields stay, such as the order's errorMessage naming the failed item
    assert records[-1].order["errorMessage"][0]["serviceOrderItem"][0]["itemId"] == "2"
    fetched = sim.order(lean["id"])
    assert {i["id"]: i["state"] for i in fetched["serviceOrderItem"]} == {
        "1": "completed", "2": "failed"}
    assert all("serviceOrderItem" in r.order for r in listener.for_order(normal["id"]))


# -- item_state -------------------------------------------------------------------------


@pytest.mark.parametrize("states, expected", [
    ({"CFS_TV": "cancelled"}, "partial"),
    ({"CFS_TV": "cancelled", "CFS_INTERNET": "cancelled"}, "cancelled"),
    ({"CFS_TV": "cancelled", "CFS_INTERNET": "failed"}, "failed"),
    ({"CFS_TV": "partial", "CFS_INTERNET": "failed"}, "partial"),
    ({"CFS_TV": "failed", "CFS_INTERNET": "failed"}, "failed"),
    ({}, "completed"),
])
def test_item_state_final_states_and_the_derived_order_state(sim, listener, states, expected):
    sim.add_rules(*[{"behaviour": "item_state", "state": state,
                     "match": {"serviceSpecification": spec}} for spec, state in states.items()])
    order = sim.post_order(order_payload("ext-states", ("1", "add", "CFS_INTERNET"),
                                         ("2", "add", "CFS_TV")))[2]
    records = listener.wait_for_order(order["id"], 4)
    item_states = {"1": states.get("CFS_INTERNET", "completed"),
                   "2": states.get("CFS_TV", "completed")}
    assert event_states(records)[1:] == [
        (VALUE_CHANGE, "inProgress", {"1": item_states["1"], "2": "inProgress"}),
        (VALUE_CHANGE, "inProgress", item_states),
        (STATE_CHANGE, expected, item_states)]
    final = sim.order(order["id"])
    assert final["state"] == expected
    failed = [i for i in final["serviceOrderItem"] if i["state"] == "failed"]
    assert all(i["errorMessage"][0]["code"] == "SIM-FAIL" for i in failed)
    assert ("cancellationDate" in final) == (expected == "cancelled")


@pytest.mark.parametrize("state", ["held", "pending"])
def test_held_and_pending_items_wait_then_complete(sim, listener, state):
    sim.add_rules({"behaviour": "item_state", "state": state, "seconds": 0.4,
                   "match": {"serviceSpecification": "CFS_TV"}})
    order = sim.post_order(order_payload("ext-" + state, ("1", "add", "CFS_TV"),
                                         ("2", "add", "CFS_INTERNET")))[2]
    records = listener.wait_for_order(order["id"], 6)
    assert event_states(records) == [
        (STATE_CHANGE, "inProgress", {"1": "inProgress", "2": "inProgress"}),
        (VALUE_CHANGE, "inProgress", {"1": state, "2": "inProgress"}),
        (VALUE_CHANGE, "inProgress", {"1": "inProgress", "2": "inProgress"}),
        (VALUE_CHANGE, "inProgress", {"1": "completed", "2": "inProgress"}),
        (VALUE_CHANGE, "inProgress", {"1": "completed", "2": "completed"}),
        (STATE_CHANGE, "completed", {"1": "completed", "2": "completed"}),
    ]
    assert records[2].at - records[1].at >= 0.35


def test_held_item_is_visible_in_get_while_it_waits(sim, listener):
    sim.add_rules({"behaviour": "item_state", "state": "held", "seconds": 30})
    order = sim.post_order(order_payload("ext-held"))[2]
    listener.wait_for_order(order["id"], 2)
    fetched = sim.order(order["id"])
    assert fetched["state"] == "inProgress"
    assert fetched["serviceOrderItem"][0]["state"] == "held"


# -- drop_events ------------------------------------------------------------------------


def delivered_and_dropped(sim, listener, order_id, total):
    """Wait until every one of the order's ``total`` events was delivered or dropped."""
    final_order(sim, order_id)
    wait_until(lambda: len(listener.for_order(order_id)) + sim.stats()["eventsDropped"] >= total)
    return listener.for_order(order_id), sim.stats()["eventsDropped"]


def test_drop_events_with_probability_one_loses_every_event_of_matching_orders(sim, listener):
    sim.add_rules({"behaviour": "drop_events", "probability": 1,
                   "match": {"relatedPartyId": "CUST-LOSSY"}})
    lossy = sim.post_order(order_payload("ext-lossy", party="CUST-LOSSY"))[2]
    normal = sim.post_order(order_payload("ext-fine"))[2]
    assert listener.wait_for_order(normal["id"], 3)
    records, dropped = delivered_and_dropped(sim, listener, lossy["id"], 3)
    assert records == [] and dropped == 3
    assert sim.order(lossy["id"])["state"] == "completed"
    time.sleep(0.1)
    assert listener.for_order(lossy["id"]) == []
    assert sim.stats()["eventsSent"] == 3


def test_drop_events_with_a_seed_is_deterministic(sim, listener):
    rule = {"behaviour": "drop_events", "probability": 0.5, "seed": 11}
    items = [(str(n), "add", "CFS_INTERNET") for n in range(1, 7)]
    outcomes = []
    for _ in range(2):
        sim.add_rules(rule)
        order = sim.post_order(order_payload("ext-seeded", *items))[2]
        records, dropped = delivered_and_dropped(sim, listener, order["id"], 8)
        outcomes.append(([(r.type, r.order["state"], tuple(sorted(
            (i["id"], i["state"]) for i in r.order["serviceOrderItem"]))) for r in records],
            dropped))
        assert sim.request("POST", "/_sim/reset")[0] == 200
    (first, dropped), (second, _) = outcomes
    assert first == second
    assert 0 < dropped < 8 and len(first) == 8 - dropped


# -- milestones and pause ---------------------------------------------------------------


MILESTONES = {"behaviour": "milestones", "milestones": ["reserved", "dispatched", "delivered"],
              "seconds": 0.1, "match": {"serviceSpecification": "CPE-Management"}}


def milestone_names(order, item_id):
    return [m["name"] for m in order.get("milestone", [])
            if any(ref["itemId"] == item_id for ref in m["serviceOrderItem"])]


def test_milestones_are_reported_in_order_then_the_item_completes(sim, listener):
    sim.add_rules(MILESTONES)
    order = sim.post_order(order_payload("ext-cpe", ("1", "add", "CFS_INTERNET"),
                                         ("2", "add", "CPE-Management")))[2]
    records = listener.wait_for_order(order["id"], 7)
    assert [r.type for r in records] == [STATE_CHANGE, VALUE_CHANGE, MILESTONE, MILESTONE,
                                         MILESTONE, VALUE_CHANGE, STATE_CHANGE]
    events = records[2:5]
    for number, (record, name) in enumerate(zip(events, MILESTONES["milestones"]), start=1):
        assert record.path == LISTENER_PATH + "/serviceOrderMilestoneEvent"
        assert record.json["eventType"] == MILESTONE
        assert record.json["correlationId"] == "ext-cpe"
        reported = record.order
        assert reported["state"] == "inProgress"
        assert {i["id"]: i["state"] for i in reported["serviceOrderItem"]} == {
            "1": "completed", "2": "inProgress"}
        assert milestone_names(reported, "2") == MILESTONES["milestones"][:number]
        latest = reported["milestone"][-1]
        assert latest == {
            "id": "2-" + name, "name": name, "status": "reached",
            "milestoneDate": latest["milestoneDate"],
            "message": "Item 2 reached milestone %s." % name,
            "serviceOrderItem": [{"itemId": "2", "serviceOrderId": order["id"],
                                  "@type": "ServiceOrderItemRef"}],
            "@type": "ServiceOrderMilestone"}
        assert latest["milestoneDate"].endswith("Z")
    assert events[1].at - events[0].at >= 0.08 and events[2].at - events[1].at >= 0.08
    final = sim.order(order["id"])
    assert final["state"] == "completed"
    assert milestone_names(final, "2") == MILESTONES["milestones"]
    assert milestone_names(final, "1") == []


def test_pause_after_a_milestone_holds_the_item_there(sim, listener):
    sim.add_rules(MILESTONES, {"behaviour": "pause", "milestone": "reserved", "seconds": 0.6,
                               "match": {"serviceSpecification": "CPE-Management"}})
    order = sim.post_order(order_payload("ext-pause", ("1", "add", "CPE-Management")))[2]
    reserved = listener.wait_for_order(order["id"], 2)[1]
    assert reserved.type == MILESTONE
    time.sleep(0.3)
    during = sim.order(order["id"])
    assert milestone_names(during, "1") == ["reserved"]
    assert during["serviceOrderItem"][0]["state"] == "inProgress"
    dispatched = listener.wait_for_order(order["id"], 3)[2]
    assert milestone_names(dispatched.order, "1") == ["reserved", "dispatched"]
    assert dispatched.at - reserved.at >= 0.55
    assert final_order(sim, order["id"])["state"] == "completed"


def test_pause_without_a_milestone_holds_the_item_before_it_starts_work(sim, listener):
    sim.add_rules({"behaviour": "pause", "seconds": 0.5,
                   "match": {"serviceSpecification": "CFS_TV"}})
    order = sim.post_order(order_payload("ext-hold-start", ("1", "add", "CFS_TV"),
                                         ("2", "add", "CFS_INTERNET")))[2]
    records = listener.wait_for_order(order["id"], 4)
    assert event_states(records)[1] == (VALUE_CHANGE, "inProgress",
                                        {"1": "completed", "2": "inProgress"})
    assert records[1].at - records[0].at >= 0.45
    assert records[2].at - records[1].at < 0.45


def test_an_order_between_milestones_resumes_after_a_restart(tmp_path, listener):
    config = tmp_path / "rules.json"
    config.write_text(json.dumps({"rules": [dict(MILESTONES, seconds=None)]}))
    db = tmp_path / "somsim.sqlite3"
    first = Sim(db, listener.base, step_delay=0.3, extra=["--config", str(config)])
    try:
        order = first.post_order(order_payload("ext-resume", ("1", "add", "CPE-Management")))[2]
        listener.wait_for_order(order["id"], 2)
    finally:
        first.stop(signal.SIGKILL)
    before = listener.for_order(order["id"])
    assert [r.type for r in before] == [STATE_CHANGE, MILESTONE]

    second = Sim(db, listener.base, extra=["--config", str(config)])
    try:
        final = final_order(second, order["id"])
        # an event being delivered at the kill may be delivered again (same eventId)
        listener.wait_for(lambda records: len({r.json["eventId"] for r in records
                                               if r.order_id == order["id"]}) == 6)
        unique = {}
        for record in listener.for_order(order["id"]):
            unique.setdefault(record.json["eventId"], record)
        assert [r.type for r in unique.values()] == [STATE_CHANGE, MILESTONE, MILESTONE,
                                                     MILESTONE, VALUE_CHANGE, STATE_CHANGE]
        assert final["state"] == "completed"
        assert milestone_names(final, "1") == ["reserved", "dispatched", "delivered"]
    finally:
        assert second.stop() == 0
