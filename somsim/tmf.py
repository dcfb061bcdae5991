"""TMF641 v4 payload helpers.

Pure functions, no I/O: validation of a ``ServiceOrder_Create`` body, the
construction of the stored ``ServiceOrder``, the state transitions a service
order goes through while it is progressed, TMF error bodies and the event
envelope.  Orders are plain ``dict`` objects (the JSON representation) and
the transition functions change them in place.
"""

import datetime
import uuid

API_BASE = "/tmf-api/serviceOrdering/v4"

ACTIONS = ("add", "modify", "delete", "noChange")
TERMINAL_ORDER_STATES = frozenset({"completed", "failed", "partial", "cancelled"})
TERMINAL_ITEM_STATES = frozenset({"completed", "failed", "partial", "cancelled"})
# TaskStateType: the states of a CancelServiceOrder.
OPEN_CANCEL_STATES = frozenset({"accepted", "inProgress"})
TERMINAL_CANCEL_STATES = frozenset({"done", "terminatedWithError"})

STATE_CHANGE_EVENT = "ServiceOrderStateChangeEvent"
ATTRIBUTE_VALUE_CHANGE_EVENT = "ServiceOrderAttributeValueChangeEvent"
MILESTONE_EVENT = "ServiceOrderMilestoneEvent"  # TMF641 v4.1
CANCEL_STATE_CHANGE_EVENT = "CancelServiceOrderStateChangeEvent"

# Properties of a ServiceOrder that only the SOM sets (skipped in ServiceOrder_Create).
SERVER_OWNED = (
    "id", "href", "orderDate", "completionDate", "expectedCompletionDate",
    "startDate", "state", "errorMessage", "jeopardyAlert", "milestone",
    "cancellationDate",
)


class ValidationError(ValueError):
    """The request body is not an acceptable ServiceOrder_Create."""


def utc_now():
    """Return the current UTC time as ISO-8601 with millisecond precision and ``Z``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_body(status, code, reason, message=None):
    """Return a TMF ``Error`` body."""
    return {
        "code": code,
        "reason": reason,
        "message": message or reason,
        "status": str(status),
        "@type": "Error",
    }


def _non_empty_string(value):
    return isinstance(value, str) and value.strip() != ""


def validate_order(payload):
    """Check a ServiceOrder_Create body; raise ValidationError naming the first problem."""
    if not isinstance(payload, dict):
        raise ValidationError("The body must be a JSON object (ServiceOrder_Create).")
    if "externalId" in payload and payload["externalId"] is not None \
            and not isinstance(payload["externalId"], str):
        raise ValidationError("externalId must be a string.")
    parties = payload.get("relatedParty", [])
    if parties is not None and (not isinstance(parties, list)
                                or not all(isinstance(p, dict) for p in parties)):
        raise ValidationError("relatedParty must be a list of objects.")
    items = payload.get("serviceOrderItem")
    if not isinstance(items, list) or not items:
        raise ValidationError("serviceOrderItem must be a non-empty list.")
    seen = set()
    for index, item in enumerate(items):
        where = "serviceOrderItem[%d]" % index
        if not isinstance(item, dict):
            raise ValidationError("%s must be an object." % where)
        if not _non_empty_string(item.get("id")):
            raise ValidationError("%s.id is required and must be a string." % where)
        if item["id"] in seen:
            raise ValidationError("%s.id %r is used by more than one item." % (where, item["id"]))
        seen.add(item["id"])
        if item.get("action") not in ACTIONS:
            raise ValidationError("%s.action must be one of %s." % (where, ", ".join(ACTIONS)))
        service = item.get("service")
        if not isinstance(service, dict):
            raise ValidationError("%s.service is required and must be an object." % where)
        spec = service.get("serviceSpecification")
        if not isinstance(spec, dict) or not (
                _non_empty_string(spec.get("id")) or _non_empty_string(spec.get("name"))):
            raise ValidationError(
                "%s.service.serviceSpecification must be an object with an id or a name." % where)
        if item["action"] in ("modify", "delete") and not _non_empty_string(service.get("id")):
            raise ValidationError(
                "%s.service.id is required for action %s." % (where, item["action"]))


def order_href(base_url, order_id):
    """Return the absolute href of a service order."""
    return "%s%s/serviceOrder/%s" % (base_url, API_BASE, order_id)


def new_order(payload, base_url, now=None):
    """Build the stored, acknowledged ServiceOrder from a validated create body."""
    now = now or utc_now()
    order_id = str(uuid.uuid4())
    order = {"id": order_id, "href": order_href(base_url, order_id)}
    order.update((key, value) for key, value in payload.items() if key not in SERVER_OWNED)
    order["state"] = "acknowledged"
    order["orderDate"] = now
    order.setdefault("@type", "ServiceOrder")
    items = []
    for raw in payload["serviceOrderItem"]:
        item = {key: value for key, value in raw.items() if key not in ("state", "errorMessage")}
        item["state"] = "acknowledged"
        items.append(item)
    order["serviceOrderItem"] = items
    return order


def item_sort_key(item):
    """Order items by id: numeric ids numerically, then the others as text."""
    item_id = item["id"]
    return (0, int(item_id), "") if item_id.isdigit() else (1, 0, item_id)


def party_ids(order):
    """Return the ids of the order's related parties."""
    return [p["id"] for p in order.get("relatedParty") or [] if isinstance(p.get("id"), str)]


def specification_of(item):
    """Return ``(id, name)`` of an item's service specification."""
    spec = item["service"]["serviceSpecification"]
    return spec.get("id"), spec.get("name")


def _item(order, item_id):
    for item in order["serviceOrderItem"]:
        if item["id"] == item_id:
            return item
    raise KeyError(item_id)


def start(order, now):
    """Move the order and all its items to inProgress."""
    order["state"] = "inProgress"
    order["startDate"] = now
    for item in order["serviceOrderItem"]:
        item["state"] = "inProgress"


def set_item_state(order, item_id, state):
    """Put one item in a non-final state (``held``, ``pending``, ``inProgress``)."""
    _item(order, item_id)["state"] = state


def complete_item(order, item_id):
    """Complete one item: its service gets an id and its resulting state."""
    item = _item(order, item_id)
    service = item["service"]
    if item["action"] == "add":
        service["id"] = "SVC-" + uuid.uuid4().hex[:12]
    if item["action"] == "delete":
        service["state"] = "terminated"
    elif item["action"] in ("add", "modify") or "state" not in service:
        service["state"] = "active"
    item["state"] = "completed"


def fail_item(order, item_id, reason, message, now):
    """Fail one item and record why, on the item and on the order."""
    item = _item(order, item_id)
    item["state"] = "failed"
    item["errorMessage"] = [{
        "code": "SIM-FAIL",
        "reason": reason,
        "message": message,
        "timestamp": now,
        "@type": "ServiceOrderItemErrorMessage",
    }]
    order.setdefault("errorMessage", []).append({
        "code": "SIM-FAIL",
        "reason": reason,
        "message": message,
        "timestamp": now,
        "serviceOrderItem": [{"itemId": item_id, "serviceOrderId": order["id"]}],
        "@type": "ServiceOrderErrorMessage",
    })


def end_item(order, item_id, state, now, failure=None):
    """Bring one item to its final state: completed, failed, partial or cancelled."""
    if state == "completed":
        complete_item(order, item_id)
    elif state == "failed":
        failure = failure or {"reason": "Service provisioning failed",
                              "message": "Simulated failure."}
        fail_item(order, item_id, failure["reason"], failure["message"], now)
    elif state in ("partial", "cancelled"):
        _item(order, item_id)["state"] = state
    else:
        raise ValueError("not a final item state: %s" % state)


def reach_milestone(order, item_id, name, now):
    """Record that an item reached a milestone (TMF641 v4.1 ``ServiceOrder.milestone``)."""
    _item(order, item_id)
    order.setdefault("milestone", []).append({
        "id": "%s-%s" % (item_id, name),
        "name": name,
        "status": "reached",
        "milestoneDate": now,
        "message": "Item %s reached milestone %s." % (item_id, name),
        "serviceOrderItem": [{"itemId": item_id, "serviceOrderId": order["id"],
                              "@type": "ServiceOrderItemRef"}],
        "@type": "ServiceOrderMilestone",
    })


def item_milestones(order, item_id):
    """Names of the milestones an item has reached, in the order reached."""
    return [milestone["name"] for milestone in order.get("milestone") or []
            if any(ref.get("itemId") == item_id for ref in milestone.get("serviceOrderItem") or [])]


def finish(order, now):
    """Set the final order state from the item states.

    All items completed: ``completed``; some completed (or partial): ``partial``;
    none completed and all cancelled: ``cancelled``; otherwise ``failed``.
    """
    states = [item["state"] for item in order["serviceOrderItem"]]
    if all(state == "completed" for state in states):
        order["state"] = "completed"
        order["completionDate"] = now
    elif any(state in ("completed", "partial") for state in states):
        order["state"] = "partial"
    elif all(state == "cancelled" for state in states):
        order["state"] = "cancelled"
        order["cancellationDate"] = now
    else:
        order["state"] = "failed"


def unfinished_items(order):
    """The items not yet in a final state, by item id."""
    return [item for item in sorted(order["serviceOrderItem"], key=item_sort_key)
            if item["state"] not in TERMINAL_ITEM_STATES]


def finish_cancellation(order, reason, now):
    """Close an order whose unfinished items were cancelled: ``cancelled``, or
    ``partial`` when some items had completed."""
    done = any(item["state"] in ("completed", "partial") for item in order["serviceOrderItem"])
    order["state"] = "partial" if done else "cancelled"
    order["cancellationDate"] = now
    if reason:
        order["cancellationReason"] = reason


def order_level(order):
    """The order without its ``serviceOrderItem`` list (order-level fields only)."""
    return {key: value for key, value in order.items() if key != "serviceOrderItem"}


def make_event(event_type, order, now=None, order_level_only=False):
    """Return a TMF641 event envelope carrying a snapshot of the order.

    The snapshot is the full order, or with ``order_level_only`` the order
    without its items.
    """
    now = now or utc_now()
    return {
        "eventId": str(uuid.uuid4()),
        "eventTime": now,
        "timeOcurred": now,
        "eventType": event_type,
        "correlationId": order.get("externalId"),
        "domain": "serviceOrdering",
        "event": {"serviceOrder": order_level(order) if order_level_only else order},
    }


# -- cancelServiceOrder --------------------------------------------------------


def validate_cancel(payload):
    """Check a CancelServiceOrder_Create body; raise ValidationError naming the first problem."""
    if not isinstance(payload, dict):
        raise ValidationError("The body must be a JSON object (CancelServiceOrder_Create).")
    ref = payload.get("serviceOrder")
    if not isinstance(ref, dict):
        raise ValidationError("serviceOrder is required and must be an object (ServiceOrderRef).")
    if not _non_empty_string(ref.get("id")):
        raise ValidationError("serviceOrder.id is required and must be a string.")
    reason = payload.get("cancellationReason")
    if reason is not None and not isinstance(reason, str):
        raise ValidationError("cancellationReason must be a string.")
    requested = payload.get("requestedCancellationDate")
    if requested is not None:
        if not isinstance(requested, str):
            raise ValidationError("requestedCancellationDate must be a date-time string.")
        try:
            datetime.datetime.fromisoformat(requested.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError("requestedCancellationDate must be an ISO 8601 date-time.") \
                from None


def cancel_href(base_url, cancel_id):
    """Return the absolute href of a cancellation request."""
    return "%s%s/cancelServiceOrder/%s" % (base_url, API_BASE, cancel_id)


def new_cancel(payload, base_url, order):
    """Build the accepted CancelServiceOrder for a validated create body and its order."""
    cancel_id = str(uuid.uuid4())
    cancel = {"id": cancel_id, "href": cancel_href(base_url, cancel_id)}
    for key in ("cancellationReason", "requestedCancellationDate"):
        if payload.get(key) is not None:
            cancel[key] = payload[key]
    cancel["serviceOrder"] = {"id": order["id"], "href": order["href"],
                              "@referredType": "ServiceOrder"}
    cancel["state"] = "accepted"
    cancel["@type"] = "CancelServiceOrder"
    return cancel


def make_cancel_event(cancel, correlation_id=None, now=None):
    """Return a CancelServiceOrderStateChangeEvent envelope."""
    now = now or utc_now()
    return {
        "eventId": str(uuid.uuid4()),
        "eventTime": now,
        "timeOcurred": now,
        "eventType": CANCEL_STATE_CHANGE_EVENT,
        "correlationId": correlation_id,
        "domain": "serviceOrdering",
        "event": {"cancelServiceOrder": cancel},
    }


def listener_url(base, event_type):
    """Return the URL an event of this type is posted to under a listener base URL."""
    return "%s/%s%s" % (base.rstrip("/"), event_type[0].lower(), event_type[1:])
