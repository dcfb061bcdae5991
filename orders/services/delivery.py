"""Deliver one outbox message over HTTP and record what it means.

``deliver`` claims the message (``outbox.claim``), POSTs it outside any transaction (no HTTP while holding
row locks), then in one transaction records the result (``outbox.record``, fenced by the claim's token) and
its consequence for the order: a service order accepted, refused, or given up on. Before giving up on a
service order whose attempts are spent, COM asks the SOM whether it has it after all (``GET
serviceOrder?externalId=``) and adopts it if so: a service SOM received is never abandoned, and never sent
twice (the resend carries the same ``externalId``).

Nothing follows a redirect, at most a few hundred bytes of a channel's answer are kept, and a channel's callback
is checked again before each delivery (in production its host must still resolve to public addresses only).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import requests
import urllib3
from django.conf import settings
from django.db import transaction

from comapp import signing
from comapp.errors import ValidationFailed
from orders import webhooks
from orders.integrations import som as som_api
from orders.models import FalloutStage, OutboxMessage

from . import cancellation, liveness, outbox, submission
from .common import lock_order

log = logging.getLogger(__name__)
SOM_ANSWER_LIMIT = 256 * 1024  # a service order as SOM echoes it; only its ids are kept
LISTENER_ANSWER_LIMIT = 300


@dataclass(frozen=True)
class HttpResult:
    status: int | None
    body: dict | None = None
    excerpt: str = ""
    error: str = ""
    connected: bool = True  # False: no connection was ever made, the receiver cannot have acted on it


def body_bytes(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _headers(message: OutboxMessage, body: bytes) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if message.kind == OutboxMessage.Kind.NOTIFICATION:
        headers["X-Signature"] = signing.sign(message.subscription.channel.webhook_secret, body)
    return headers


def _read_limited(response: requests.Response, limit: int) -> bytes:
    data = b""
    for chunk in response.iter_content(chunk_size=8192):
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit]


def _connected(exc: requests.RequestException) -> bool:
    """Whether the request may have reached the receiver: False only when no connection was ever made (refused,
    unresolvable host, connect timeout); a read timeout or a connection broken later may follow a request SOM
    received and acted on."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return not isinstance(reason, urllib3.exceptions.NewConnectionError)
    return True


def _post(message: OutboxMessage) -> HttpResult:
    body = body_bytes(message.body)
    to_som = message.kind != OutboxMessage.Kind.NOTIFICATION
    limit = SOM_ANSWER_LIMIT if to_som else LISTENER_ANSWER_LIMIT
    try:
        with requests.post(message.url, data=body, headers=_headers(message, body), stream=True,
                           allow_redirects=False, timeout=settings.COM_HTTP_TIMEOUT) as response:
            raw = _read_limited(response, limit)
            status = response.status_code
    except requests.RequestException as exc:
        return HttpResult(status=None, error=f"{type(exc).__name__}: {exc}", connected=_connected(exc))
    excerpt = raw[:LISTENER_ANSWER_LIMIT].decode("utf-8", "replace")
    parsed = None
    if to_som:
        try:
            answer = json.loads(raw)
            if isinstance(answer, dict):
                parsed = {k: answer[k] for k in ("id", "href", "state", "externalId") if k in answer}
        except ValueError:
            parsed = None
    error = "" if 200 <= status < 300 else (
        f"HTTP {status}: redirect not followed" if 300 <= status < 400 else f"HTTP {status}")
    return HttpResult(status=status, body=parsed, excerpt=excerpt, error=error)


def _outcome(message: OutboxMessage, result: HttpResult) -> str:
    if result.status is not None and 200 <= result.status < 300:
        return "delivered"
    transient = result.status is None or result.status >= 500 or result.status in (408, 429)
    if not transient:
        return "refused"
    return "dead" if message.attempts >= message.max_attempts else "retry"


def _adopt_if_som_has_it(message: OutboxMessage) -> dict | None:
    """Attempts spent: does the SOM have this service order after all? Its answer, or None."""
    service_order = message.service_order
    try:
        return som_api.find_service_order(service_order.som, service_order.external_id)
    except som_api.SomUnavailable as exc:
        log.warning("outbox %s: asking SOM for %s failed: %s", message.dedup_key, service_order.external_id, exc)
        return None


def deliver(message_id: int) -> str:
    """Try to send one message; returns what happened (delivered, adopted, refused, retry, dead, skipped, stale)."""
    claimed = outbox.claim(message_id)
    if claimed is None:
        return "skipped"
    message, token = claimed
    if message.kind == OutboxMessage.Kind.NOTIFICATION and message.subscription_id is None:
        # The listener was removed (DELETE /hub) after the event was queued: the channel no longer wants it,
        # and without its subscription there is no channel secret to sign it with. Never send it unsigned.
        with transaction.atomic():
            outbox.record(message.pk, token, outcome="dead", error="listener removed before delivery", connected=False)
        return "dead"
    if message.kind == OutboxMessage.Kind.NOTIFICATION:
        try:
            webhooks.check_callback_url(message.url)  # again: the name may resolve elsewhere since registration
        except webhooks.CallbackUnresolved as unresolved:
            # it resolved at registration: a DNS failure now is tried again later, as a failed POST would be
            outcome = "dead" if message.attempts >= message.max_attempts else "retry"
            with transaction.atomic():
                outbox.record(message.pk, token, outcome=outcome, connected=False,
                              error=f"callback not called: {unresolved.message}")
            return outcome
        except ValidationFailed as refused:
            with transaction.atomic():
                outbox.record(message.pk, token, outcome="dead", connected=False,
                              error=f"callback refused: {refused.message}")
            return "dead"
    result = _post(message)
    outcome = _outcome(message, result)
    adopted = None
    if outcome == "dead" and message.kind == OutboxMessage.Kind.SERVICE_ORDER:
        adopted = _adopt_if_som_has_it(message)
        if adopted is not None:
            outcome = "adopted"
    with transaction.atomic():
        recorded = outbox.record(
            message.pk, token, outcome="delivered" if outcome == "adopted" else outcome, status=result.status,
            error=result.error, response_body=result.body if adopted is None else
            {k: adopted.get(k) for k in ("id", "href", "state", "externalId")}, excerpt=result.excerpt,
            connected=result.connected,
        )
        if recorded is None:
            return "stale"
        if recorded.kind != OutboxMessage.Kind.NOTIFICATION and outcome != "retry":
            _consequence(recorded, outcome)
    log.info("outbox %s %s -> %s (attempt %s, %s)", message.kind, message.dedup_key, outcome, message.attempts,
             result.status or result.error)
    return outcome


def _consequence(message: OutboxMessage, outcome: str) -> None:
    """What a delivery outcome means for the order. An exception here is recorded, never looped on: the message
    is committed delivered (or dead) all the same, so no delivery will come to record its answer again, and
    an INTERNAL_ERROR fallout is opened at once (its retry records SOM's answer again: ``repairs``).

    Runs with the message row locked and then locks the order. Paths that hold an order lock and then touch
    an existing outbox row never wait for one a delivery holds: ``cancellation.withdraw`` locks it with
    ``skip_locked`` (a message locked by a delivery counts as being sent); an agent's resend (``repairs`` ->
    ``outbox.resend``) updates a dead message, which a delivery locks only in ``outbox.record`` for a lost claim,
    and then returns without locking the order; ``outbox.enqueue`` only inserts. So the two lock orders cannot
    deadlock.
    """
    try:
        with transaction.atomic():
            if message.kind == OutboxMessage.Kind.CANCEL_SERVICE_ORDER:
                lock_order(message.order_id)
                if outcome == "delivered":
                    cancellation.cancellation_accepted(cancellation_id=message.cancellation_id,
                                                       response=message.response_body or {})
                else:
                    cancellation.cancellation_ended(cancellation_id=message.cancellation_id,
                                                    state="terminatedWithError", actor="system",
                                                    errors=[{"code": "SOM_REFUSED" if outcome == "refused" else
                                                             "SOM_UNREACHABLE", "reason": message.last_error}])
            elif outcome in ("delivered", "adopted"):
                submission.service_order_accepted(service_order_id=message.service_order_id,
                                                  response=message.response_body or {}, adopted=outcome == "adopted")
            else:
                submission.service_order_refused(
                    service_order_id=message.service_order_id,
                    error={"code": "SOM_REFUSED" if outcome == "refused" else "SOM_UNREACHABLE",
                           "status": message.response_status, "attempts": message.attempts,
                           "detail": message.response_excerpt or message.last_error},
                )
    except Exception as exc:
        if liveness.is_transient(exc):
            raise
        liveness.record_processing_error(order_id=message.order_id, stage=FalloutStage.SUBMISSION,
                                         key=message.dedup_key, exc=exc, final=True)
