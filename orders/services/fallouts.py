"""Opening and closing fallouts: putting stuck work in front of an agent, and taking it back.

``open_service_fallout`` holds the product items a failed service serves (one fallout for a shared CFS,
whatever the number of items); ``open_order_fallout`` holds a stuck order as a whole (checks that keep
raising, the watchdog finding nothing in flight). Each is classified, so the order desk proposes the repair
that class calls for, and keyed by root cause, so the same problem on many orders is worked once.
Callers hold the order lock inside a transaction; ``aggregation.refresh_states`` then holds the order.
"""
from __future__ import annotations

from django.utils import timezone

from orders.models import Fallout, FalloutCategory, FalloutStage, ItemState, OrderEvent, ProductOrder, ServiceOrderItem

from .common import record_event, save_with_reason

CATEGORY_OF = {
    "SOM_UNREACHABLE": FalloutCategory.TRANSIENT,
    "SOM_SILENT": FalloutCategory.TRANSIENT,
    "SOM_CANCELLED": FalloutCategory.TRANSIENT,
    "UNEXPECTED_SOM_STATE": FalloutCategory.TRANSIENT,
    "SOM_REFUSED": FalloutCategory.DATA,
    "SOM_INFORMATION_REQUIRED": FalloutCategory.DATA,
    "INVENTORY_CONFLICT": FalloutCategory.DATA,
    "PRODUCT_CHANGED": FalloutCategory.DATA,
    "SERVICE_FAILED": FalloutCategory.RESOURCE,
    "SERVICE_PARTIAL": FalloutCategory.RESOURCE,
    "DEPENDENCY_FAILED": FalloutCategory.RESOURCE,
    "COMPENSATION_FAILED": FalloutCategory.RESOURCE,
    "COMPENSATION_MANUAL": FalloutCategory.RESOURCE,  # a person must revert what COM cannot undo
    "PLAN_EMPTY": FalloutCategory.CONFIGURATION,
    "INTERNAL_ERROR": FalloutCategory.INTERNAL,
    "STALLED": FalloutCategory.INTERNAL,
}
# What each class of fallout calls for, first proposed first: the order desk offers the repairs in this order.
#   retry: send again (``repairs.retry_fallout``); correct: correct a characteristic and resubmit (a correction
#   mutation, then a retry); skip: go on without an optional service (``repairs.skip_optional_service``);
#   cancelItem: cancel the items it holds (a cancellation mutation); completeByHand: done outside SOM, with
#   evidence (a manual completion mutation, approved by a supervisor); fail: give up (``repairs.fail_fallout``).
REPAIRS_OF = {
    FalloutCategory.TRANSIENT: ("retry", "cancelItem", "fail"),
    FalloutCategory.DATA: ("correct", "retry", "cancelItem", "completeByHand", "fail"),
    FalloutCategory.RESOURCE: ("retry", "skip", "cancelItem", "completeByHand", "fail"),
    FalloutCategory.CONFIGURATION: ("cancelItem", "fail", "retry"),
    FalloutCategory.INTERNAL: ("retry", "completeByHand", "cancelItem", "fail"),
}
CLASS_EXPLAINED = {
    FalloutCategory.TRANSIENT: "SOM or the way to it failed for a while: sending again usually works.",
    FalloutCategory.DATA: "The request carried data SOM could not use: correct it, then send again.",
    FalloutCategory.RESOURCE: "Something needed was missing (a port, stock, a technician): retry once it is "
                              "there, or go on without an optional service.",
    FalloutCategory.CONFIGURATION: "The catalog builds nothing that fits: fix the catalog and retry, or cancel "
                                   "the item.",
    FalloutCategory.INTERNAL: "COM itself failed: retry once the cause is fixed.",
}


def repairs_for(fallout: Fallout) -> list[str]:
    """The repairs a fallout may take, the one its class calls for first. An optional service's resource
    shortage proposes going on without it first; an order-level fallout has no service to correct, skip or
    complete by hand."""
    if fallout.reason_code == "COMPENSATION_MANUAL":
        return ["fail"]  # the agent reverts it by hand, then closes it: nothing to retry, skip or complete
    repairs = list(REPAIRS_OF.get(fallout.category, REPAIRS_OF[FalloutCategory.INTERNAL]))
    service = fallout.service_order_item if fallout.service_order_item_id else None
    if service is None:
        return [r for r in repairs if r not in ("correct", "skip", "completeByHand")]
    if service.mandatory:
        return [r for r in repairs if r != "skip"]
    if fallout.category == FalloutCategory.RESOURCE:
        return ["skip", *[r for r in repairs if r != "skip"]]
    return repairs if "skip" in repairs else [*repairs, "skip"]


# Words in a SOM's error that say the request itself was wrong rather than a resource missing.
_DATA_WORDS = ("invalid", "missing", "unknown", "not found", "malformed", "characteristic", "address")
_HOLDABLE = (ItemState.ACKNOWLEDGED, ItemState.IN_PROGRESS, ItemState.PENDING)


def classify(reason_code: str, error: dict | None = None) -> str:
    """The fallout class of a reason code, refined by the SOM's own error text for a failed service."""
    category = CATEGORY_OF.get(reason_code, FalloutCategory.INTERNAL)
    if reason_code == "SERVICE_FAILED" and error:
        text = " ".join(str(v) for v in error.values()).lower()
        if any(word in text for word in _DATA_WORDS):
            category = FalloutCategory.DATA
    return category


def _som_error_key(error: dict | None) -> str:
    error = error or {}
    if isinstance(error.get("errorMessage"), list) and error["errorMessage"]:
        error = error["errorMessage"][0] if isinstance(error["errorMessage"][0], dict) else {}
    return str(error.get("code") or error.get("reason") or error.get("message") or "")[:60]


def _hold_items(order: ProductOrder, items, *, reason_code: str, message: str, actor: str) -> None:
    for item in items:
        if item.state in _HOLDABLE:
            item.hold()
            item.state_reason = message[:500]
            save_with_reason(item, reason_code)
        record_event(order, OrderEvent.Type.FALLOUT_OPENED, actor=actor, item=item,
                     message=f"Item {item.item_id} to the fallout queue: {message}",
                     payload={"reasonCode": reason_code})


def open_service_fallout(order: ProductOrder, service: ServiceOrderItem, *, reason_code: str, message: str,
                         actor: str, stage: str = FalloutStage.FULFILMENT) -> Fallout:
    """Put a failed service (and every product item it serves) in the fallout queue; one open fallout each."""
    existing = Fallout.objects.filter(service_order_item=service, resolved_at__isnull=True).first()
    if existing is not None:
        return existing
    items = list(service.product_items.all())
    code = service.service_specification.code
    fallout = Fallout.objects.create(
        order=order, service_order_item=service, stage=stage, reason_code=reason_code,
        category=classify(reason_code, service.error), message=message[:500],
        root_cause=f"{reason_code}:{code}:{_som_error_key(service.error)}".lower(),
        context={"error": service.error, "attempts": service.attempts, "service": code,
                 "serviceOrderItem": service.item_ref, "action": service.action},
    )
    fallout.items.set(items)
    _hold_items(order, items, reason_code=reason_code, message=message, actor=actor)
    return fallout


def open_order_fallout(order: ProductOrder, *, stage: str, reason_code: str, message: str, actor: str,
                       context: dict | None = None) -> Fallout:
    """Hold a stuck order as a whole; a second problem at the same stage joins the open fallout."""
    existing = Fallout.objects.filter(order=order, stage=stage, service_order_item__isnull=True,
                                      resolved_at__isnull=True).first()
    if existing is not None:
        existing.context = {**existing.context, "more": [*existing.context.get("more", []), context or {}][-10:]}
        existing.save(update_fields=["context"])
        return existing
    items = [i for i in order.items.all() if not i.is_terminal]
    fallout = Fallout.objects.create(
        order=order, stage=stage, reason_code=reason_code, category=classify(reason_code), message=message[:500],
        root_cause=f"{reason_code}:{stage}:{(context or {}).get('error', '')[:80]}".lower(), context=context or {},
    )
    fallout.items.set(items)
    _hold_items(order, items, reason_code=reason_code, message=message, actor=actor)
    return fallout


def open_item_fallout(order: ProductOrder, item, *, stage: str, reason_code: str, message: str, actor: str,
                      context: dict | None = None) -> Fallout:
    """Hold one product item for a problem of its own (its inventory write was refused)."""
    existing = item.fallouts.filter(stage=stage, resolved_at__isnull=True, service_order_item__isnull=True).first()
    if existing is not None:
        return existing
    fallout = Fallout.objects.create(
        order=order, stage=stage, reason_code=reason_code, category=classify(reason_code), message=message[:500],
        root_cause=f"{reason_code}:{stage}:{item.product_offering_id}".lower(), context=context or {},
    )
    fallout.items.set([item])
    _hold_items(order, [item], reason_code=reason_code, message=message, actor=actor)
    return fallout


def close_fallout(fallout: Fallout, *, resolution: str, user, note: str, actor: str) -> None:
    """Mark a fallout resolved, with who and why; the repair that resolves it does the rest."""
    fallout.resolved_at = timezone.now()
    fallout.resolution = resolution
    fallout.resolved_by = user
    fallout.resolution_note = (note or "")[:500]
    fallout.save()
    record_event(fallout.order, OrderEvent.Type.FALLOUT_RESOLVED, actor=actor,
                 message=f"{fallout.reason_code} {resolution}: {note}"[:500],
                 payload={"fallout": fallout.pk, "resolution": resolution})


def release_items(order: ProductOrder, fallout: Fallout, *, reason: str) -> list:
    """Resume the items a closed fallout held, unless another open fallout still holds them."""
    resumed = []
    for item in fallout.items.all():
        if item.state != ItemState.HELD or item.fallouts.filter(resolved_at__isnull=True).exists():
            continue
        item.resume()
        item.state_reason = ""
        save_with_reason(item, reason)
        resumed.append(item)
    return resumed


# Fallouts that hold an item while COM waits on SOM (silent, unreachable, asking for information, reporting a
# move COM has none for): SOM completing the service answers them.
WAITING_ON_SOM = ("SOM_SILENT", "SOM_UNREACHABLE", "SOM_INFORMATION_REQUIRED", "UNEXPECTED_SOM_STATE")


def close_overtaken_by_som(order: ProductOrder, service: ServiceOrderItem, *, note: str, actor: str, user=None) -> list:
    """SOM completed a service an open fallout waited on: the fallout is closed (``overtakenBySom``) and its items
    released, so they complete as their services allow. Returns the fallouts closed."""
    closed = []
    for fallout in service.fallouts.filter(resolved_at__isnull=True, reason_code__in=WAITING_ON_SOM):
        close_fallout(fallout, resolution="overtakenBySom", user=user, note=note, actor=actor)
        release_items(order, fallout, reason=f"{fallout.reason_code}: {note}")
        closed.append(fallout)
    return closed
