"""Exactly-once accounting in ``GET /_sim/stats``: per externalId, how many
POSTs reached the simulator and how many orders they created."""

import json
import signal
import threading

from .support import API, Sim, order_payload


def test_posts_that_create_nothing_are_counted_per_external_id(sim):
    sim.add_rules({"match": {"externalIdPrefix": "busy-"}, "behaviour": "http_503"})
    assert sim.post_order(order_payload("busy-1"))[0] == 503
    invalid = {"externalId": "bad-1", "serviceOrderItem": []}
    assert sim.post_order(invalid)[0] == 400
    assert sim.request("POST", API + "/serviceOrder", raw=b"{broken")[0] == 400
    assert sim.post_order({"serviceOrderItem": []})[0] == 400

    stats = sim.stats()
    assert stats["orders"] == {"busy-1": {"posts": 1, "created": 0},
                               "bad-1": {"posts": 1, "created": 0}}
    assert stats["postsReceived"] == 4
    assert stats["serviceOrdersCreated"] == 0 and stats["itemsReceived"] == 0
    assert stats["duplicatesCreated"] == 0


def test_resends_are_counted_but_create_one_order(sim):
    sim.add_rules({"match": {"externalIdPrefix": "retry-"}, "behaviour": "http_503"})
    two_items = order_payload("retry-1", ("1", "add", "CFS_INTERNET"), ("2", "add", "CFS_TV"))
    answers = [sim.post_order(two_items)[0] for _ in range(3)]
    assert answers == [503, 201, 200]
    assert sim.post_order(order_payload("single"))[0] == 201

    stats = sim.stats()
    assert stats["orders"] == {"retry-1": {"posts": 3, "created": 1},
                               "single": {"posts": 1, "created": 1}}
    assert stats["duplicatesCreated"] == 0
    assert stats["itemsReceived"] == 3
    assert stats["serviceOrdersCreated"] == 2
    assert stats["duplicatesRecognised"] == 1
    # the existing keys keep their meaning
    assert stats["externalIds"] == {"retry-1": 1, "single": 1}


def test_concurrent_posts_of_one_external_id_create_exactly_one_order(sim):
    payload = json.dumps(order_payload("race-1")).encode()
    answers = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def post():
        start.wait()
        status, _, body = sim.request("POST", API + "/serviceOrder", raw=payload)
        with lock:
            answers.append((status, body["id"]))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sorted(status for status, _ in answers) == [200] * 7 + [201]
    assert len({order_id for _, order_id in answers}) == 1
    stats = sim.stats()
    assert stats["orders"] == {"race-1": {"posts": 8, "created": 1}}
    assert stats["duplicatesCreated"] == 0
    assert len(sim.request("GET", API + "/serviceOrder")[2]) == 1


def test_accounting_survives_a_restart(tmp_path, listener):
    db = tmp_path / "somsim.sqlite3"
    first = Sim(db, listener.base)
    try:
        assert first.post_order(order_payload("kept-1"))[0] == 201
    finally:
        first.stop(signal.SIGKILL)
    second = Sim(db, listener.base)
    try:
        assert second.post_order(order_payload("kept-1"))[0] == 200
        stats = second.stats()
        assert stats["orders"] == {"kept-1": {"posts": 2, "created": 1}}
        assert stats["itemsReceived"] == 1 and stats["duplicatesCreated"] == 0
        reset = second.request("POST", "/_sim/reset")[2]
        assert reset["orders"] == {} and reset["itemsReceived"] == 0
    finally:
        assert second.stop() == 0
