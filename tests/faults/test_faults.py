"""Real faults against real processes; after each, the liveness invariant (tests/faults/invariants.py).

Each test sends a handful of orders, injects one fault while they flow, waits (on conditions, with a timeout)
until nothing is moving, and asserts the final states it expects and that no invariant is violated: nothing
lost, nothing stranded, nothing created twice at SOM, inventory and billing written once for what completed.
"""
import time

import pytest

from .cluster import ACCEPT_INVENTORY, REFUSE_INVENTORY, wait_for

pytestmark = pytest.mark.e2e
STORM_ORDERS = 150  # 7-8 callbacks reach COM for each order (every event twice, a fifth lost): 1,100 or so


def assert_clean(report):
    assert report.ok, report.summary()


def som_posts(cluster) -> int:
    return cluster.som_stats()["postsReceived"]


# --- Celery worker killed ------------------------------------------------------------------------------------

def test_a_pool_process_killed_mid_delivery_loses_nothing_and_sends_nothing_twice(faults, orders):
    # SOM creates each service order at once but answers 2 s later: the worker is inside the POST when killed.
    faults.som_rules({"behaviour": "slow_answer", "seconds": 2})
    orders.send(4)
    wait_for(lambda: som_posts(faults) >= 1, timeout=20, what="a submission in flight")
    killed = faults.kill_pool_child(faults.workers[0])  # late ack + reject on worker lost: the task is redelivered

    report = orders.settle(timeout=90)

    assert killed is not None
    assert report.states == {"completed": 4}
    assert_clean(report)


def test_the_whole_worker_killed_and_replaced_the_sweeps_finish_its_work(faults, orders):
    faults.som_rules({"behaviour": "slow_answer", "seconds": 2})
    orders.send(4)
    wait_for(lambda: som_posts(faults) >= 1, timeout=20, what="a submission in flight")
    worker = faults.workers[0]
    worker.kill9()  # the worker and its pool: unacked tasks, claimed outbox rows, nobody to finish them
    orders.send(2, start=4)  # orders keep coming while no worker runs
    faults.restart_worker(worker)

    report = orders.settle(timeout=120)

    assert report.states == {"completed": 6}
    assert_clean(report)
    stats = faults.som_stats()
    assert stats["duplicatesCreated"] == 0


# --- SOM down, slow to accept, refusing -------------------------------------------------------------------------

def test_som_down_for_a_while_then_back(faults, orders):
    orders.send(2)
    faults.som.kill9()  # SOM's store survives: its unfinished orders and undelivered events resume on restart
    orders.send(4, start=2)
    time.sleep(6)  # the fault lasts: several delivery attempts fail (this sleep is the fault, not an assertion)
    faults.start_som()

    report = orders.settle(timeout=120)

    assert report.states == {"completed": 6}
    assert_clean(report)


def test_som_answering_503_to_submissions(faults, orders):
    faults.som_rules({"behaviour": "http_503", "count": 6})
    orders.send(4)

    report = orders.settle(timeout=90)

    assert report.states == {"completed": 4}
    assert_clean(report)
    assert faults.som_stats()["rejected503"] == 6


# --- events lost, repeated, reordered, thin ---------------------------------------------------------------------

def test_events_dropped_are_found_by_reading_the_service_order_back(faults, orders):
    faults.som_rules({"behaviour": "drop_events", "probability": 0.6, "seed": 7})
    orders.send(4)

    report = orders.settle(timeout=90)

    assert report.states == {"completed": 4}
    assert_clean(report)
    assert faults.som_stats()["eventsDropped"] > 0


def test_duplicate_and_out_of_order_events_change_nothing_twice(faults, orders):
    faults.som_rules({"behaviour": "duplicate_events"}, {"behaviour": "out_of_order"})
    orders.send(4)

    report = orders.settle(timeout=90)

    assert report.states == {"completed": 4}
    assert_clean(report)  # billing once per item, inventory active: a repeated or late event changed nothing


def test_events_with_only_the_order_level_state_complete_the_order(faults, orders):
    faults.som_rules({"behaviour": "order_level_only"})
    orders.send(3)

    report = orders.settle(timeout=90)

    assert report.states == {"completed": 3}
    assert_clean(report)


def test_a_thousand_callbacks_repeated_reordered_and_lost(faults, orders):
    """The callback storm: SOM sends every event twice, holds each order's events and sends them newest first,
    and loses a fifth of them, over enough orders that at least 1,000 callbacks reach COM."""
    faults.som_rules({"behaviour": "duplicate_events"}, {"behaviour": "out_of_order"},
                     {"behaviour": "drop_events", "probability": 0.2, "seed": 11})
    before = faults.som_stats()
    orders.send(STORM_ORDERS)

    report = orders.settle(timeout=300)

    assert report.states == {"completed": STORM_ORDERS}
    assert_clean(report)  # each product active once, billed once: no repeated or late event did anything twice
    after = faults.som_stats()
    assert after["eventsSent"] - before["eventsSent"] >= 1000
    assert after["eventsDropped"] > before["eventsDropped"]


# --- the database and the broker go away ------------------------------------------------------------------------

def test_database_sessions_terminated_mid_flow(faults, orders):
    faults.som_rules({"behaviour": "delay", "seconds": 0.3})
    orders.send(4)
    wait_for(lambda: faults.som_stats()["serviceOrdersCreated"] >= 1, timeout=30, what="fulfilment under way")
    terminated = faults.terminate_db_sessions()
    orders.send(2, start=4)
    terminated += faults.terminate_db_sessions()

    report = orders.settle(timeout=90)

    assert terminated >= 3  # web, worker and beat each had a session
    assert report.states == {"completed": 6}
    assert_clean(report)


def test_redis_killed_and_restarted_while_orders_flow(faults, orders):
    faults.som_rules({"behaviour": "delay", "seconds": 0.3})
    orders.send(3)
    faults.redis.kill9()  # no persistence: every queued task is gone with it
    orders.send(3, start=3)  # stored and answered 201 with no broker
    time.sleep(3)  # the fault lasts (not an assertion)
    faults.start_redis()

    report = orders.settle(timeout=120)

    assert report.states == {"completed": 6}
    assert_clean(report)


# --- an exception halfway through --------------------------------------------------------------------------------

@pytest.fixture
def inventory_refuses(faults):
    """A trigger in PostgreSQL refuses the inventory write of the customers named CUST-boom-*: a real error
    raised halfway through completion, in the worker, after SOM has built the services."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(REFUSE_INVENTORY)
    yield
    with connection.cursor() as cursor:
        cursor.execute(ACCEPT_INVENTORY)


def test_an_exception_halfway_through_ends_in_fallout_not_stranded(faults, inventory_refuses):
    from orders.models import Fallout

    from .conftest import Orders

    boom, fine = Orders(faults, "boom"), Orders(faults, "fine")
    boom.send(2)
    fine.send(2)

    report = boom.settle(timeout=120, states=("held", "inProgress"))

    assert_clean(report)
    assert len(report.with_a_person) == 2
    assert set(Fallout.objects.filter(order_id__in=boom.ids, resolved_at__isnull=True)
               .values_list("reason_code", flat=True)) == {"INTERNAL_ERROR"}
    assert fine.settle(timeout=60).states == {"completed": 2}
