"""The outbox: record an outbound message with the change that causes it; claim it, fence its result.

``enqueue`` is called inside the command's transaction and queues the delivery task on commit. ``claim``
takes a message for a lease under a fresh token; ``record`` writes the result only while that token is
still the message's, so a worker whose lease ran out (and whose message another worker re-sent) cannot
overwrite the newer result. ``due`` is the sweep: pending, due, unclaimed messages with no delivery task
already queued. Sending is ``services.delivery``; nothing here knows what a message means.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orders.models import OutboxMessage

from . import dispatch

log = logging.getLogger(__name__)


def lease() -> timedelta:
    """How long a claim (or a queued delivery task) holds a message before a sweep may take it again."""
    return timedelta(seconds=settings.COM_TASK_LEASE_SECONDS)


def enqueue(*, kind: str, dedup_key: str, url: str, payload: dict | None = None, notification=None, order=None,
            service_order=None, subscription=None, cancellation=None) -> OutboxMessage:
    """Record an outbound message in the current transaction and send it once that commits."""
    message, created = OutboxMessage.objects.get_or_create(
        dedup_key=dedup_key,
        defaults=dict(kind=kind, url=url, payload=payload, notification=notification, order=order,
                      service_order=service_order, subscription=subscription, cancellation=cancellation,
                      max_attempts=settings.COM_OUTBOX_MAX_ATTEMPTS, enqueued_until=timezone.now() + lease()),
    )
    if created:
        dispatch.after_commit("deliver_outbox_message", message.pk)
    return message


def backoff_seconds(attempts: int) -> float:
    return min(settings.COM_OUTBOX_BACKOFF * (2 ** max(attempts - 1, 0)), settings.COM_OUTBOX_BACKOFF_CAP)


def claim(message_id: int) -> tuple[OutboxMessage, str] | None:
    """Take a due message for a lease; returns it with the claim's token, or None if it is not ours to send."""
    now = timezone.now()
    with transaction.atomic():
        # skip_locked: two workers handed the same id (task + sweep) never both send it.
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=message_id, status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .select_related("notification", "subscription__channel")
            .first()
        )
        if message is None:
            return None
        token = uuid.uuid4().hex
        if message.lease_token:  # the last claim ran out with nothing recorded: that attempt's fate is unknown
            message.may_have_reached = True
        message.attempts += 1
        message.claimed_until = now + lease()
        message.lease_token = token
        message.save(update_fields=["attempts", "claimed_until", "lease_token", "may_have_reached"])
        return message, token


def record(message_id: int, token: str, *, outcome: str, status: int | None = None, error: str = "",
           response_body: dict | None = None, excerpt: str = "", connected: bool = True) -> OutboxMessage | None:
    """Write a delivery result if ``token`` still holds the claim; None (nothing written) if it does not.

    Runs in the caller's transaction (which also records the result's consequence). ``outcome`` is
    delivered, refused, dead or retry; ``connected`` False: the attempt never reached the receiver (no
    connection could be made), so it cannot have been acted on.
    """
    message = OutboxMessage.objects.select_for_update().get(pk=message_id)
    if message.lease_token != token or message.status != OutboxMessage.Status.PENDING:
        log.warning("outbox %s: result of a lost claim discarded (%s)", message.dedup_key, outcome)
        return None
    now = timezone.now()
    message.claimed_until = None
    message.lease_token = ""
    message.response_status = status
    message.response_body = response_body
    message.response_excerpt = excerpt[:300]
    message.last_error = error[:1000]
    message.may_have_reached = message.may_have_reached or connected
    if outcome == "delivered":
        message.status = OutboxMessage.Status.DELIVERED
        message.delivered_at = now
    elif outcome in ("refused", "dead"):
        message.status = OutboxMessage.Status.DEAD
    else:
        message.next_attempt_at = now + timedelta(seconds=backoff_seconds(message.attempts))
        message.enqueued_until = message.next_attempt_at + lease()
        countdown = max((message.next_attempt_at - now).total_seconds(), 0)
        dispatch.after_commit("deliver_outbox_message", message.pk, countdown=countdown)
    message.save()
    return message


def resend(message: OutboxMessage) -> None:
    """Give a dead message a fresh set of attempts (an agent's retry); the receiver dedups by its key."""
    message.status = OutboxMessage.Status.PENDING
    message.attempts = 0
    message.next_attempt_at = timezone.now()
    message.claimed_until = None
    message.lease_token = ""
    message.enqueued_until = timezone.now() + lease()
    message.save()
    dispatch.after_commit("deliver_outbox_message", message.pk)


def due(limit: int = 500) -> list[int]:
    """Pending messages that are due, unclaimed and not already queued: marked queued and returned."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .filter(Q(enqueued_until__isnull=True) | Q(enqueued_until__lt=now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        OutboxMessage.objects.filter(pk__in=ids).update(enqueued_until=now + lease())
    return ids
