"""Hub-only mode: without ``--callback`` events go only to TMF641 hub subscriptions."""

import signal
import time

import pytest

from .support import API, STATE_CHANGE, VALUE_CHANGE, Listener, Sim, assert_signed, final_order, order_payload


@pytest.fixture
def hub_sim(tmp_path):
    process = Sim(tmp_path / "somsim.sqlite3", None)
    yield process
    assert process.stop() == 0


def subscribe(sim, callback, query=None):
    body = {"callback": callback}
    if query is not None:
        body["query"] = query
    status, _, hub = sim.request("POST", API + "/hub", body)
    assert status == 201, hub
    return hub


@pytest.mark.parametrize("body", [{}, {"callback": 5}, {"callback": "ftp://x"},
                                  {"callback": "http://x", "query": 3}, []])
def test_malformed_subscriptions_are_rejected(hub_sim, body):
    status, _, error = hub_sim.request("POST", API + "/hub", body)
    assert status == 400 and error["@type"] == "Error"


def test_without_callback_or_subscription_no_event_is_sent(hub_sim, listener):
    order = hub_sim.post_order(order_payload("ext-nobody"))[2]
    assert final_order(hub_sim, order["id"])["state"] == "completed"
    time.sleep(0.1)
    assert listener.received == []
    assert hub_sim.stats()["eventsSent"] == 0
    assert hub_sim.request("DELETE", API + "/hub/unknown")[0] == 404


def test_hub_subscriptions_receive_events_filtered_by_event_type(hub_sim):
    everything, states = Listener(), Listener()
    try:
        subscribe(hub_sim, everything.base)
        hub = subscribe(hub_sim, states.base, "eventType=" + STATE_CHANGE)
        assert hub["query"] == "eventType=" + STATE_CHANGE and hub["callback"] == states.base
        order = hub_sim.post_order(order_payload("ext-hub-only"))[2]
        records = everything.wait_for_order(order["id"], 3)
        assert [r.type for r in records] == [STATE_CHANGE, VALUE_CHANGE, STATE_CHANGE]
        assert all(assert_signed(r) for r in records)
        filtered = states.wait_for_order(order["id"], 2)
        assert [(r.type, r.order["state"]) for r in filtered] == [
            (STATE_CHANGE, "inProgress"), (STATE_CHANGE, "completed")]
        time.sleep(0.1)
        assert len(states.for_order(order["id"])) == 2
    finally:
        everything.close()
        states.close()


def test_hub_subscriptions_survive_a_restart(tmp_path, listener):
    db = tmp_path / "somsim.sqlite3"
    first = Sim(db, None)
    try:
        subscribe(first, listener.base, "eventType=%s,%s" % (STATE_CHANGE, VALUE_CHANGE))
    finally:
        first.stop(signal.SIGKILL)
    second = Sim(db, None)
    try:
        order = second.post_order(order_payload("ext-after-restart"))[2]
        assert len(listener.wait_for_order(order["id"], 3)) == 3
    finally:
        assert second.stop() == 0


def test_deleting_a_subscription_stops_its_deliveries_and_retries(hub_sim):
    failing = Listener(statuses=[500] * 50)
    try:
        hub = subscribe(hub_sim, failing.base)
        order = hub_sim.post_order(order_payload("ext-unsubscribe"))[2]
        failing.wait_for_order(order["id"], 1)
        assert hub_sim.request("DELETE", "%s/hub/%s" % (API, hub["id"]))[0] == 204
        # retries were due after 0.5 s and 1.5 s
        time.sleep(1.7)
        assert len(failing.received) == 1
        later = hub_sim.post_order(order_payload("ext-unsubscribed"))[2]
        final_order(hub_sim, later["id"])
        time.sleep(0.1)
        assert failing.for_order(later["id"]) == []
    finally:
        failing.close()
