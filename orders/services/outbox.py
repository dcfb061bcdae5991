"""The outbox relay: write a message with the change that causes it; deliver it after commit, bounded.

``enqueue`` is called inside the command's transaction. ``deliver`` claims one message for a lease,
POSTs it outside any transaction (no HTTP while holding row locks), then records the result together
with its domain consequence (a service order acknowledged, refused or given up on). A worker that dies
mid-send leaves the lease to expire; the message is sent again and the receiver recognises it by its
stable id. ``relay_due`` is the periodic sweep that makes a lost task harmless.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orders.models import OutboxMessage

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)


def enqueue(*, kind: str, dedup_key: str, url: str, payload: dict, order=None, service_order=None,
            subscription=None) -> OutboxMessage:
    """Record an outbound message in the current transaction and send it once that commits."""
    message, created = OutboxMessage.objects.get_or_create(
        dedup_key=dedup_key,
        defaults=dict(kind=kind, url=url, payload=payload, order=order, service_order=service_order,
                      subscription=subscription, max_attempts=settings.COM_OUTBOX_MAX_ATTEMPTS),
    )
    if created:
        from orders.tasks import deliver_outbox_message

        transaction.on_commit(lambda: deliver_outbox_message.delay(message.pk))
    return message


def body_bytes(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_seconds(attempts: int) -> float:
    return min(settings.COM_OUTBOX_BACKOFF * (2 ** max(attempts - 1, 0)), settings.COM_OUTBOX_BACKOFF_CAP)


def _claim(message_id: int) -> OutboxMessage | None:
    now = timezone.now()
    with transaction.atomic():
        # skip_locked: two workers handed the same id (task + sweep) never both send it.
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .first()
        )
        if message is None:
            return None
        message.attempts += 1
        message.claimed_until = now + LEASE
        message.save(update_fields=["attempts", "claimed_until"])
        return message


def _headers(message: OutboxMessage, body: bytes) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if message.kind == OutboxMessage.Kind.NOTIFICATION and message.subscription_id:
        headers["X-Signature"] = sign(message.subscription.channel.webhook_secret, body)
    return headers


def deliver(message_id: int) -> str:
    """Try to send one message; returns what happened (delivered, refused, retry, dead, skipped)."""
    message = _claim(message_id)
    if message is None:
        return "skipped"
    if message.kind == OutboxMessage.Kind.NOTIFICATION and message.subscription_id is None:
        # The listener was removed (DELETE /hub) after the event was queued: the channel no longer wants it,
        # and without its subscription there is no channel secret to sign it with. Never send it unsigned.
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=OutboxMessage.Status.DEAD, claimed_until=None, last_error="listener removed before delivery")
        return "dead"
    body = body_bytes(message.payload)
    status, response_body, error = None, None, ""
    try:
        response = requests.post(message.url, data=body, headers=_headers(message, body),
                                 timeout=settings.COM_HTTP_TIMEOUT)
        status = response.status_code
        try:
            response_body = response.json()
        except ValueError:
            response_body = {"text": response.text[:1000]}
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]

    transient = status is None or status >= 500 or status in (408, 429)
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        message.claimed_until = None
        message.response_status = status
        message.response_body = response_body
        message.last_error = error or ("" if status and status < 300 else f"HTTP {status}")
        if status is not None and 200 <= status < 300:
            message.status = OutboxMessage.Status.DELIVERED
            message.delivered_at = timezone.now()
            outcome = "delivered"
        elif not transient:
            message.status = OutboxMessage.Status.DEAD
            outcome = "refused"
        elif message.attempts >= message.max_attempts:
            message.status = OutboxMessage.Status.DEAD
            outcome = "dead"
        else:
            message.next_attempt_at = timezone.now() + timedelta(seconds=backoff_seconds(message.attempts))
            outcome = "retry"
        message.save()
        _consequence(message, outcome)
    log.info("outbox %s %s -> %s (attempt %s, %s)", message.kind, message.dedup_key, outcome, message.attempts,
             status or error)
    if outcome == "retry":
        from orders.tasks import deliver_outbox_message

        countdown = (message.next_attempt_at - timezone.now()).total_seconds()
        transaction.on_commit(lambda: deliver_outbox_message.apply_async((message.pk,), countdown=max(countdown, 0)))
    return outcome


def _consequence(message: OutboxMessage, outcome: str) -> None:
    """What a delivery outcome means for the order (service orders only; notifications just end).

    Runs with the message row locked and then locks the order: no path that holds an order lock ever
    locks an existing outbox row (``enqueue`` only inserts), so the two orders cannot deadlock.
    """
    if message.kind != OutboxMessage.Kind.SERVICE_ORDER or outcome == "retry":
        return
    from . import fulfilment

    if outcome == "delivered":
        fulfilment.service_order_accepted(service_order_id=message.service_order_id,
                                          response=message.response_body or {})
    else:
        fulfilment.service_order_refused(
            service_order_id=message.service_order_id,
            error={"code": "SOM_REFUSED" if outcome == "refused" else "SOM_UNREACHABLE",
                   "status": message.response_status, "attempts": message.attempts,
                   "detail": message.response_body or message.last_error},
        )


def relay_due(limit: int = 500) -> list[int]:
    """Ids of pending messages that are due and not claimed: the sweep hands each to a delivery task."""
    now = timezone.now()
    return list(
        OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
