"""HTTP server: the TMF641 API and the simulator control API.

TMF641 (base ``/tmf-api/serviceOrdering/v4``):

* ``POST /serviceOrder``        -- 201 new order, 200 known externalId, 400, 503 (rule);
* ``GET /serviceOrder``         -- list, optional ``?externalId=``;
* ``GET /serviceOrder/{id}``    -- 200 or 404;
* ``POST /cancelServiceOrder``  -- 201 new cancellation, 200 when the service order
  already has an open one, 400, 404 unknown service order;
* ``GET /cancelServiceOrder``   -- list, optional ``?serviceOrder.id=`` and ``?state=``;
* ``GET /cancelServiceOrder/{id}`` -- 200 or 404;
* ``POST /hub``                 -- 201 subscription; ``DELETE /hub/{id}`` -- 204 or 404.

Control (``/_sim``): ``GET stats``, ``GET|POST|DELETE rules``, ``POST reset``.

Every route answers with and without a trailing slash; errors are TMF
``Error`` bodies.  One log line is written per request.
"""

import json
import logging
import re
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import tmf
from .rules import RuleError

log = logging.getLogger("somsim.http")

MAX_BODY = 1024 * 1024


class ApiError(Exception):
    """An error answered with a TMF Error body."""

    def __init__(self, status, code, reason, message=None):
        super().__init__(message or reason)
        self.status = status
        self.body = tmf.error_body(status, code, reason, message)


class SimServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its simulator."""

    daemon_threads = True

    def __init__(self, address, simulator):
        self.simulator = simulator
        super().__init__(address, Handler)


def _route(pattern, **methods):
    return re.compile("^" + pattern + "$"), methods


ROUTES = [
    _route(tmf.API_BASE + "/serviceOrder", GET="list_orders", POST="create_order"),
    _route(tmf.API_BASE + "/serviceOrder/(?P<resource_id>[^/]+)", GET="get_order"),
    _route(tmf.API_BASE + "/cancelServiceOrder", GET="list_cancels", POST="create_cancel"),
    _route(tmf.API_BASE + "/cancelServiceOrder/(?P<resource_id>[^/]+)", GET="get_cancel"),
    _route(tmf.API_BASE + "/hub", POST="create_hub"),
    _route(tmf.API_BASE + "/hub/(?P<resource_id>[^/]+)", DELETE="delete_hub"),
    _route("/_sim/stats", GET="get_stats"),
    _route("/_sim/rules", GET="get_rules", POST="add_rules", DELETE="clear_rules"),
    _route("/_sim/reset", POST="reset"),
]


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the handler methods below."""

    server_version = "somsim/2.0"

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    @property
    def sim(self):
        return self.server.simulator

    def log_request(self, code="-", size="-"):
        log.info('%s "%s" %s', self.client_address[0], self.requestline, code)

    def log_message(self, format, *args):
        log.warning("%s %s", self.client_address[0], format % args)

    # -- plumbing --------------------------------------------------------

    def _handle(self, method):
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        self.query = parse_qs(parts.query)
        try:
            handler, params = self._resolve(method, path)
            status, body, headers = handler(**params)
        except ApiError as error:
            status, body, headers = error.status, error.body, {}
        except Exception:
            log.exception("error handling %s %s", method, self.path)
            status = 500
            body = tmf.error_body(500, "INTERNAL_ERROR", "Internal simulator error")
            headers = {}
        self._send(status, body, headers)

    def _resolve(self, method, path):
        for pattern, methods in ROUTES:
            found = pattern.match(path)
            if found:
                if method not in methods:
                    raise ApiError(405, "METHOD_NOT_ALLOWED", "Method not allowed",
                                   "%s is not allowed on %s." % (method, path))
                return getattr(self, methods[method]), found.groupdict()
        raise ApiError(404, "NOT_FOUND", "Resource not found", "No route for %s." % path)

    def _send(self, status, body, headers):
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _json_body(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ApiError(400, "INVALID_REQUEST", "Invalid Content-Length") from None
        if length <= 0:
            raise ApiError(400, "INVALID_JSON", "Request body is missing",
                           "A JSON body is required.")
        if length > MAX_BODY:
            raise ApiError(413, "TOO_LARGE", "Request body too large")
        raw = self.rfile.read(length)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ApiError(400, "INVALID_JSON", "Request body is not valid JSON",
                           str(error)) from None

    def _base_url(self):
        host = self.headers.get("Host")
        if not host:
            address, port = self.server.server_address[:2]
            host = "%s:%d" % (address, port)
        return "http://" + host

    # -- TMF641 ----------------------------------------------------------

    def create_order(self):
        try:
            payload = self._json_body()
        except ApiError:
            self.sim.count_post()
            raise
        self.sim.count_post(payload.get("externalId") if isinstance(payload, dict) else None)
        try:
            tmf.validate_order(payload)
        except tmf.ValidationError as error:
            raise ApiError(400, "INVALID_SERVICE_ORDER", "Invalid service order",
                           str(error)) from None
        outcome, result = self.sim.create_order(payload, self._base_url())
        if outcome == "unavailable":
            raise ApiError(503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable",
                           "Injected by simulator rule %s." % result["id"])
        if outcome == "duplicate":
            return 200, result, {}
        return 201, result, {"Location": result["href"]}

    def list_orders(self):
        external_id = self.query.get("externalId", [None])[0]
        return 200, self.sim.store.list_orders(external_id), {}

    def get_order(self, resource_id):
        order = self.sim.store.get_order(resource_id)
        if order is None:
            raise ApiError(404, "NOT_FOUND", "Service order not found",
                           "No service order with id %s." % resource_id)
        return 200, order, {}

    def create_cancel(self):
        payload = self._json_body()
        try:
            tmf.validate_cancel(payload)
        except tmf.ValidationError as error:
            raise ApiError(400, "INVALID_CANCEL_SERVICE_ORDER",
                           "Invalid cancel service order", str(error)) from None
        outcome, cancel = self.sim.create_cancel(payload, self._base_url())
        if outcome == "not_found":
            raise ApiError(404, "NOT_FOUND", "Service order not found",
                           "No service order with id %s." % payload["serviceOrder"]["id"])
        if outcome == "existing":
            return 200, cancel, {}
        return 201, cancel, {"Location": cancel["href"]}

    def list_cancels(self):
        order_id = self.query.get("serviceOrder.id", [None])[0]
        state = self.query.get("state", [None])[0]
        return 200, self.sim.store.list_cancels(order_id, state), {}

    def get_cancel(self, resource_id):
        cancel = self.sim.store.get_cancel(resource_id)
        if cancel is None:
            raise ApiError(404, "NOT_FOUND", "Cancel service order not found",
                           "No cancelServiceOrder with id %s." % resource_id)
        return 200, cancel, {}

    def create_hub(self):
        payload = self._json_body()
        if not isinstance(payload, dict):
            raise ApiError(400, "INVALID_SUBSCRIPTION", "Invalid subscription",
                           "The body must be a JSON object.")
        callback = payload.get("callback")
        if not isinstance(callback, str) or not callback.startswith(("http://", "https://")):
            raise ApiError(400, "INVALID_SUBSCRIPTION", "Invalid subscription",
                           "callback must be an http(s) URL.")
        query = payload.get("query")
        if query is not None and not isinstance(query, str):
            raise ApiError(400, "INVALID_SUBSCRIPTION", "Invalid subscription",
                           "query must be a string.")
        hub = {"id": str(uuid.uuid4()), "callback": callback, "query": query}
        self.sim.store.add_hub(hub)
        return 201, hub, {"Location": "%s%s/hub/%s" % (self._base_url(), tmf.API_BASE, hub["id"])}

    def delete_hub(self, resource_id):
        if not self.sim.store.delete_hub(resource_id):
            raise ApiError(404, "NOT_FOUND", "Subscription not found",
                           "No hub subscription with id %s." % resource_id)
        return 204, None, {}

    # -- simulator control -------------------------------------------------

    def get_stats(self):
        return 200, self.sim.stats(), {}

    def get_rules(self):
        return 200, self.sim.rules.list(), {}

    def add_rules(self):
        payload = self._json_body()
        if isinstance(payload, dict) and "rules" in payload:
            raw_rules = payload["rules"]
            if not isinstance(raw_rules, list):
                raise ApiError(400, "INVALID_RULE", "Invalid rule", "rules must be a list.")
        else:
            raw_rules = [payload]
        try:
            return 200, self.sim.rules.add(raw_rules), {}
        except RuleError as error:
            raise ApiError(400, "INVALID_RULE", "Invalid rule", str(error)) from None

    def clear_rules(self):
        self.sim.rules.clear()
        return 200, [], {}

    def reset(self):
        self.sim.reset()
        return 200, self.sim.stats(), {}
