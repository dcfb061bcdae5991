"""End-to-end tests of the somsim TMF641 simulator.

The simulator runs for real as a subprocess (``python -m somsim``) and sends
its events to a small HTTP listener started by the test, which records every
request.  No Django and no database are involved.
"""

import hashlib
import hmac
import json
import signal
import time

import pytest

from .support import (
    API,
    LISTENER_PATH,
    SECRET,
    STATE_CHANGE,
    STEP,
    VALUE_CHANGE,
    Listener,
    Sim,
    assert_signed,
    event_states,
    final_order,
    order_payload,
    parse_signature,
)

# -- TMF641 API ----------------------------------------------------------------


def test_banner_and_create_acknowledged_with_location(sim):
    assert sim.banner == "somsim listening on http://127.0.0.1:%d" % sim.port
    status, headers, order = sim.post_order(order_payload("ext-create"))
    assert status == 201
    assert order["state"] == "acknowledged"
    assert [item["state"] for item in order["serviceOrderItem"]] == ["acknowledged"]
    assert order["externalId"] == "ext-create"
    assert order["orderDate"].endswith("Z")
    assert order["href"] == "%s%s/serviceOrder/%s" % (sim.url, API, order["id"])
    assert headers["Location"] == order["href"]

    status, _, fetched = sim.request("GET", "%s/serviceOrder/%s" % (API, order["id"]))
    assert status == 200 and fetched["id"] == order["id"]
    status, _, listed = sim.request("GET", API + "/serviceOrder?externalId=ext-create")
    assert status == 200 and [o["id"] for o in listed] == [order["id"]]
    assert sim.request("GET", API + "/serviceOrder?externalId=other")[2] == []


def test_resent_external_id_returns_the_stored_order(sim):
    first = sim.post_order(order_payload("ext-dup"))
    second = sim.post_order(order_payload("ext-dup"))
    assert first[0] == 201 and second[0] == 200
    assert second[2]["id"] == first[2]["id"]
    stats = sim.stats()
    assert stats["serviceOrdersCreated"] == 1
    assert stats["postsReceived"] == 2
    assert stats["duplicatesRecognised"] == 1
    assert stats["externalIds"] == {"ext-dup": 1}
    assert len(sim.request("GET", API + "/serviceOrder")[2]) == 1


ITEM = {"id": "1", "action": "add", "service": {"serviceSpecification": {"name": "CFS"}}}


@pytest.mark.parametrize("body", [
    b"{not json",
    b"[1, 2]",
    json.dumps({"externalId": "x"}).encode(),
    json.dumps({"serviceOrderItem": []}).encode(),
    json.dumps({"serviceOrderItem": [dict(ITEM, id=7)]}).encode(),
    json.dumps({"serviceOrderItem": [dict(ITEM, action="upgrade")]}).encode(),
    json.dumps({"serviceOrderItem": [dict(ITEM, service={})]}).encode(),
    json.dumps({"serviceOrderItem": [dict(ITEM, service={"serviceSpecification": {}})]}).encode(),
    json.dumps({"serviceOrderItem": [dict(ITEM, action="modify")]}).encode(),
    json.dumps({"serviceOrderItem": [dict(ITEM, action="delete")]}).encode(),
], ids=["bad-json", "array", "no-items", "empty-items", "item-id-not-string", "bad-action",
        "no-spec", "spec-without-id-or-name", "modify-without-service-id",
        "delete-without-service-id"])
def test_invalid_orders_are_rejected_with_400(sim, body):
    status, _, error = sim.request("POST", API + "/serviceOrder", raw=body)
    assert status == 400
    assert error["@type"] == "Error" and error["status"] == "400"
    assert error["code"] and error["reason"] and error["message"]
    assert sim.stats()["serviceOrdersCreated"] == 0


def test_routes_trailing_slash_and_errors(sim):
    assert sim.request("GET", "/_sim/stats/")[0] == 200
    assert sim.request("GET", API + "/serviceOrder/")[0] == 200
    status, _, created = sim.request("POST", API + "/serviceOrder/", order_payload("ext-slash"))
    assert status == 201
    assert sim.request("GET", "%s/serviceOrder/%s/" % (API, created["id"]))[0] == 200
    status, _, error = sim.request("GET", API + "/serviceOrder/no-such-order")
    assert status == 404 and error["@type"] == "Error" and error["status"] == "404"
    status, _, error = sim.request("GET", "/no/such/route")
    assert status == 404 and error["@type"] == "Error"
    assert sim.request("DELETE", API + "/serviceOrder")[0] == 405


def test_hub_subscription_create_delete_and_delivery(sim, listener):
    extra, states_only = Listener(), Listener()
    try:
        status, headers, hub = sim.request("POST", API + "/hub",
                                           {"callback": extra.base, "query": ""})
        assert status == 201
        assert set(hub) == {"id", "callback", "query"} and hub["callback"] == extra.base
        # A subscription for the default listener does not make it receive twice.
        status, _, same = sim.request("POST", API + "/hub/", {"callback": listener.base + "/"})
        assert status == 201
        assert sim.request("POST", API + "/hub", {"query": "x"})[0] == 400
        # A query limits a subscription to the named event types.
        status, _, filtered = sim.request("POST", API + "/hub", {
            "callback": states_only.base, "query": "eventType=" + STATE_CHANGE})
        assert status == 201

        order = sim.post_order(order_payload("ext-hub"))[2]
        final_order(sim, order["id"])
        assert len(extra.wait_for_order(order["id"], 3)) == 3
        assert len(listener.wait_for_order(order["id"], 3)) == 3
        assert [r.json["eventType"] for r in states_only.wait_for_order(order["id"], 2)] == [
            STATE_CHANGE, STATE_CHANGE]

        assert sim.request("DELETE", "%s/hub/%s" % (API, hub["id"]))[0] == 204
        assert sim.request("DELETE", "%s/hub/%s/" % (API, same["id"]))[0] == 204
        assert sim.request("DELETE", "%s/hub/%s" % (API, hub["id"]))[0] == 404
        second = sim.post_order(order_payload("ext-hub-2"))[2]
        listener.wait_for_order(second["id"], 3)
        time.sleep(0.1)
        assert extra.for_order(second["id"]) == []
        assert len(listener.for_order(second["id"])) == 3
    finally:
        extra.close()
        states_only.close()


# -- progression and events ------------------------------------------------------


def test_events_are_signed_and_follow_the_progression(sim, listener):
    payload = order_payload("ext-flow", ("2", "modify", "CFS_VOICE", "SVC-VOICE-1"),
                            ("1", "add", "CFS_INTERNET"), ("3", "delete", "CFS_TV", "SVC-TV-9"))
    order = sim.post_order(payload)[2]
    records = listener.wait_for_order(order["id"], 5)

    for record in records:
        t = assert_signed(record)
        assert abs(t - time.time()) < 10
        assert record.headers["Content-Type"] == "application/json"
        event = record.json
        assert event["correlationId"] == "ext-flow"
        assert event["domain"] == "serviceOrdering"
        assert event["eventTime"].endswith("Z") and event["timeOcurred"].endswith("Z")
        assert record.path == "%s/%s%s" % (LISTENER_PATH, event["eventType"][0].lower(),
                                           event["eventType"][1:])
    assert len({r.json["eventId"] for r in records}) == 5
    assert event_states(records) == [
        (STATE_CHANGE, "inProgress", {"1": "inProgress", "2": "inProgress", "3": "inProgress"}),
        (VALUE_CHANGE, "inProgress", {"1": "completed", "2": "inProgress", "3": "inProgress"}),
        (VALUE_CHANGE, "inProgress", {"1": "completed", "2": "completed", "3": "inProgress"}),
        (VALUE_CHANGE, "inProgress", {"1": "completed", "2": "completed", "3": "completed"}),
        (STATE_CHANGE, "completed", {"1": "completed", "2": "completed", "3": "completed"}),
    ]
    final = records[-1].order
    assert final["completionDate"].endswith("Z")
    services = {i["id"]: i["service"] for i in final["serviceOrderItem"]}
    assert services["1"]["id"].startswith("SVC-") and len(services["1"]["id"]) == 16
    assert services["1"]["state"] == "active"
    assert services["2"] == dict(services["2"], id="SVC-VOICE-1", state="active")
    assert services["3"] == dict(services["3"], id="SVC-TV-9", state="terminated")
    assert sim.order(order["id"]) == final
    assert sim.stats()["eventsSent"] == 5


def test_fail_rule_fails_items_with_error_messages(sim, listener):
    sim.add_rules({"match": {"serviceSpecification": "CFS_TV"}, "behaviour": "fail"},
                  {"match": {"serviceSpecification": "spec-CFS_VOICE"}, "behaviour": "fail"})
    mixed = sim.post_order(order_payload("ext-mixed", ("1", "add", "CFS_INTERNET"),
                                         ("2", "add", "CFS_TV")))[2]
    records = listener.wait_for_order(mixed["id"], 4)
    assert event_states(records)[2] == (VALUE_CHANGE, "inProgress",
                                        {"1": "completed", "2": "failed"})
    partial = records[-1].order
    assert partial["state"] == "partial"
    [error] = partial["errorMessage"]
    assert error["code"] == "SIM-FAIL" and error["@type"] == "ServiceOrderErrorMessage"
    assert error["reason"] and error["message"]
    assert error["serviceOrderItem"] == [{"itemId": "2", "serviceOrderId": mixed["id"]}]
    completed_item, failed_item = partial["serviceOrderItem"]
    assert failed_item["errorMessage"][0]["code"] == "SIM-FAIL"
    assert "errorMessage" not in completed_item

    # The second rule matches the specification id rather than its name.
    only = sim.post_order(order_payload("ext-fail", ("1", "modify", "CFS_VOICE", "SVC-V")))[2]
    failed = final_order(sim, only["id"])
    assert failed["state"] == "failed"
    assert failed["errorMessage"][0]["serviceOrderItem"] == [
        {"itemId": "1", "serviceOrderId": only["id"]}]


def test_fail_first_fails_twice_then_succeeds_across_orders(sim):
    sim.add_rules({"match": {"serviceSpecification": "CFS_INTERNET"},
                   "behaviour": "fail_first", "count": 2})
    states = []
    for attempt in range(3):
        order = sim.post_order(order_payload("ext-retry-%d" % attempt))[2]
        states.append(final_order(sim, order["id"])["state"])
    assert states == ["failed", "failed", "completed"]
    # Another customer's identical service has its own count.
    other = sim.post_order(order_payload("ext-other", party="CUST-2"))[2]
    assert final_order(sim, other["id"])["state"] == "failed"
    assert sim.stats()["serviceOrdersCreated"] == 4


def test_http_503_rejects_the_next_posts(sim):
    sim.add_rules({"match": {"externalIdPrefix": "ext-503"}, "behaviour": "http_503",
                   "count": 2})
    answers = [sim.post_order(order_payload("ext-503-a")) for _ in range(3)]
    assert [a[0] for a in answers] == [503, 503, 201]
    assert answers[0][2]["@type"] == "Error" and answers[0][2]["status"] == "503"
    assert sim.post_order(order_payload("ext-other"))[0] == 201
    stats = sim.stats()
    assert stats["rejected503"] == 2
    assert stats["serviceOrdersCreated"] == 2
    assert stats["postsReceived"] == 4
    assert stats["externalIds"] == {"ext-503-a": 1, "ext-other": 1}


def test_silent_orders_never_progress(sim, listener):
    sim.add_rules({"match": {"relatedPartyId": "CUST-QUIET"}, "behaviour": "silent"})
    quiet = sim.post_order(order_payload("ext-quiet", party="CUST-QUIET"))
    normal = sim.post_order(order_payload("ext-normal"))[2]
    assert quiet[0] == 201
    listener.wait_for_order(normal["id"], 3)
    time.sleep(4 * STEP)
    assert sim.order(quiet[2]["id"])["state"] == "acknowledged"
    assert listener.for_order(quiet[2]["id"]) == []


def test_duplicate_events_are_sent_twice_with_the_same_event_id(sim, listener):
    sim.add_rules({"match": {"serviceSpecification": "CFS_INTERNET"},
                   "behaviour": "duplicate_events"})
    order = sim.post_order(order_payload("ext-twice"))[2]
    records = listener.wait_for_order(order["id"], 6)
    time.sleep(2 * STEP)
    records = listener.for_order(order["id"])
    assert len(records) == 6
    by_id = {}
    for record in records:
        by_id.setdefault(record.json["eventId"], []).append(record.raw)
    assert len(by_id) == 3
    assert all(len(raws) == 2 and raws[0] == raws[1] for raws in by_id.values())


def test_out_of_order_sends_the_final_events_first(sim, listener):
    sim.add_rules({"match": {"externalIdPrefix": "ooo-"}, "behaviour": "out_of_order"})
    order = sim.post_order(order_payload("ooo-1"))[2]
    records = listener.wait_for_order(order["id"], 3)
    assert event_states(records) == [
        (STATE_CHANGE, "completed", {"1": "completed"}),
        (VALUE_CHANGE, "inProgress", {"1": "completed"}),
        (STATE_CHANGE, "inProgress", {"1": "inProgress"}),
    ]
    assert len({r.json["eventId"] for r in records}) == 3
    assert sim.order(order["id"])["state"] == "completed"


def test_delay_rule_slows_matching_orders(sim, listener):
    sim.add_rules({"match": {"externalIdPrefix": "slow-"}, "behaviour": "delay", "seconds": 0.5})
    slow = sim.post_order(order_payload("slow-1"))[2]
    fast = sim.post_order(order_payload("fast-1"))[2]
    assert final_order(sim, fast["id"])["state"] == "completed"
    assert sim.order(slow["id"])["state"] == "acknowledged"
    assert final_order(sim, slow["id"])["state"] == "completed"


def test_failed_delivery_is_retried_and_4xx_is_dropped(tmp_path):
    listener = Listener(statuses=[500, 200, 400])
    sim = Sim(tmp_path / "somsim.sqlite3", listener.base)
    try:
        order = sim.post_order(order_payload("ext-retry"))[2]
        records = listener.wait_for_order(order["id"], 4)
        assert [r.status for r in records] == [500, 200, 400, 200]
        # the 500 was retried with the same event; the 400 (item event) was not.
        assert records[0].raw == records[1].raw
        assert records[2].json["eventType"] == VALUE_CHANGE
        assert records[3].order["state"] == "completed"
        time.sleep(0.7)
        assert len(listener.for_order(order["id"])) == 4
        assert sim.stats()["eventsSent"] == 2
    finally:
        assert sim.stop() == 0
        listener.close()


# -- control API, configuration and restart ------------------------------------------


def test_rules_api_and_reset(sim):
    assert sim.request("GET", "/_sim/rules")[2] == []
    status, _, rules = sim.request("POST", "/_sim/rules", {"behaviour": "silent"})
    assert status == 200 and [r["behaviour"] for r in rules] == ["silent"]
    rules = sim.add_rules({"match": {"relatedPartyId": "C"}, "behaviour": "fail_first"},
                          {"behaviour": "delay", "seconds": 1})
    assert [r["behaviour"] for r in rules] == ["silent", "fail_first", "delay"]
    assert rules[1]["count"] == 1 and all(r["id"] for r in rules)
    assert sim.request("GET", "/_sim/rules")[2] == rules
    for bad in ({"behaviour": "explode"}, {"behaviour": "fail", "match": {"colour": "red"}},
                {"behaviour": "fail_first", "count": 0}, {"behaviour": "delay"}, {"rules": 1}):
        status, _, error = sim.request("POST", "/_sim/rules", bad)
        assert status == 400 and error["@type"] == "Error"
    status, _, cleared = sim.request("DELETE", "/_sim/rules")
    assert status == 200 and cleared == []
    sim.add_rules({"behaviour": "silent"})
    sim.post_order(order_payload("ext-reset"))
    status, _, stats = sim.request("POST", "/_sim/reset")
    assert status == 200
    assert stats == {"serviceOrdersCreated": 0, "postsReceived": 0, "duplicatesRecognised": 0,
                     "rejected503": 0, "eventsSent": 0, "eventsDropped": 0, "itemsReceived": 0,
                     "cancelServiceOrdersCreated": 0, "externalIds": {}, "orders": {},
                     "duplicatesCreated": 0}
    assert sim.request("GET", "/_sim/rules")[2] == []
    assert sim.request("GET", API + "/serviceOrder")[2] == []


def test_config_file_rules_and_step_delay(tmp_path, listener):
    config = tmp_path / "somsim.json"
    config.write_text(json.dumps({"stepDelay": 0.02, "rules": [
        {"match": {"serviceSpecification": "CFS_TV"}, "behaviour": "fail"}]}))
    env_sim = Sim(tmp_path / "somsim.sqlite3", listener.base,
                  extra=["--config", str(config)])
    try:
        assert [r["behaviour"] for r in env_sim.request("GET", "/_sim/rules")[2]] == ["fail"]
        order = env_sim.post_order(order_payload("ext-config", ("1", "add", "CFS_TV")))[2]
        assert final_order(env_sim, order["id"])["state"] == "failed"
    finally:
        assert env_sim.stop() == 0


def test_restart_resumes_unfinished_orders(tmp_path, listener):
    db = tmp_path / "somsim.sqlite3"
    first = Sim(db, listener.base, step_delay=30)
    try:
        order = first.post_order(order_payload("ext-restart", ("1", "add", "CFS_INTERNET"),
                                               ("2", "add", "CFS_VOICE")))[2]
        assert first.order(order["id"])["state"] == "acknowledged"
    finally:
        first.stop(signal.SIGKILL)
    assert listener.for_order(order["id"]) == []

    second = Sim(db, listener.base)
    try:
        records = listener.wait_for_order(order["id"], 4)
        assert [r.order["state"] for r in records] == [
            "inProgress", "inProgress", "inProgress", "completed"]
        assert second.order(order["id"])["state"] == "completed"
        resent = second.post_order(order_payload("ext-restart"))
        assert resent[0] == 200 and resent[2]["id"] == order["id"]
        assert second.stats()["serviceOrdersCreated"] == 1
    finally:
        assert second.stop() == 0


# -- signatures ------------------------------------------------------------------------


def test_signature_covers_the_timestamp_and_rejects_tampering(sim, listener):
    order = sim.post_order(order_payload("ext-sig"))[2]
    record = listener.wait_for_order(order["id"], 1)[0]
    t, digest = parse_signature(record.headers["X-Signature"])
    # The old format (body only) and another timestamp or body do not verify.
    body_only = hmac.new(SECRET.encode(), record.raw, hashlib.sha256).hexdigest()
    assert digest != body_only
    for forged_t, raw in ((t + 1, record.raw), (t, record.raw + b" ")):
        forged = hmac.new(SECRET.encode(), b"%d." % forged_t + raw, hashlib.sha256).hexdigest()
        assert digest != forged
    wrong_key = hmac.new(b"other", b"%d." % t + record.raw, hashlib.sha256).hexdigest()
    assert digest != wrong_key
    assert assert_signed(record) == t


def test_a_retried_delivery_is_signed_again_with_a_fresh_timestamp(tmp_path):
    # attempts at 0 s, 0.5 s and 1.5 s: the first and the third are in different seconds.
    listener = Listener(statuses=[500, 500, 200])
    sim = Sim(tmp_path / "somsim.sqlite3", listener.base)
    try:
        order = sim.post_order(order_payload("ext-resign"))[2]
        first, second, third = listener.wait_for_order(order["id"], 3)[:3]
        assert first.raw == second.raw == third.raw
        stamps = [assert_signed(record) for record in (first, second, third)]
        assert stamps[0] <= stamps[1] <= stamps[2] and stamps[2] > stamps[0]
        assert first.headers["X-Signature"] != third.headers["X-Signature"]
    finally:
        assert sim.stop() == 0
        listener.close()
