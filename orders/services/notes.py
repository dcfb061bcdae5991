"""Notes an agent writes on an order: appended, signed with the actor, never edited.

A note is a TMF622 ``note`` of the order: the channel reads it too and is told of it (an attribute value
change event), as for a note the channel itself adds (``updates``).
"""
from comapp.errors import ValidationFailed
from orders.models import ProductOrder

from .common import actor_of
from .updates import update_order_attributes

NOTE_MAX_LENGTH = 1000


def add_note(*, order: ProductOrder, user, text: str) -> ProductOrder:
    """Append a note signed by the user, in any state. ValidationFailed for an empty or too long note, or past
    the per-order limit (COM_MAX_NOTES_PER_ORDER)."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("A note needs a text")
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationFailed(f"A note is at most {NOTE_MAX_LENGTH} characters")
    actor = actor_of(user)
    return update_order_attributes(order=order, changes={"notes": [{"text": text, "author": actor}]}, actor=actor)
