"""Reads of an order's past, from django-simple-history's records of ProductOrder and ProductOrderItem and from
the OrderEvent timeline. No writes here: what these functions return is rebuilt from history rows and refuses
``save()`` and ``delete()``.

- ``order_as_of(order, when)``: the order and its items as the records stood at that instant.
- ``order_at_version(order, n)``: the order as it was at version ``n`` (``ProductOrder.version``, bumped by every
  command through ``services.common.touch``). Its items are those recorded up to the order's last history row at
  that version: the commands save the items they change before the ``touch`` that bumps the version, so an item's
  change belongs to the version that follows it. Two exceptions, both handled: the version the order was created
  at has the items capture wrote after the order row (up to its ``captured`` event), and the current version has
  every item change recorded since it (so it reads as GET does). An item change a command writes after its last
  ``touch`` shows from the next version on (``order_as_of`` shows it from its instant).
- ``order_versions(order)``: every version the history holds (the counter can jump: only what exists is listed),
  with when, who, why and the business events recorded at that version.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, prefetch_related_objects

from comapp.errors import NotFound
from comapp.tmf import iso
from orders.models import ItemRelationship, OrderEvent, ProductOrder, ProductOrderItem
from orders.selectors import orders_visible_to

ORDER_HISTORY = ProductOrder.history
ITEM_HISTORY = ProductOrderItem.history


@dataclass(frozen=True)
class PastOrder:
    """An order as it was: ``order`` and ``items`` are read-only instances rebuilt from history rows."""

    order: ProductOrder
    items: list[ProductOrderItem]
    version: int
    recorded_at: datetime


@dataclass(frozen=True)
class VersionEvent:
    type: str
    message: str
    actor: str
    occurred_at: datetime
    item_id: str | None


@dataclass(frozen=True)
class OrderVersion:
    """One version of an order: when it was recorded, by whom (``channel:``, ``user:``, ``som:`` or ``system``),
    the change reason of its history row and the business events recorded at it."""

    number: int
    recorded_at: datetime
    state: str
    changed_by: str
    change_reason: str
    events: tuple[VersionEvent, ...]


def visible_order(user, order_id: str) -> ProductOrder:
    """The order as ``selectors.order_for`` finds it (same visibility: another channel's order is a NotFound),
    without loading its items: the history reads load the items of the past."""
    order = orders_visible_to(user).prefetch_related(None).filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"No product order {order_id}")
    return order


def order_as_of(order: ProductOrder, when: datetime) -> PastOrder:
    """The order and its items as recorded at ``when``; NotFound if the order did not exist yet."""
    row = (ORDER_HISTORY.filter(id=order.pk, history_date__lte=when)
           .select_related("channel").order_by("-history_date", "-history_id").first())
    if row is None or row.history_type == "-":
        created = ORDER_HISTORY.filter(id=order.pk).order_by("history_date", "history_id").first()
        since = f": it was created at {iso(created.history_date)}" if created else ""
        raise NotFound(f"Product order {order.pk} did not exist at {iso(when)}{since}")
    return _past(row, Q(history_date__lte=when), recorded_at=when)


def order_at_version(order: ProductOrder, version: int) -> PastOrder:
    """The order as it was at ``version``; NotFound naming the versions that exist if the history has not it."""
    rows = list(ORDER_HISTORY.filter(id=order.pk).order_by("history_date", "history_id")
                .values_list("history_id", "version", "history_date", "history_type"))
    at = [r for r in rows if r[1] == version]
    if not at:
        raise NotFound(f"Product order {order.pk} has no version {version}{_versions_hint(rows)}")
    last = at[-1]
    later = [r for r in rows if r[2] > last[2] or (r[2] == last[2] and r[0] > last[0])]
    if not later:  # the current version: every item change recorded since is part of it
        items = Q()
    elif at[0][3] == "+":  # the version the order was created at: capture writes the items, then CAPTURED
        captured = (OrderEvent.objects.filter(order_id=order.pk, type=OrderEvent.Type.CAPTURED)
                    .order_by("id").values_list("occurred_at", flat=True).first())
        items = Q(history_date__lte=max(last[2], captured or last[2]))
    else:
        items = Q(history_date__lte=last[2])
    row = ORDER_HISTORY.select_related("channel").get(history_id=last[0])
    return _past(row, items, recorded_at=at[0][2])


def previous_version(order: ProductOrder, version: int) -> int | None:
    """The version recorded before ``version`` (the counter can jump), None for the first."""
    return (ORDER_HISTORY.filter(id=order.pk, version__lt=version).order_by("-version")
            .values_list("version", flat=True).first())


def order_versions(order: ProductOrder) -> list[OrderVersion]:
    """Every version in the order's history, oldest first, each with the events recorded at it."""
    rows = (ORDER_HISTORY.filter(id=order.pk).order_by("history_date", "history_id")
            .values("version", "history_date", "history_change_reason", "state", "history_user__username",
                    "history_user__channel__name"))
    versions: dict[int, dict] = {}
    for row in rows:
        entry = versions.get(row["version"])
        if entry is None:  # the row that brought the version: when, who and why
            versions[row["version"]] = entry = {"row": row, "reasons": [], "events": []}
        entry["state"] = row["state"]  # the last row of the version: what it ended as
        if row["history_change_reason"] and row["history_change_reason"] not in entry["reasons"]:
            entry["reasons"].append(row["history_change_reason"])
    numbers = sorted(versions)
    events = (OrderEvent.objects.filter(order_id=order.pk).order_by("id")
              .values_list("order_version", "type", "message", "actor", "occurred_at", "item__item_id"))
    for number, type_, message, actor, occurred_at, item_id in events:
        owner = _owning_version(numbers, number)
        if owner is not None:
            versions[owner]["events"].append(VersionEvent(type_, message, actor, occurred_at, item_id))
    result = []
    for number in numbers:
        entry = versions[number]
        row = entry["row"]
        result.append(OrderVersion(
            number=number, recorded_at=row["history_date"], state=entry["state"],
            changed_by=_who(row, entry["events"]), change_reason="; ".join(entry["reasons"]),
            events=tuple(entry["events"])))
    return result


# --- rebuilding the past ----------------------------------------------------------------------------------

def _refuse_write(*args, **kwargs):
    raise TypeError("A past version of an order is read-only: change the order through its commands.")


def _read_only(instance):
    instance.save = instance.delete = _refuse_write
    return instance


def _past(row, item_rows: Q, *, recorded_at: datetime) -> PastOrder:
    order = _read_only(row.instance)
    order.channel = row.channel  # loaded with the row: rendering it costs no query
    items = [_item(r) for r in _item_rows(row.id, item_rows)]
    # The relationships are rows written with the items and never changed: those between items of the past.
    present = {item.pk for item in items}
    prefetch_related_objects(items, Prefetch(
        "relationships", queryset=ItemRelationship.objects.filter(related_item_id__in=present)
        .select_related("related_item").order_by("id")))
    return PastOrder(order=order, items=items, version=row.version, recorded_at=recorded_at)


def _item_rows(order_id: str, rows: Q):
    """Each item's last history row among ``rows``, in one query; items deleted by then are left out."""
    candidates = ITEM_HISTORY.filter(order_id=order_id).filter(rows)
    later = candidates.filter(id=OuterRef("id")).filter(
        Q(history_date__gt=OuterRef("history_date"))
        | Q(history_date=OuterRef("history_date"), history_id__gt=OuterRef("history_id")))
    return (candidates.exclude(Exists(later)).exclude(history_type="-")
            .select_related("product_offering", "product_specification").order_by("sequence", "id"))


def _item(row) -> ProductOrderItem:
    item = _read_only(row.instance)
    item.product_offering = row.product_offering
    item.product_specification = row.product_specification
    return item


def _versions_hint(rows) -> str:
    numbers = sorted({r[1] for r in rows})
    if not numbers:
        return ""
    return f" (its versions run from {numbers[0]} to {numbers[-1]}; GET its version list to see which exist)"


def _owning_version(numbers: list[int], version: int) -> int | None:
    """The version an event belongs to: its own, else the last recorded before it, else the first."""
    if not numbers:
        return None
    return numbers[max(bisect_right(numbers, version) - 1, 0)]


def _who(row: dict, events: list[VersionEvent]) -> str:
    if row["history_user__channel__name"]:
        return f"channel:{row['history_user__channel__name']}"
    if row["history_user__username"]:
        return f"user:{row['history_user__username']}"
    return events[0].actor if events else "system"
