"""COM's real processes for fault injection: a private redis-server, the SOM simulator, gunicorn, Celery prefork
worker(s) and Celery beat, all on one PostgreSQL database; with the faults (kill -9, stop/start, terminate the
database sessions) and a TMF622 client. Used by the fault suite (``tests/faults``) and ``scripts/soak.py``.

Nothing here is Django: the processes get their settings from the environment, exactly as in production, with
the sweeps, leases and backoffs shortened (``FAST``) so a fault heals in seconds rather than minutes.
"""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
SOM_SECRET = "somsim-demo-secret"
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"

# Timings for the processes (comapp/settings.py names; production defaults are unchanged).
FAST = {
    "COM_RELAY_SECONDS": "1",                 # outbox relay and stored-event sweep
    "COM_RESUME_SECONDS": "2",                # orders whose checks task was lost
    "COM_CHECKS_RESUME_AFTER_SECONDS": "3",
    "COM_READBACK_SWEEP_SECONDS": "2",        # read back quiet service orders
    "COM_SOM_POLL_AFTER_SECONDS": "4",        # "quiet" = no word from SOM for this long
    "COM_SOM_SILENCE_FALLOUT_SECONDS": "120",
    "COM_SOM_READBACK_ATTEMPTS": "3",
    "COM_WATCHDOG_SECONDS": "5",
    "COM_WATCHDOG_QUIET_SECONDS": "60",
    "COM_TASK_LEASE_SECONDS": "8",            # a claim or a queued task, before a sweep takes the work again
    "COM_HTTP_TIMEOUT": "3",
    "COM_OUTBOX_BACKOFF": "0.5",
    "COM_OUTBOX_BACKOFF_CAP": "3",
    "COM_OUTBOX_MAX_ATTEMPTS": "60",
    "COM_BROKER_VISIBILITY_TIMEOUT": "60",
    "COM_FRAUD_VELOCITY_MAX_ORDERS": "1000000",  # many orders a minute from the test channel are not fraud
    "COM_CHANNEL_RATE": "1000000/minute",
}


# An exception halfway through: PostgreSQL refuses the inventory write of the customers named CUST-boom-*, in
# the worker, after SOM has built the services (the fault suite and the soak).
REFUSE_INVENTORY = """
CREATE OR REPLACE FUNCTION faults_refuse_product() RETURNS trigger AS $$
BEGIN
  IF NEW.customer_id LIKE 'CUST-boom-%' THEN
    RAISE EXCEPTION 'fault injected: inventory write refused for %', NEW.customer_id;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS faults_refuse_product ON inventory_product;
CREATE TRIGGER faults_refuse_product BEFORE INSERT OR UPDATE ON inventory_product
  FOR EACH ROW EXECUTE FUNCTION faults_refuse_product();
"""
ACCEPT_INVENTORY = ("DROP TRIGGER IF EXISTS faults_refuse_product ON inventory_product; "
                    "DROP FUNCTION IF EXISTS faults_refuse_product();")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.2):
    """Poll ``predicate`` until it returns something true; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - a process still starting: ask again
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else ""))


def children(pid: int) -> list[int]:
    """The direct children of a process (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class Proc:
    """One OS process (in its own process group, so its children die with it), logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        log.close()

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.alive:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def kill9(self) -> None:
        """kill -9 the process and every child it has (no clean shutdown, nothing acknowledged)."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(10)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive:
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Cluster:
    """The processes of one COM deployment and its SOM, on ``database_url``."""

    def __init__(self, workdir: Path, database_url: str, *, workers: int = 1, concurrency: int = 2,
                 web_workers: int = 2, step_delay: float = 0.1, extra_env: dict | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url
        self.redis_port, self.web_port, self.som_port = free_port(), free_port(), free_port()
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.som_url = f"http://127.0.0.1:{self.som_port}"
        self.broker_url = f"redis://127.0.0.1:{self.redis_port}/0"
        python = sys.executable
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("COM_", "CELERY_", "CACHE_URL"))},
            **FAST, **(extra_env or {}),
            "DJANGO_SETTINGS_MODULE": "comapp.settings", "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": self.broker_url, "CACHE_URL": "",  # the database cache: Redis is a fault here
            "COM_SOM_URL": f"{self.som_url}/tmf-api/serviceOrdering/v4", "SOM_EVENT_SECRET": SOM_SECRET,
            "COM_PUBLIC_URL": self.web_url, "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO",
            "COM_BROKER_DIR": str(self.workdir / "broker"),
        }
        self.redis = Proc("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                                    "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                          self.env, self.workdir / "redis.log")
        self.som = Proc("som", [python, "-m", "somsim", "--port", str(self.som_port), "--db",
                                str(self.workdir / "somsim.sqlite3"), "--step-delay", str(step_delay),
                                "--callback", f"{self.web_url}/tmf-api/serviceOrdering/v4/listener",
                                "--secret", SOM_SECRET], self.env, self.workdir / "som.log")
        self.web = Proc("web", [python, "-m", "gunicorn", "comapp.wsgi", "-b", f"127.0.0.1:{self.web_port}",
                                "-w", str(web_workers), "--timeout", "60", "--graceful-timeout", "5"],
                        self.env, self.workdir / "web.log")
        self.workers = [self._worker(n, concurrency) for n in range(workers)]
        self.beat = Proc("beat", [python, "-m", "celery", "-A", "comapp", "beat", "-l", "INFO",
                                  "-s", str(self.workdir / "beat-schedule")], self.env, self.workdir / "beat.log")
        self.token = ""

    def _worker(self, n: int, concurrency: int) -> Proc:
        return Proc(f"worker{n}", [sys.executable, "-m", "celery", "-A", "comapp", "worker", "-P", "prefork",
                                   "-c", str(concurrency), "-l", "INFO", "-n", f"faults{n}-{self.web_port}@%h",
                                   "--without-gossip", "--without-mingle", "--without-heartbeat"],
                    self.env, self.workdir / f"worker{n}.log")

    @property
    def processes(self) -> list[Proc]:
        return [self.redis, self.som, self.web, *self.workers, self.beat]

    # --- life --------------------------------------------------------------------------------------------

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=300)
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def prepare(self, *, migrate: bool = True, channel: str = "faults") -> None:
        """Migrate, load the demo data and create the channel the orders come from (its token kept)."""
        if migrate:
            self.manage("migrate", "--noinput", "-v", "0")
        # the processes' cache is the database's (Redis is a fault here): its table, whatever cache the database
        # was migrated with (a test run with CACHE_URL set has none)
        self.manage("createcachetable")
        self.manage("load_demo", "-v", "0")
        out = self.manage("channel", "add", f"{channel}-{self.web_port}")
        self.token = out.split()[-1]

    def start(self) -> None:
        self.start_redis()
        self.start_som()
        self.web.start()
        for worker in self.workers:
            worker.start()
        self.beat.start()
        wait_for(lambda: requests.get(f"{self.web_url}/api/schema/", timeout=2).status_code in (200, 401, 403),
                 timeout=60, what="gunicorn to answer")
        for worker in self.workers:
            self.wait_worker_ready(worker)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()

    def wait_worker_ready(self, worker: Proc, since: int = 0) -> None:
        wait_for(lambda: worker.log_path.read_text(errors="replace")[since:].count(" ready."), timeout=60,
                 what=f"{worker.name} to be ready:\n{worker.log_tail()}")

    def start_redis(self) -> None:
        self.redis.start()
        wait_for(lambda: _redis_ping(self.redis_port), timeout=20, what="redis-server")

    def start_som(self) -> None:
        self.som.start()
        wait_for(lambda: self.sim("GET", "/_sim/stats") is not None, timeout=20, what="the SOM simulator")

    def restart_worker(self, worker: Proc) -> None:
        since = worker.log_path.stat().st_size if worker.log_path.exists() else 0
        worker.start()
        self.wait_worker_ready(worker, since)

    # --- faults ------------------------------------------------------------------------------------------

    def kill_pool_child(self, worker: Proc) -> int | None:
        """kill -9 one prefork pool process of ``worker`` (its task is lost mid-run: late ack + reject)."""
        pool = children(worker.popen.pid)
        if not pool:
            return None
        victim = random.choice(pool)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return victim

    def terminate_db_sessions(self) -> int:
        """pg_terminate_backend on every other session of the database (web, worker, beat lose theirs)."""
        import psycopg

        name = self.database_url.rsplit("/", 1)[1].split("?")[0]
        with psycopg.connect(self.database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall()
        return len(rows)

    # --- the SOM simulator's control API and TMF641 ------------------------------------------------------

    def sim(self, method: str, path: str, body=None):
        response = requests.request(method, self.som_url + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def som_rules(self, *rules: dict) -> None:
        self.sim("DELETE", "/_sim/rules")
        if rules:
            self.sim("POST", "/_sim/rules", {"rules": list(rules)})

    def som_orders(self) -> list[dict]:
        return self.sim("GET", "/tmf-api/serviceOrdering/v4/serviceOrder")

    def som_stats(self) -> dict:
        return self.sim("GET", "/_sim/stats")

    # --- the channel -------------------------------------------------------------------------------------

    def post_order(self, body: dict, *, timeout: float = 30) -> requests.Response:
        return requests.post(self.web_url + ORDERS, data=json.dumps(body), timeout=timeout,
                             headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})

    def get_order(self, order_id: str) -> dict:
        response = requests.get(f"{self.web_url}{ORDERS}/{order_id}", timeout=10,
                                headers={"Authorization": f"Bearer {self.token}"})
        response.raise_for_status()
        return response.json()


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


def order_body(n: int, *, tag: str, place: str = "ADDR-1001") -> dict:
    """A TMF622 order of one SuperFibre line for a customer of its own (no fraud or duplicate hold)."""
    return {
        "externalId": f"{tag}-{n}",
        "description": f"fault suite {tag} #{n}",
        "relatedParty": [{"id": f"CUST-{tag}-{n}", "name": f"Customer {n}", "role": "customer",
                          "@referredType": "Individual"}],
        "productOrderItem": [{
            "id": "1", "action": "add", "quantity": 1, "productOffering": {"id": "PO-SUPERFIBRE-200"},
            "product": {"productCharacteristic": [{"name": "downloadSpeed", "value": 200},
                                                  {"name": "wifiManagement", "value": True}],
                        "place": [{"id": place, "role": "installationAddress"}]},
        }],
    }
