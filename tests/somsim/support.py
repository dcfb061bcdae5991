"""Helpers for the somsim tests: the simulator as a subprocess, a recording listener.

The simulator runs for real (``python -m somsim``) and sends its events to a
small HTTP listener started by the test, which records every request.
"""

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
API = "/tmf-api/serviceOrdering/v4"
LISTENER_PATH = "/tmf-api/serviceOrdering/v4/listener"
SECRET = "test-secret"
STEP = 0.05
STATE_CHANGE = "ServiceOrderStateChangeEvent"
VALUE_CHANGE = "ServiceOrderAttributeValueChangeEvent"
MILESTONE = "ServiceOrderMilestoneEvent"
CANCEL_CHANGE = "CancelServiceOrderStateChangeEvent"
TERMINAL = ("completed", "failed", "partial", "cancelled")

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- helpers ---------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met within %.1fs" % timeout)


class Received:
    """One request received by the listener."""

    def __init__(self, path, headers, raw, status):
        self.path = path
        self.headers = headers
        self.raw = raw
        self.status = status
        self.json = json.loads(raw)
        self.at = time.monotonic()

    @property
    def type(self):
        return self.json["eventType"]

    @property
    def order(self):
        """The service order of a service order event (None for a cancellation event)."""
        return self.json["event"].get("serviceOrder")

    @property
    def cancel(self):
        """The CancelServiceOrder of a cancellation event (None otherwise)."""
        return self.json["event"].get("cancelServiceOrder")

    @property
    def order_id(self):
        """The id of the service order the event is about."""
        if self.order is not None:
            return self.order["id"]
        return self.cancel["serviceOrder"]["id"]


class Listener:
    """A TMF641 event listener that records what it receives.

    ``statuses`` are the answers to give to the first requests (then 200).
    """

    def __init__(self, statuses=()):
        self.received = []
        self.statuses = list(statuses)
        self._cond = threading.Condition()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with listener._cond:
                    status = listener.statuses.pop(0) if listener.statuses else 200
                    listener.received.append(Received(self.path, dict(self.headers), raw, status))
                    listener._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def base(self):
        return "http://127.0.0.1:%d%s" % (self._server.server_address[1], LISTENER_PATH)

    def for_order(self, order_id):
        with self._cond:
            return [r for r in self.received if r.order_id == order_id]

    def wait_for(self, predicate, timeout=5.0):
        """Wait until ``predicate(records)`` is true for the records so far; return them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                records = list(self.received)
                if predicate(records):
                    return records
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("listener: condition not met within %.1fs (%d records)"
                                         % (timeout, len(records)))
                self._cond.wait(left)

    def wait_for_order(self, order_id, count, timeout=5.0):
        """Wait until ``count`` requests about the order arrived; return them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [r for r in self.received if r.order_id == order_id]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%d of %d events for %s arrived"
                                         % (len(found), count, order_id))
                self._cond.wait(left)

    def close(self):
        self._server.shutdown()
        self._server.server_close()


class Sim:
    """The simulator subprocess and a small JSON client for it."""

    def __init__(self, db, callback, step_delay=STEP, extra=()):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SOMSIM_") and k != "SOM_EVENT_SECRET"}
        command = [sys.executable, "-m", "somsim", "--port", str(self.port), "--db", str(db),
                   "--step-delay", str(step_delay), "--secret", SECRET, *extra]
        if callback:
            command += ["--callback", callback]
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        self.banner = self.process.stdout.readline().strip()
        wait_until(self._ready, timeout=10)

    def _ready(self):
        assert self.process.poll() is None, "somsim exited with %s" % self.process.returncode
        try:
            return self.request("GET", "/_sim/stats")[0] == 200
        except OSError:
            return False

    def request(self, method, path, body=None, raw=None):
        """Return ``(status, headers, parsed JSON or None)``."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with _opener.open(request, timeout=5) as response:
                status, headers, content = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, content = error.code, error.headers, error.read()
        return status, headers, json.loads(content) if content else None

    def post_order(self, payload):
        return self.request("POST", API + "/serviceOrder", payload)

    def order(self, order_id):
        return self.request("GET", "%s/serviceOrder/%s" % (API, order_id))[2]

    def stats(self):
        return self.request("GET", "/_sim/stats")[2]

    def add_rules(self, *rules):
        status, _, body = self.request("POST", "/_sim/rules", {"rules": list(rules)})
        assert status == 200, body
        return body

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=10)
        self.process.stdout.close()
        return code


def order_payload(external_id, *items, party="CUST-1"):
    """A ServiceOrder_Create; items are ``(id, action, spec name[, service id])``."""
    items = items or (("1", "add", "CFS_INTERNET"),)
    order_items = []
    for item in items:
        service = {"serviceSpecification": {"id": "spec-" + item[2], "name": item[2]}}
        if len(item) > 3:
            service["id"] = item[3]
        order_items.append({"id": item[0], "action": item[1], "service": service})
    return {"externalId": external_id, "relatedParty": [{"id": party, "role": "customer"}],
            "serviceOrderItem": order_items}


def parse_signature(header):
    """Split ``t=<unix seconds>,sha256=<hex>`` into ``(t, hex)``; fail on any other shape."""
    parts = header.split(",")
    assert len(parts) == 2 and parts[0].startswith("t=") and parts[1].startswith("sha256="), header
    t, digest = parts[0][2:], parts[1][len("sha256="):]
    assert t.isdigit() and len(digest) == 64, header
    return int(t), digest


def assert_signed(record, secret=SECRET):
    """The record's X-Signature is HMAC-SHA256(secret, b"<t>." + raw body); return t."""
    t, digest = parse_signature(record.headers["X-Signature"])
    expected = hmac.new(secret.encode(), b"%d." % t + record.raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(digest, expected)
    return t


def event_states(records):
    """(eventType, order state, {item id: item state}) per record."""
    return [(r.json["eventType"], r.order["state"],
             {i["id"]: i["state"] for i in r.order["serviceOrderItem"]}) for r in records]


def final_order(sim, order_id, timeout=5.0):
    return wait_until(lambda: (lambda o: o if o["state"] in TERMINAL else None)(
        sim.order(order_id)), timeout=timeout)


