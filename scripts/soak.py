"""Soak: many orders through COM's real processes while a chaos loop injects random faults; then the invariant.

    .venv/bin/python scripts/soak.py --orders 500
    .venv/bin/python scripts/soak.py --orders 2000 --workers 2

Starts its own PostgreSQL database (dropped and created: ``--database``, default ``com_soak``, on
``--pg`` postgres://postgres@127.0.0.1:5432), a private redis-server, the SOM simulator, gunicorn, Celery
worker(s) and beat (tests/faults/cluster.py), sends the orders from several threads, and meanwhile injects
faults at random: a pool process or a whole worker killed (-9), SOM killed for a few seconds, SOM answering
503, SOM events dropped, duplicated, out of order or order-level only, the database sessions terminated,
Redis killed and restarted, and inventory writes refused for a few customers (an exception halfway through:
those orders must end in fallout). When every order is sent the chaos stops, and the script waits until
nothing is moving. It prints the faults injected by kind, the final states, the invariant's violations (lost,
stranded, duplicated at SOM, ...) and the time to send and to settle; exit status 1 on any violation.
Not a test: it takes minutes. The checker is tests/faults/invariants.py, the same as the fault suite's.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults.cluster import REFUSE_INVENTORY, Cluster, order_body, wait_for  # noqa: E402

SOM_RULES = {
    "som_503": {"behaviour": "http_503", "count": 5},
    "events_dropped": {"behaviour": "drop_events", "probability": 0.5},
    "events_duplicated": {"behaviour": "duplicate_events"},
    "events_out_of_order": {"behaviour": "out_of_order"},
    "events_order_level_only": {"behaviour": "order_level_only"},
    "som_slow_answer": {"behaviour": "slow_answer", "seconds": 2},
}
PROCESS_FAULTS = ("pool_process_killed", "worker_killed", "som_down", "db_sessions_terminated", "redis_restarted")


def recreate_database(pg: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Chaos(threading.Thread):
    """Injects a random fault every few seconds until stopped; counts them by kind."""

    def __init__(self, cluster: Cluster, *, seed: int, interval: tuple[float, float]):
        super().__init__(daemon=True)
        self.cluster, self.random, self.interval = cluster, random.Random(seed), interval
        self.stop_event = threading.Event()
        self.injected: Counter = Counter()
        self.errors: list[str] = []

    def run(self) -> None:
        kinds = list(PROCESS_FAULTS) + list(SOM_RULES)
        while not self.stop_event.wait(self.random.uniform(*self.interval)):
            kind = self.random.choice(kinds)
            try:
                self.inject(kind)
                self.injected[kind] += 1
            except Exception as exc:  # noqa: BLE001 - a fault that could not be injected is reported, not fatal
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            self.heal()

    def inject(self, kind: str) -> None:
        c = self.cluster
        if kind in SOM_RULES:
            rule = dict(SOM_RULES[kind])
            if kind == "events_dropped":
                rule["seed"] = self.random.randrange(1 << 30)
            c.som_rules(rule)  # the rule holds for the orders SOM accepts until the next fault
        elif kind == "pool_process_killed":
            if c.kill_pool_child(self.random.choice(c.workers)) is None:
                raise RuntimeError("no pool process found")
        elif kind == "worker_killed":
            worker = self.random.choice(c.workers)
            worker.kill9()
            time.sleep(self.random.uniform(1, 4))
            c.restart_worker(worker)
        elif kind == "som_down":
            c.som.kill9()
            time.sleep(self.random.uniform(2, 8))
            c.start_som()
        elif kind == "db_sessions_terminated":
            c.terminate_db_sessions()
        elif kind == "redis_restarted":
            c.redis.kill9()
            time.sleep(self.random.uniform(1, 4))
            c.start_redis()

    def heal(self) -> None:
        """Whatever a fault left down is brought back (a process fault is over when inject returns)."""
        c = self.cluster
        if not c.redis.alive:
            c.start_redis()
        if not c.som.alive:
            c.start_som()
        for worker in c.workers:
            if not worker.alive:
                c.restart_worker(worker)


def send_all(cluster: Cluster, bodies: list[dict], threads: int, rate: float) -> tuple[list[str], Counter, list[float]]:
    """POST every order, ``rate`` a second (a channel resends on a 5xx or a timeout, with the same externalId);
    returns the ids of the 200/201 answers."""
    answers: Counter = Counter()
    begin = time.monotonic()
    latencies: list[float] = []
    ids: list[str] = []
    lock = threading.Lock()

    def send(numbered):
        n, body = numbered
        time.sleep(max(begin + n / rate - time.monotonic(), 0))
        for attempt in range(8):
            started = time.monotonic()
            try:
                response = cluster.post_order(body, timeout=30)
                status = response.status_code
            except Exception as exc:  # noqa: BLE001 - the web process may be restarting
                status = type(exc).__name__
            with lock:
                answers[str(status)] += 1
            if status in (200, 201):
                with lock:
                    latencies.append(time.monotonic() - started)
                    ids.append(response.json()["id"])
                return
            time.sleep(min(0.5 * 2 ** attempt, 5))
        with lock:
            answers["gave up"] += 1

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, enumerate(bodies)))
    return ids, answers, latencies


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4, help="channel threads posting orders")
    parser.add_argument("--rate", type=float, default=5, help="orders sent a second")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (each prefork -c 2)")
    parser.add_argument("--boom", type=float, default=0.02, help="share of orders whose inventory write fails")
    parser.add_argument("--chaos", default="3,8", help="seconds between faults: min,max")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--settle-timeout", type=float, default=900)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="com_soak")
    parser.add_argument("--json", help="also write the report to this file")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a COM setting for the processes, over the fault suite's short timings "
                             "(tests/faults/cluster.py FAST), e.g. COM_SOM_SILENCE_FALLOUT_SECONDS=900")
    args = parser.parse_args()

    url = f"{args.pg}/{args.database}"
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "comapp.settings", "CACHE_URL": ""})
    recreate_database(args.pg, args.database)
    import django

    django.setup()
    from django.db import connection, connections

    from tests.faults.invariants import check

    workdir = Path(tempfile.mkdtemp(prefix="com-soak-"))
    overrides = dict(pair.split("=", 1) for pair in args.env)
    cluster = Cluster(workdir, url, workers=args.workers, extra_env=overrides)
    rng = random.Random(args.seed)
    tag = f"soak{args.seed}"
    bodies = []
    for n in range(args.orders):
        body = order_body(n, tag=tag)
        if rng.random() < args.boom:
            body["relatedParty"][0]["id"] = f"CUST-boom-{n}"
        bodies.append(body)
    print(f"soak: {args.orders} orders, {args.workers} workers, seed {args.seed}, "
          f"settings {overrides or 'as the fault suite'}, logs in {workdir}", flush=True)
    cluster.prepare()
    with connection.cursor() as cursor:
        cursor.execute(REFUSE_INVENTORY)
    connections.close_all()
    cluster.start()
    chaos = Chaos(cluster, seed=args.seed, interval=tuple(float(x) for x in args.chaos.split(",")))
    try:
        started = time.monotonic()
        chaos.start()
        ids, answers, latencies = send_all(cluster, bodies, args.threads, args.rate)
        sent_in = time.monotonic() - started
        chaos.stop_event.set()
        chaos.join()
        chaos.heal()
        cluster.som_rules()
        print(f"sent {len(ids)} in {sent_in:.0f}s; faults {dict(chaos.injected)}", flush=True)

        settle_started = time.monotonic()
        last = {}

        def settled():
            connections.close_all()
            report = last["report"] = check(ids, cluster.som_orders(), som_stats=cluster.som_stats())
            return report if report.settled else None

        try:
            wait_for(settled, timeout=args.settle_timeout, interval=2, what="every order to settle")
        except AssertionError as exc:
            print(exc, flush=True)
        settle_in = time.monotonic() - settle_started
        report = last["report"]
        boom_ids = {b["externalId"] for b in bodies if b["relatedParty"][0]["id"].startswith("CUST-boom-")}
    finally:
        chaos.stop_event.set()
        cluster.stop()

    result = {
        "orders": args.orders, "accepted": len(ids), "answers": dict(answers), "workers": args.workers,
        "faults": dict(sorted(chaos.injected.items())), "fault_errors": chaos.errors,
        "states": dict(sorted(report.states.items())), "with_a_person": len(report.with_a_person),
        "inventory_refused_orders": len(boom_ids), "still_moving": len(report.moving),
        "lost": len(report.lost), "stranded": len(report.stranded), "overdue": len(report.overdue), "duplicated_at_som": len(report.duplicated_at_som),
        "missing_at_som": len(report.missing_at_som), "unknown_to_com": len(report.unknown_to_com),
        "inventory": len(report.inventory), "billing": len(report.billing),
        "send_seconds": round(sent_in, 1), "settle_seconds": round(settle_in, 1),
        "post_latency_p50": round(percentile(latencies, 0.5), 3), "post_latency_p95": round(percentile(latencies, 0.95), 3),
        "post_latency_max": round(max(latencies or [0]), 3),
    }
    print(json.dumps(result, indent=2))
    if report.violations:
        print(report.summary())
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 1 if report.violations or report.moving else 0


if __name__ == "__main__":
    sys.exit(main())
