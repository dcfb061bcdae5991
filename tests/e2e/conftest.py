"""End-to-end harness: a live Celery worker on Redis, COM's live server, the SOM simulator process, PostgreSQL.

Needs ``DATABASE_URL`` (PostgreSQL) and ``CELERY_BROKER_URL`` (Redis), as `.ci/run` sets them; without
them these tests are skipped with the reason (SQLite cannot serve a worker thread and the web thread at once).
"""
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.live_services import skip_unless_available

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):
    skip_unless_available(items, "tests/e2e/", "end-to-end tests")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Som:
    """The SOM simulator as its own process, with its control API."""

    def __init__(self, tmp: Path, callback: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = tmp / "somsim.sqlite3"
        self.callback = callback
        self.process = None
        self.log = open(tmp / "somsim.log", "ab")

    def start(self):
        callback = ["--callback", self.callback] if self.callback else []  # none: it notifies hub listeners only
        self.process = subprocess.Popen(
            [sys.executable, "-m", "somsim", "--port", str(self.port), "--db", str(self.db), "--step-delay", "0.15",
             *callback, "--secret", settings.COM_SOM_EVENT_SECRET],
            cwd=ROOT, stdout=self.log, stderr=self.log,
        )
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                self.call("GET", "/_sim/stats")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("SOM simulator did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read() or b"null")

    def rule(self, behaviour, **kw):
        match = kw.pop("match", {})
        self.call("POST", "/_sim/rules", {"match": match, "behaviour": behaviour, **kw})

    def stats(self):
        return self.call("GET", "/_sim/stats")

    def orders(self):
        return self.call("GET", "/tmf-api/serviceOrdering/v4/serviceOrder")


@pytest.fixture(scope="session")
def celery_worker_session(django_db_setup, django_db_blocker):
    from celery.contrib.testing.worker import start_worker

    from comapp.celery import app

    app.control.purge()  # tasks a previous, interrupted run left on the test queue
    with django_db_blocker.unblock():
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield


@pytest.fixture(scope="session")
def som_session(live_server, tmp_path_factory):
    som = Som(tmp_path_factory.mktemp("som"), f"{live_server.url}/tmf-api/serviceOrdering/v4/listener")
    som.start()
    yield som
    som.stop()


@pytest.fixture
def som(som_session, settings, celery_worker_session, transactional_db):
    from django.core.management import call_command

    settings.COM_SOM_ENDPOINTS = {"default": f"{som_session.url}/tmf-api/serviceOrdering/v4"}
    settings.COM_OUTBOX_BACKOFF = 0.3
    settings.COM_OUTBOX_BACKOFF_CAP = 2
    settings.COM_OUTBOX_MAX_ATTEMPTS = 30
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the demo users, quickly
    if som_session.process.poll() is not None:
        som_session.start()
    som_session.call("POST", "/_sim/reset")
    call_command("load_demo", verbosity=0)
    yield som_session
    # Quiet everything before the test database is flushed: the simulator stops sending first, then the
    # worker finishes what it has (a task holding row locks during the flush's TRUNCATE would deadlock it).
    som_session.call("POST", "/_sim/reset")
    wait_idle()


def wait_for(predicate, timeout=40, interval=0.2, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def wait_idle(timeout=20, quiet_for=1.0):
    """Nothing pending in the outbox, no SOM event unprocessed, and the database quiet for ``quiet_for`` s."""
    from orders.models import InboundEvent, OutboxMessage, ProductOrder

    def fingerprint():
        return (OutboxMessage.objects.filter(status="pending").count(),
                InboundEvent.objects.filter(processed_at__isnull=True).count(),
                InboundEvent.objects.count(), sum(ProductOrder.objects.values_list("version", flat=True)))

    deadline = time.time() + timeout
    last, since = None, time.time()
    while time.time() < deadline:
        now = fingerprint()
        if now != last:
            last, since = now, time.time()
        elif now[:2] == (0, 0) and time.time() - since >= quiet_for:
            return
        time.sleep(0.1)
