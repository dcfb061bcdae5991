"""Fault-injection harness: COM's real processes (gunicorn, Celery prefork worker, Celery beat), the SOM simulator
and a private redis-server, on the test database (PostgreSQL).

Needs ``DATABASE_URL`` (PostgreSQL) and ``CELERY_BROKER_URL`` (Redis), like tests/e2e: without them these tests
are skipped with the reason, and ``COM_REQUIRE_E2E`` turns that into an error. The broker the processes use is
a redis-server of this suite's own (it is killed and restarted by a test), never the one in CELERY_BROKER_URL.
The tests read the database without a transaction around them (the processes must see what they see); the
suite stops the processes and flushes the database when it ends, so the tests after it start clean.
"""

import pytest

from tests.live_services import skip_unless_available

from .cluster import Cluster
from .invariants import check



def pytest_collection_modifyitems(config, items):
    skip_unless_available(items, "tests/faults/", "fault tests (and redis-server on the PATH)")


def _test_database_url(connection) -> str:
    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{params.get('HOST') or '127.0.0.1'}:{params.get('PORT') or 5432}/{params['NAME']}"


@pytest.fixture(scope="package")  # stopped, and the database flushed, before any other package's tests
def cluster(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.core.management import call_command
    from django.db import connection, connections

    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            # pytest-django creates the test database only for tests that ask for one, and these tests do not
            # (the processes need committed data): test_database.py's test does; never run on a real database
            pytest.fail(f"the fault suite runs on the test database, not {connection.settings_dict['NAME']!r}: "
                        "select tests/faults/test_database.py too (it makes pytest-django create it)")
        processes = Cluster(tmp_path_factory.mktemp("faults"), _test_database_url(connection))
        try:
            processes.prepare(migrate=False)  # pytest-django migrated the test database
            processes.start()
            yield processes
        finally:
            processes.stop()
            connections.close_all()
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def faults(cluster, django_db_blocker):
    """The cluster, every process running, SOM with no rules and no orders; database reads allowed."""
    from django.db import connections

    with django_db_blocker.unblock():
        if not cluster.redis.alive:
            cluster.start_redis()
        if not cluster.som.alive:
            cluster.start_som()
        for worker in cluster.workers:
            if not worker.alive:
                cluster.restart_worker(worker)
        if not cluster.beat.alive:
            cluster.beat.start()
        cluster.sim("POST", "/_sim/reset")
        yield cluster
        cluster.som_rules()
        connections.close_all()


class Orders:
    """The orders one test sends, and the judgement of the invariant on them."""

    def __init__(self, cluster: Cluster, tag: str):
        self.cluster, self.tag, self.ids = cluster, tag, []

    def send(self, count: int, *, start: int = 0) -> list[str]:
        from .cluster import order_body

        sent = []
        for n in range(start, start + count):
            response = self.cluster.post_order(order_body(n, tag=self.tag))
            assert response.status_code == 201, (response.status_code, response.text[:500])
            sent.append(response.json()["id"])
        self.ids += sent
        return sent

    def judge(self, **kw):
        from django.db import connections

        connections.close_all()  # a session a test terminated is not reused
        return check(self.ids, self.cluster.som_orders(), som_stats=self.cluster.som_stats(), **kw)

    def settle(self, *, timeout: float = 90, states=("completed",)):
        """Wait until nothing is moving and every order is in ``states`` (or with a person if that is allowed)."""
        from .cluster import wait_for

        last = {}

        def settled():
            report = last["report"] = self.judge()
            if not report.settled:
                return None
            return report if set(report.states) <= set(states) else None

        try:
            return wait_for(settled, timeout=timeout, interval=0.5, what=f"the {self.tag} orders to settle")
        except AssertionError as exc:
            report = last.get("report")
            raise AssertionError(f"{exc}\n{report.summary() if report else ''}\nmoving: "
                                 f"{report.moving[:5] if report else ''}") from None


@pytest.fixture
def orders(faults, request):
    return Orders(faults, request.node.name.replace("test_", "")[:24].replace("_", "-"))
