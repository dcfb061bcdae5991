"""Corrections that change no commercial meaning: descriptive attributes, priority, notes (appended).

A note is stored with ``by``, who wrote it as COM knows it (``channel:NAME`` from the token, ``user:NAME`` for
staff), next to the ``author`` as sent. The names COM itself writes (``user:``, ``channel:``, ``system``) are
never accepted as a sent author from someone else: a channel cannot sign a note as staff.
"""
import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from comapp.errors import NotAllowed, PreconditionFailed, Problem, ValidationFailed
from comapp.tmf import etag, iso
from orders.models import OrderEvent, ProductOrder

from .common import lock_order, record_event, touch
from .notifications import notify_order_event

DESCRIPTIVE = ("description", "category", "notification_contact", "priority")
_RESERVED_AUTHOR = re.compile(r"^\s*(user|channel|system)\s*(:|$)", re.IGNORECASE)


def note_author_problems(notes, *, actor: str) -> list[Problem]:
    """A Problem for each note whose sent author claims a name only COM writes (``user:``, ``channel:``,
    ``system``) for someone other than ``actor``."""
    return [Problem(f"notes[{n}].author", "user:, channel: and system are names COM gives; send a person's or a "
                                         "team's name (the note is shown with the channel that wrote it)")
            for n, note in enumerate(notes)
            if (note.get("author") or "") != actor and _RESERVED_AUTHOR.match(note.get("author") or "")]


@transaction.atomic
def update_order_attributes(*, order: ProductOrder, changes: dict, actor: str,
                            expected_version: int | None = None) -> ProductOrder:
    """Apply descriptive changes and append notes.

    ``expected_version``: the version the change was prepared against (``If-Match``); None applies it to whatever
    version the order is at. Raises PreconditionFailed when the order is at another version, NotAllowed for
    descriptive changes to a terminal order (notes may always be added).
    """
    order = lock_order(order.pk)
    check_version(order, expected_version)
    descriptive = {k: v for k, v in changes.items() if k in DESCRIPTIVE and getattr(order, k) != v}
    notes = changes.get("notes") or []
    if descriptive and order.is_terminal:
        raise NotAllowed(f"Order {order.pk} is {order.state}: only notes can be added.")
    if len(order.notes) + len(notes) > settings.COM_MAX_NOTES_PER_ORDER:
        raise ValidationFailed(problems=[Problem("note", f"at most {settings.COM_MAX_NOTES_PER_ORDER} notes per "
                                                         f"order (it has {len(order.notes)})")])
    problems = note_author_problems(notes, actor=actor)
    if problems:
        raise ValidationFailed(problems=problems)
    if not descriptive and not notes:
        return order
    before = {k: getattr(order, k) for k in descriptive}
    for name, value in descriptive.items():
        setattr(order, name, value)
    now = timezone.now()
    for note in notes:
        order.notes = [*order.notes, {"id": str(len(order.notes) + 1), "author": note.get("author") or actor,
                                      "by": actor, "date": iso(now), "text": note["text"]}]
    touch(order, reason=f"attributes updated by {actor}")
    if descriptive:
        record_event(order, OrderEvent.Type.ATTRIBUTES_UPDATED, actor=actor,
                     message="Changed " + ", ".join(sorted(descriptive)),
                     payload={"before": before, "after": descriptive})
    for note in notes:
        record_event(order, OrderEvent.Type.NOTE_ADDED, actor=actor, message=note["text"][:200])
    fields = sorted(descriptive) + (["note"] if notes else [])
    notify_order_event(order, "ProductOrderAttributeValueChangeEvent", fields=fields)
    return order


def check_version(order: ProductOrder, expected_version: int | None) -> None:
    """PreconditionFailed unless the order is at ``expected_version`` (None: no condition).

    Called on the locked row: no other command can change the version between this check and the caller's commit.
    """
    if expected_version is not None and order.version != expected_version:
        raise PreconditionFailed(
            f"Order {order.pk} is at version {order.version} (ETag {etag(order.version)}), not version "
            f"{expected_version}: read it again and decide on the current order.",
            current_version=order.version)
