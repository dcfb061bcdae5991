"""Drive orders the way the worker and the SOM would, on plain SQLite: no worker, no broker, no network.

Capture, checks and fulfilment are COM's real services, called as its Celery tasks call them. The SOM is
played with the SOM simulator's own payload functions (``somsim.tmf``): the service order COM queued in
its outbox is turned into SOM's order, progressed step by step, and every step's TMF641 event is signed,
posted to COM's listener and applied, as the ``process_som_event`` task would.
"""
from __future__ import annotations

import copy
import json

from django.conf import settings
from django.db import transaction
from django.test import Client

from comapp.signing import sign
from orders.api import mappers
from orders.api.serializers import ProductOrderCreateSerializer
from orders.models import Fallout, InboundEvent, ProductOrder, ServiceOrder
from orders.services import outbox, som_events, submission
from orders.services.capture import capture_order
from orders.services.checks import run_order_checks
from somsim import tmf as somtmf

from .bodies import item, order_body

LISTENER = "/tmf-api/serviceOrdering/v4/listener"
STATE_CHANGE = somtmf.STATE_CHANGE_EVENT
ITEM_CHANGE = somtmf.ATTRIBUTE_VALUE_CHANGE_EVENT


# --- bodies --------------------------------------------------------------------------------------

def superfibre(ext="sf-1", customer="CUST-1001", place="ADDR-1001", **characteristics) -> dict:
    characteristics = {"downloadSpeed": 200, **characteristics}
    return order_body(ext, customer=customer, productOrderItem=[item(place=place, **characteristics)])


def installation(ext="inst-1", customer="CUST-1001") -> dict:
    """One item whose only CFS (ONT-Installation at a GPON address) has no retries and the fallout policy."""
    return order_body(ext, customer=customer, productOrderItem=[
        item(offering="PO-INSTALL", installationType="standard", appointment="APT-1")])


# --- COM commands, as the tasks call them -----------------------------------------------------------

def capture(channel, body: dict) -> ProductOrder:
    """The API's capture path without HTTP: validate the TMF622 body, map it, capture it."""
    serializer = ProductOrderCreateSerializer(data=body)
    serializer.is_valid(raise_exception=True)
    order, created = capture_order(channel=channel, draft=mappers.order_draft(serializer.validated_data),
                                   fingerprint=mappers.fingerprint(body))
    assert created
    return order


def submit(channel, body: dict) -> ProductOrder:
    """Capture, then run the checks as the ``run_order_checks`` task would."""
    order = capture(channel, body)
    run_order_checks(order_id=order.pk)
    order.refresh_from_db()
    return order


def after_the_lease():
    """A moment after work queued now is no longer left to its task (COM_TASK_LEASE_SECONDS): the sweeps' view."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    return timezone.now() + timedelta(seconds=settings.COM_TASK_LEASE_SECONDS + 1)


def service_orders(order) -> list[ServiceOrder]:
    return list(ServiceOrder.objects.filter(order_id=order.pk).order_by("sequence"))


def plan(order) -> list[tuple[str, str, str, str]]:
    """(ref, service, action, state) of every service order item of the order."""
    from orders.models import ServiceOrderItem

    return [(s.item_ref, s.service_specification.code, s.action, s.state)
            for s in ServiceOrderItem.objects.filter(order_id=order.pk).select_related("service_specification")
            .order_by("sequence")]


def sign_body(body: bytes) -> str:
    return sign(settings.COM_SOM_EVENT_SECRET, body)


def post_event(payload, *, signature: str | None = "sign", raw: bytes | None = None,
               path: str = "serviceOrderStateChangeEvent"):
    """POST an event to COM's TMF641 listener as SOM does: raw JSON bytes and their HMAC."""
    body = raw if raw is not None else json.dumps(payload).encode()
    if raw is None and isinstance(payload, dict) and isinstance(payload.get("eventType"), str):
        path = payload["eventType"][0].lower() + payload["eventType"][1:]
    headers = {}
    if signature == "sign":
        headers["X-Signature"] = sign_body(body)
    elif signature is not None:
        headers["X-Signature"] = signature
    return Client().post(f"{LISTENER}/{path}", data=body, content_type="application/json", headers=headers)


# --- the SOM side ----------------------------------------------------------------------------------

class Som:
    """A SOM answering COM's service orders, built from the simulator's own TMF641 functions."""

    def __init__(self):
        self.orders: dict[str, dict] = {}  # COM service order id -> SOM's order (TMF641 JSON)
        self.failures: dict[str, int] = {}  # CFS code -> how many more times it fails

    def fail(self, code: str, times: int = 1000) -> None:
        self.failures[code] = times

    def accept(self, service_order: ServiceOrder) -> dict:
        """SOM answers 201 with its order: COM records the delivery and the acceptance, as the outbox relay does."""
        message = service_order.outbox_message
        som_order = somtmf.new_order(message.payload, "http://som.test")
        self.orders[service_order.pk] = som_order
        claimed = outbox.claim(message.pk)
        with transaction.atomic():
            if claimed is not None:
                outbox.record(message.pk, claimed[1], outcome="delivered", status=201,
                              response_body={"id": som_order["id"], "state": som_order["state"]})
            submission.service_order_accepted(service_order_id=service_order.pk, response=copy.deepcopy(som_order))
        return som_order

    def receive(self, service_order: ServiceOrder) -> dict:
        """SOM creates its order but COM has not yet heard the 201 (an event may overtake it)."""
        som_order = somtmf.new_order(service_order.outbox_message.payload, "http://som.test")
        self.orders[service_order.pk] = som_order
        return som_order

    def event(self, service_order: ServiceOrder, event_type: str = STATE_CHANGE) -> dict:
        """The event SOM would send now: a snapshot of its order."""
        return somtmf.make_event(event_type, copy.deepcopy(self.orders[service_order.pk]))

    def start(self, service_order) -> InboundEvent:
        somtmf.start(self.orders[service_order.pk], somtmf.utc_now())
        return self.report(self.event(service_order))

    def complete(self, service_order, ref: str) -> InboundEvent:
        somtmf.complete_item(self.orders[service_order.pk], ref)
        return self.report(self.event(service_order, ITEM_CHANGE))

    def fail_item(self, service_order, ref: str, message: str = "port unavailable") -> InboundEvent:
        somtmf.fail_item(self.orders[service_order.pk], ref, "simulated", message, somtmf.utc_now())
        return self.report(self.event(service_order, ITEM_CHANGE))

    def finish(self, service_order) -> InboundEvent:
        somtmf.finish(self.orders[service_order.pk], somtmf.utc_now())
        return self.report(self.event(service_order))

    def report(self, payload: dict) -> InboundEvent:
        """Post the event to the listener and apply it, as the process_som_event task would."""
        response = post_event(payload)
        assert response.status_code == 201, response.content
        event = InboundEvent.objects.get(event_id=payload["eventId"])
        som_events.apply_som_event(inbound_event_id=event.pk)
        return event

    def run(self, service_order: ServiceOrder) -> None:
        """Accept, start, build every item (failing those told to fail) and finish, as the simulator does.

        Picks up where the service order is: steps already taken are not taken again.
        """
        if service_order.pk not in self.orders:
            self.accept(service_order)
        som_order = self.orders[service_order.pk]
        if som_order["state"] == "acknowledged":
            self.start(service_order)
        for line in sorted(som_order["serviceOrderItem"], key=somtmf.item_sort_key):
            if line["state"] in somtmf.TERMINAL_ITEM_STATES:
                continue
            code = line["service"]["serviceSpecification"]["id"]
            if self.failures.get(code, 0) > 0:
                self.failures[code] -= 1
                self.fail_item(service_order, line["id"], f"{code} could not be built")
            else:
                self.complete(service_order, line["id"])
        if som_order["state"] not in somtmf.TERMINAL_ORDER_STATES:
            self.finish(service_order)

    def fulfil(self, order: ProductOrder, *, limit: int = 10) -> ProductOrder:
        """Run every service order COM has sent for the order, and those it sends next, until it sends no more."""
        for _ in range(limit):
            live = [so for so in service_orders(order) if not so.is_terminal
                    and self.orders.get(so.pk, {}).get("state") not in somtmf.TERMINAL_ORDER_STATES]
            if not live:
                break
            for service_order in live:
                self.run(service_order)
        order.refresh_from_db()
        return order


class HttpSom:
    """The same SOM answering COM's TMF641 reads over HTTP (a real server on a free port): ``GET serviceOrder/{id}``,
    ``GET serviceOrder?externalId=``, ``POST /hub``; ``POST serviceOrder`` answers ``post_status``."""

    def __init__(self, som: Som, post_status: int = 503):
        import http.server
        import threading
        from urllib.parse import parse_qs, urlsplit

        self.som, self.post_status, self.requests, self.hubs = som, post_status, [], []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _send(self, status, body=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                parts = urlsplit(self.path)
                owner.requests.append(("GET", self.path))
                orders = list(owner.som.orders.values())
                if parts.path.endswith("/serviceOrder"):
                    wanted = parse_qs(parts.query).get("externalId", [None])[0]
                    return self._send(200, [o for o in orders if wanted in (None, o.get("externalId"))])
                found = [o for o in orders if o["id"] == parts.path.rsplit("/", 1)[-1]]
                return self._send(200, found[0]) if found else self._send(404, {"code": "404"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"null")
                owner.requests.append(("POST", self.path))
                if self.path.endswith("/hub"):
                    owner.hubs.append(body)
                    return self._send(201, {"id": f"hub-{len(owner.hubs)}", **body})
                return self._send(owner.post_status, {"code": str(owner.post_status)})

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/tmf-api/serviceOrdering/v4"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def in_data_fallout(web, som, ext, customer):
    """SOM refuses the ONT installation for data it cannot use: a data fallout, fixed by a correction first."""
    order = submit(web.channel, installation(ext, customer=customer))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    [line] = [line for line in som.orders[service_order.pk]["serviceOrderItem"]
              if line["service"]["serviceSpecification"]["id"] == "ONT-Installation"]
    som.fail_item(service_order, line["id"], "invalid installation address: unknown building")
    [fallout] = Fallout.objects.filter(order=order, resolved_at__isnull=True)
    assert fallout.category == "data"
    return order, fallout
