"""Corrections that change no commercial meaning: descriptive attributes, priority, notes (appended)."""
from django.db import transaction
from django.utils import timezone

from comapp.errors import NotAllowed
from comapp.tmf import iso
from orders.models import OrderEvent, ProductOrder

from .common import lock_order, record_event, touch
from .notifications import notify_order_event

DESCRIPTIVE = ("description", "category", "notification_contact", "priority")


@transaction.atomic
def update_order_attributes(*, order: ProductOrder, changes: dict, actor: str) -> ProductOrder:
    """Apply descriptive changes and append notes.

    Raises NotAllowed for descriptive changes to a terminal order (notes may always be added).
    """
    order = lock_order(order.pk)
    descriptive = {k: v for k, v in changes.items() if k in DESCRIPTIVE and getattr(order, k) != v}
    notes = changes.get("notes") or []
    if descriptive and order.is_terminal:
        raise NotAllowed(f"Order {order.pk} is {order.state}: only notes can be added.")
    if not descriptive and not notes:
        return order
    before = {k: getattr(order, k) for k in descriptive}
    for name, value in descriptive.items():
        setattr(order, name, value)
    now = timezone.now()
    for note in notes:
        order.notes = [*order.notes, {"id": str(len(order.notes) + 1), "author": note.get("author") or actor,
                                      "date": iso(now), "text": note["text"]}]
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
