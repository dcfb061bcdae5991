"""TMF641 cancelServiceOrder: all or nothing, points of no return, events, restart."""

import json
import signal

from .support import (
    API,
    CANCEL_CHANGE,
    LISTENER_PATH,
    MILESTONE,
    STATE_CHANGE,
    VALUE_CHANGE,
    Sim,
    assert_signed,
    final_order,
    order_payload,
    wait_until,
)

CPE = "CPE-Management"
MILESTONES = {"behaviour": "milestones", "milestones": ["reserved", "dispatched", "delivered"],
              "seconds": 0.05, "match": {"serviceSpecification": CPE}}
PONR = {"behaviour": "point_of_no_return", "milestone": "dispatched",
        "match": {"serviceSpecification": CPE}}


def pause_at(milestone, seconds):
    return {"behaviour": "pause", "milestone": milestone, "seconds": seconds,
            "match": {"serviceSpecification": CPE}}


def cancel(sim, order_id, **extra):
    return sim.request("POST", API + "/cancelServiceOrder",
                       dict({"serviceOrder": {"id": order_id}}, **extra))


def get_cancel(sim, cancel_id):
    return sim.request("GET", "%s/cancelServiceOrder/%s" % (API, cancel_id))[2]


def final_cancel(sim, cancel_id, timeout=5.0):
    return wait_until(lambda: (lambda c: c if c["state"] in ("done", "terminatedWithError")
                               else None)(get_cancel(sim, cancel_id)), timeout=timeout)


def cancel_events(records):
    return [r for r in records if r.type == CANCEL_CHANGE]


def wait_for_milestone(listener, order_id, name):
    def reached(records):
        return any(r.type == MILESTONE and r.order_id == order_id
                   and r.order["milestone"][-1]["name"] == name for r in records)
    listener.wait_for(reached)


# -- refused requests ---------------------------------------------------------------------


MALFORMED = {
    "bad-json": b"{not json",
    "array": b"[]",
    "no-service-order": json.dumps({}).encode(),
    "ref-not-object": json.dumps({"serviceOrder": "abc"}).encode(),
    "ref-without-id": json.dumps({"serviceOrder": {}}).encode(),
    "id-not-string": json.dumps({"serviceOrder": {"id": 12}}).encode(),
    "empty-id": json.dumps({"serviceOrder": {"id": ""}}).encode(),
    "reason-not-string": json.dumps({"serviceOrder": {"id": "x"},
                                     "cancellationReason": 5}).encode(),
    "bad-date": json.dumps({"serviceOrder": {"id": "x"},
                            "requestedCancellationDate": "tomorrow"}).encode(),
}


def test_malformed_cancellations_are_rejected_with_400(sim):
    for case, body in MALFORMED.items():
        status, _, error = sim.request("POST", API + "/cancelServiceOrder", raw=body)
        assert status == 400, case
        assert error["@type"] == "Error" and error["status"] == "400" and error["message"], case
    assert sim.request("GET", API + "/cancelServiceOrder")[2] == []
    assert sim.stats()["cancelServiceOrdersCreated"] == 0


def test_unknown_service_order_and_unknown_cancellation_are_404(sim):
    status, _, error = cancel(sim, "no-such-order")
    assert status == 404 and error["@type"] == "Error"
    status, _, error = sim.request("GET", API + "/cancelServiceOrder/no-such-cancel")
    assert status == 404 and error["@type"] == "Error"
    assert sim.request("DELETE", API + "/cancelServiceOrder")[0] == 405
    assert sim.request("GET", API + "/cancelServiceOrder")[2] == []


def test_cancelling_a_finished_order_ends_terminated_with_error(sim, listener):
    order = sim.post_order(order_payload("ext-done"))[2]
    final_order(sim, order["id"])
    listener.wait_for_order(order["id"], 3)
    status, _, request = cancel(sim, order["id"], cancellationReason="customer changed mind")
    assert status == 201 and request["state"] == "accepted"
    ended = final_cancel(sim, request["id"])
    assert ended["state"] == "terminatedWithError"
    assert ended["errorMessage"]["reason"] == "Service order already completed"
    assert "already completed" in ended["errorMessage"]["message"]
    assert "effectiveCancellationDate" not in ended
    records = listener.wait_for_order(order["id"], 5)
    assert [(r.type, r.cancel["state"]) for r in cancel_events(records)] == [
        (CANCEL_CHANGE, "inProgress"), (CANCEL_CHANGE, "terminatedWithError")]
    assert cancel_events(records)[-1].cancel == ended
    assert sim.order(order["id"])["state"] == "completed"
    assert len([r for r in records if r.type == STATE_CHANGE]) == 2


def test_past_the_point_of_no_return_nothing_is_cancelled_and_the_order_goes_on(sim, listener):
    sim.add_rules(MILESTONES, PONR, pause_at("dispatched", 0.6))
    order = sim.post_order(order_payload("ext-late", ("1", "add", CPE),
                                         ("2", "add", "CFS_INTERNET")))[2]
    wait_for_milestone(listener, order["id"], "dispatched")
    status, _, request = cancel(sim, order["id"])
    assert status == 201
    ended = final_cancel(sim, request["id"])
    assert ended["state"] == "terminatedWithError"
    error = ended["errorMessage"]
    assert error["@type"] == "ErrorMessage" and error["code"] == "SIM-CANCEL-PONR"
    assert error["reason"] == "Point of no return passed"
    assert "item 1 (CPE-Management, milestone dispatched)" in error["message"]
    # all or nothing: item 2 (no point of no return) is not cancelled either
    final = final_order(sim, order["id"])
    assert final["state"] == "completed"
    assert [i["state"] for i in final["serviceOrderItem"]] == ["completed", "completed"]
    assert "cancellationDate" not in final


# -- cancellations carried out ----------------------------------------------------------------


def test_cancel_before_the_point_of_no_return_cancels_the_order(sim, listener):
    sim.add_rules(MILESTONES, PONR, pause_at("reserved", 30))
    order = sim.post_order(order_payload("ext-cancel", ("1", "add", CPE),
                                         ("2", "add", "CFS_INTERNET")))[2]
    wait_for_milestone(listener, order["id"], "reserved")
    status, headers, request = cancel(sim, order["id"], cancellationReason="Customer request",
                                      requestedCancellationDate="2030-01-01T00:00:00Z")
    assert status == 201
    assert request == {
        "id": request["id"],
        "href": "%s%s/cancelServiceOrder/%s" % (sim.url, API, request["id"]),
        "cancellationReason": "Customer request",
        "requestedCancellationDate": "2030-01-01T00:00:00Z",
        "serviceOrder": {"id": order["id"], "href": order["href"],
                         "@referredType": "ServiceOrder"},
        "state": "accepted",
        "@type": "CancelServiceOrder"}
    assert headers["Location"] == request["href"]
    # idempotent while open
    again = cancel(sim, order["id"])
    assert again[0] == 200 and again[2]["id"] == request["id"]

    ended = final_cancel(sim, request["id"])
    assert ended["state"] == "done"
    assert ended["effectiveCancellationDate"].endswith("Z")
    assert "errorMessage" not in ended
    final = sim.order(order["id"])
    assert final["state"] == "cancelled"
    assert final["cancellationReason"] == "Customer request"
    assert final["cancellationDate"].endswith("Z")
    assert [i["state"] for i in final["serviceOrderItem"]] == ["cancelled", "cancelled"]

    records = listener.wait_for_order(order["id"], 7)
    assert [r.type for r in records[:2]] == [STATE_CHANGE, MILESTONE]
    tail = [(r.type, r.cancel["state"] if r.cancel else r.order["state"],
             None if r.cancel else [i["state"] for i in r.order["serviceOrderItem"]])
            for r in records[2:]]
    assert tail == [
        (CANCEL_CHANGE, "inProgress", None),
        (VALUE_CHANGE, "inProgress", ["cancelled", "inProgress"]),
        (VALUE_CHANGE, "inProgress", ["cancelled", "cancelled"]),
        (STATE_CHANGE, "cancelled", ["cancelled", "cancelled"]),
        (CANCEL_CHANGE, "done", None)]
    for record in cancel_events(records):
        assert record.path == LISTENER_PATH + "/cancelServiceOrderStateChangeEvent"
        assert record.json["correlationId"] == "ext-cancel"
        assert record.json["domain"] == "serviceOrdering"
        assert record.cancel["id"] == request["id"]
        assert_signed(record)

    listed = sim.request("GET", API + "/cancelServiceOrder?serviceOrder.id=" + order["id"])[2]
    assert listed == [ended]
    assert sim.request("GET", API + "/cancelServiceOrder?state=accepted")[2] == []
    # a new request once the first has ended is a new one, refused: already cancelled
    status, _, late = cancel(sim, order["id"])
    assert status == 201 and late["id"] != request["id"]
    assert final_cancel(sim, late["id"])["errorMessage"]["reason"] == \
        "Service order already cancelled"
    assert sim.stats()["cancelServiceOrdersCreated"] == 2


def test_items_already_completed_stay_completed_and_the_order_ends_partial(sim, listener):
    sim.add_rules(MILESTONES, PONR, pause_at("reserved", 30))
    order = sim.post_order(order_payload("ext-half", ("1", "add", "CFS_INTERNET"),
                                         ("2", "add", CPE)))[2]
    wait_for_milestone(listener, order["id"], "reserved")
    request = cancel(sim, order["id"])[2]
    assert final_cancel(sim, request["id"])["state"] == "done"
    final = sim.order(order["id"])
    assert final["state"] == "partial"
    assert [i["state"] for i in final["serviceOrderItem"]] == ["completed", "cancelled"]


def test_a_silent_order_can_be_cancelled(sim, listener):
    sim.add_rules({"behaviour": "silent", "match": {"externalIdPrefix": "stuck-"}})
    order = sim.post_order(order_payload("stuck-1"))[2]
    request = cancel(sim, order["id"])[2]
    assert final_cancel(sim, request["id"])["state"] == "done"
    final = sim.order(order["id"])
    assert final["state"] == "cancelled"
    assert final["serviceOrderItem"][0]["state"] == "cancelled"
    assert "startDate" not in final


def test_cancellation_resumes_and_survives_a_restart(tmp_path, listener):
    db = tmp_path / "somsim.sqlite3"
    first = Sim(db, listener.base, step_delay=30)
    try:
        order = first.post_order(order_payload("ext-cancel-restart"))[2]
        request = cancel(first, order["id"])[2]
        assert request["state"] == "accepted"
    finally:
        first.stop(signal.SIGKILL)
    second = Sim(db, listener.base)
    try:
        # the open request resumes; the order it froze does not start
        assert final_cancel(second, request["id"])["state"] == "done"
        assert second.order(order["id"])["state"] == "cancelled"
        records = listener.wait_for_order(order["id"], 4)
        assert [r.type for r in records] == [CANCEL_CHANGE, VALUE_CHANGE, STATE_CHANGE,
                                             CANCEL_CHANGE]
    finally:
        assert second.stop() == 0
    third = Sim(db, listener.base)
    try:
        assert third.order(order["id"])["state"] == "cancelled"
        assert get_cancel(third, request["id"])["state"] == "done"
        assert cancel(third, order["id"])[0] == 201
    finally:
        assert third.stop() == 0
