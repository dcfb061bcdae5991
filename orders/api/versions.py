"""An order's versions in TMF terms (a TMF630 extension of TMF622: ``productOrder/{id}/version``).

``version_entry`` renders one version of ``orders.history.order_versions``; ``diff`` compares two TMF622
representations of the order (as ``orders.integrations.tmf622.product_order`` renders each version), so what
it reports is what a client was shown, attribute by attribute.

What a channel is told of a version is less than what staff see: the people behind a change appear as
``agent`` (their user names are not a partner's business), other actors as ``system``, and only the business
events a channel is told of anyway (capture, state changes, holds and their reasons, attribute changes, notes)
are listed. The order itself is rendered as GET renders it, so a past version shows nothing the current one hides.
"""
import re

from django.urls import reverse

from comapp.tmf import absolute_url, iso
from orders.models import OrderEvent

# Events whose message repeats what the channel sees in the order or its notifications.
CHANNEL_EVENTS = {
    OrderEvent.Type.CAPTURED, OrderEvent.Type.CAPTURE_REPLAYED, OrderEvent.Type.REJECTED, OrderEvent.Type.HELD,
    OrderEvent.Type.HOLD_RELEASED, OrderEvent.Type.FULFILMENT_STARTED, OrderEvent.Type.ITEM_STATE_CHANGED,
    OrderEvent.Type.STATE_CHANGED, OrderEvent.Type.ATTRIBUTES_UPDATED, OrderEvent.Type.NOTE_ADDED,
}
VERSION_FIELDS = {"id", "href", "version", "versionDate", "state", "changedBy", "changeReason", "event", "@type"}
_PERSON = re.compile(r"\buser:[^\s;,)]+")


def version_href(order_id: str, version: int, request=None) -> str:
    return absolute_url(request, reverse("tmf622:order-version", kwargs={"order_id": order_id,
                                                                         "version": str(version)}))


def _actor(actor: str, staff: bool) -> str:
    if staff or actor.startswith("channel:"):
        return actor
    return "agent" if actor.startswith("user:") else "system"


def version_entry(order_id: str, version, request=None, *, staff: bool = False) -> dict:
    """A ``ProductOrderVersion``: number, date, who, why and the events of one ``history.OrderVersion``."""
    events = [e for e in version.events if staff or e.type in CHANNEL_EVENTS]
    reason = version.change_reason if staff else _PERSON.sub("agent", version.change_reason)
    data = {
        "id": str(version.number),
        "href": version_href(order_id, version.number, request),
        "version": version.number,
        "versionDate": iso(version.recorded_at),
        "state": version.state,
        "changedBy": _actor(version.changed_by, staff),
        "event": [
            {k: v for k, v in {"eventType": e.type, "message": e.message, "eventDate": iso(e.occurred_at),
                               "actor": _actor(e.actor, staff), "productOrderItemId": e.item_id}.items()
             if v not in (None, "")}
            for e in events
        ],
        "@type": "ProductOrderVersion",
    }
    if reason:
        data["changeReason"] = reason
    return data


# --- the difference between two representations ------------------------------------------------------

def diff(before: dict, after: dict) -> list[dict]:
    """Every attribute that differs, as ``{"path", "before", "after"}`` (an absent attribute is null).

    Paths name list entries by their ``id`` (``productOrderItem[1].state``), characteristics by their ``name``
    with their value as before and after (``productOrderItem[1].product.productCharacteristic[downloadSpeed]``),
    and entries of other lists by position (``productOrderItem[1].itemPrice[0]``).
    """
    changes: list[dict] = []
    _walk("", before, after, changes)
    return changes


def _is_characteristic(value) -> bool:
    return isinstance(value, dict) and value.get("@type") == "Characteristic" and "name" in value


def _keyed(entries: list) -> dict | None:
    """The entries by id, or (characteristics) by name, when every entry has a distinct one; else None."""
    for key in ("id", "name"):
        if key == "name" and not all(_is_characteristic(e) for e in entries):
            continue
        if all(isinstance(e, dict) and isinstance(e.get(key), (str, int)) for e in entries):
            keyed = {str(e[key]): e for e in entries}
            if len(keyed) == len(entries):
                return keyed
    return None


def _same(before, after) -> bool:
    """Equal as JSON: 1, 1.0 and true are three values."""
    return type(before) is type(after) and before == after


def _walk(path: str, before, after, out: list[dict]) -> None:
    if _is_characteristic(before) or _is_characteristic(after):
        old = before.get("value") if isinstance(before, dict) else before
        new = after.get("value") if isinstance(after, dict) else after
        if not _same(old, new):
            out.append({"path": path, "before": old, "after": new})
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*after, *(k for k in before if k not in after)]:
            _walk(f"{path}.{key}" if path else key, before.get(key), after.get(key), out)
        return
    if isinstance(before, list) or isinstance(after, list):
        old = before if isinstance(before, list) else [] if before is None else None
        new = after if isinstance(after, list) else [] if after is None else None
        if old is not None and new is not None:
            old_keyed, new_keyed = _keyed(old), _keyed(new)
            if old_keyed is not None and new_keyed is not None:
                for key in [*new_keyed, *(k for k in old_keyed if k not in new_keyed)]:
                    _walk(f"{path}[{key}]", old_keyed.get(key), new_keyed.get(key), out)
                return
            for index in range(max(len(old), len(new))):
                _walk(f"{path}[{index}]", old[index] if index < len(old) else None,
                      new[index] if index < len(new) else None, out)
            return
    if not _same(before, after):
        out.append({"path": path, "before": before, "after": after})
