"""TMF641 <-> domain: the service orders COM sends to SOM, and the events and read-backs SOM sends back.

Services hand a ServiceOrder here and get TMF641 JSON; they hand an event or a ``GET serviceOrder`` answer
here and get a ``SomEvent`` (plain values), so no service reads TMF641 JSON. Every TMF641 v4/v4.1 event type
is understood; an event type this module does not know is still parsed (``kind == "unknown"``) so COM can
store and acknowledge it.
"""
import hashlib
import json
from dataclasses import dataclass, field

from comapp.errors import ValidationFailed
from comapp.tmf import iso
from orders.models import SomState

_KNOWN_STATES = {s.value for s in SomState} - {SomState.PLANNED}


def service_order_request(service_order, items) -> dict:
    """TMF641 ``ServiceOrder_Create`` for one service order and its items."""
    order = service_order.order
    by_pk = {item.pk: item for item in items}
    body = {
        "externalId": service_order.external_id,
        "category": order.category or "",
        "description": f"{service_order.purpose} for product order {order.pk}",
        "priority": str(order.priority),
        "requestedStartDate": iso(order.requested_start_date),
        "requestedCompletionDate": iso(order.requested_completion_date),
        "externalReference": [{"name": order.pk, "externalReferenceType": "ProductOrder"}],
        "relatedParty": [
            {"id": p.get("id"), "name": p.get("name") or "", "role": p.get("role") or "",
             "@referredType": p.get("referred_type") or "Individual", "@type": "RelatedParty"}
            for p in order.related_parties
        ],
        "serviceOrderItem": [],
        "@type": "ServiceOrder",
    }
    for item in items:
        service = {
            # The code is the id SOM knows; the version is the one the order was captured with.
            "serviceSpecification": {"id": item.service_specification.code, "name": item.service_specification.code,
                                     "version": str(item.service_specification.version),
                                     "@referredType": "ServiceSpecification"},
            "serviceCharacteristic": [{"name": k, "value": v} for k, v in sorted(item.characteristics.items())],
            "category": "CFS",
            "@type": "Service",
        }
        if item.service_id:
            service["id"] = item.service_id
        if item.place:
            service["place"] = [{"id": item.place.get("id"), "role": item.place.get("role") or "installationAddress",
                                 "@referredType": "GeographicAddress"}]
        line = {"id": item.item_ref, "action": item.action, "quantity": item.quantity, "service": service,
                "@type": "ServiceOrderItem"}
        if item.appointment:
            line["appointment"] = {"id": item.appointment.get("id"), "@referredType": "Appointment",
                                   **({"href": item.appointment["href"]} if item.appointment.get("href") else {})}
        # Dependencies were already satisfied before sending (COM sends an item only when what it relies on
        # has completed); only those inside this same request are stated, for SOM's information.
        deps = [d for d in item.depends_on.all() if d.pk in by_pk]
        if deps:
            line["serviceOrderItemRelationship"] = [
                {"relationshipType": "dependency", "orderItem": {"itemId": d.item_ref}} for d in deps
            ]
        body["serviceOrderItem"].append(line)
    return {k: v for k, v in body.items() if v not in (None, "")}


SERVICE_ORDER_EVENTS = {
    "ServiceOrderCreateEvent", "ServiceOrderAttributeValueChangeEvent", "ServiceOrderStateChangeEvent",
    "ServiceOrderDeleteEvent", "ServiceOrderInformationRequiredEvent", "ServiceOrderMilestoneEvent",
    "ServiceOrderJeopardyEvent",
}
CANCEL_EVENTS = {"CancelServiceOrderCreateEvent", "CancelServiceOrderStateChangeEvent",
                 "CancelServiceOrderInformationRequiredEvent"}
EVENT_TYPES = SERVICE_ORDER_EVENTS | CANCEL_EVENTS
READ_BACK = "ServiceOrderReadBack"  # what COM calls a snapshot it read with GET serviceOrder/{id}


def cancel_request(service_order, reason: str) -> dict:
    """TMF641 ``CancelServiceOrder_Create`` for one service order SOM has accepted."""
    return {"serviceOrder": {"id": service_order.som_order_id, "@referredType": "ServiceOrder"},
            "cancellationReason": reason or "customer request", "@type": "CancelServiceOrder"}


@dataclass(frozen=True)
class ItemUpdate:
    item_ref: str
    state: str = ""  # empty: the event says nothing of the item's state
    service_id: str = ""
    error: dict = field(default_factory=dict)
    milestones: tuple[str, ...] = ()


@dataclass(frozen=True)
class SomEvent:
    """What a TMF641 event (or read-back) says, in plain values."""

    event_id: str
    event_type: str
    kind: str  # serviceOrder, cancelServiceOrder or unknown
    som_order_id: str = ""
    external_id: str = ""
    state: str = ""
    items: tuple[ItemUpdate, ...] = ()
    has_item_list: bool = False  # False: the event carries no serviceOrderItem list at all (TMF641 allows it)
    errors: tuple[dict, ...] = ()
    cancel_id: str = ""
    cancel_state: str = ""
    description: str = ""


def _str(value) -> str:
    return value if isinstance(value, str) else ""


def _error_list(raw) -> tuple[dict, ...]:
    return tuple(e for e in raw if isinstance(e, dict)) if isinstance(raw, list) else ()


def _milestones(raw) -> tuple[str, ...]:
    names = []
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry.get("name"):
            if (entry.get("status") or "reached") != "notReached":
                names.append(entry["name"])
    return tuple(names)


def _order_milestones(raw) -> dict[str, list[str]]:
    """TMF641 v4.1 puts milestones on the service order; each may name the items it is about."""
    by_item: dict[str, list[str]] = {}
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry.get("name"):
            continue
        if (entry.get("status") or "reached") == "notReached":
            continue
        refs = entry.get("serviceOrderItem") if isinstance(entry.get("serviceOrderItem"), list) else []
        for ref in refs:
            if isinstance(ref, dict) and (ref.get("itemId") or ref.get("id")):
                by_item.setdefault(str(ref.get("itemId") or ref.get("id")), []).append(entry["name"])
    return by_item


def _service_order(order: dict, problems: list[str]) -> dict:
    if not (order.get("id") or order.get("externalId")):
        problems.append("event.serviceOrder needs an id or externalId")
    state = order.get("state")
    if state is not None and (not isinstance(state, str) or state not in _KNOWN_STATES):
        problems.append(f"event.serviceOrder.state {state!r} is not a TMF641 state")
        state = None
    items = []
    has_list = "serviceOrderItem" in order
    lines = order.get("serviceOrderItem") or []
    if not isinstance(lines, list):
        problems.append("event.serviceOrder.serviceOrderItem must be a list")
        lines = []
    order_milestones = _order_milestones(order.get("milestone"))
    for index, raw in enumerate(lines):
        if not isinstance(raw, dict) or not raw.get("id"):
            problems.append(f"event.serviceOrder.serviceOrderItem[{index}] needs an id")
            continue
        item_state = raw.get("state")
        if item_state is not None and (not isinstance(item_state, str) or item_state not in _KNOWN_STATES):
            problems.append(f"event.serviceOrder.serviceOrderItem[{index}].state {item_state!r} is not a TMF641 state")
            continue
        service = raw["service"] if isinstance(raw.get("service"), dict) else {}
        errors = _error_list(raw.get("errorMessage"))
        milestones = _milestones(raw.get("milestone")) + tuple(order_milestones.pop(str(raw["id"]), ()))
        items.append(ItemUpdate(item_ref=str(raw["id"]), state=item_state or "", service_id=_str(service.get("id")),
                                error=errors[0] if errors else {}, milestones=milestones))
    for item_ref, names in order_milestones.items():  # milestones of items the event does not list
        items.append(ItemUpdate(item_ref=item_ref, milestones=tuple(names)))
    return {"som_order_id": str(order.get("id") or ""), "external_id": str(order.get("externalId") or ""),
            "state": state or "", "items": tuple(items), "has_item_list": has_list,
            "errors": _error_list(order.get("errorMessage"))}


def parse_event(payload) -> SomEvent:
    """Read any TMF641 event. Raises ValidationFailed if it is malformed (what SOM sent cannot be read)."""
    if not isinstance(payload, dict):
        raise ValidationFailed("An event is a JSON object.")
    event_id = payload.get("eventId")
    event_type = payload.get("eventType") or ""
    problems = []
    if not isinstance(event_id, str) or not event_id or len(event_id) > 200:
        problems.append("eventId is required (a string of at most 200 characters)")
    if not isinstance(event_type, str):
        problems.append("eventType must be a string")
        event_type = ""
    event = payload.get("event")
    if event is not None and not isinstance(event, dict):
        problems.append("event must be an object")
        event = None
    event = event or {}
    values: dict = {"kind": "unknown"}
    if isinstance(event.get("cancelServiceOrder"), dict):
        cancel = event["cancelServiceOrder"]
        target = cancel.get("serviceOrder") if isinstance(cancel.get("serviceOrder"), dict) else {}
        cancel_state = cancel.get("state")
        if cancel_state is not None and cancel_state not in {"acknowledged", "inProgress", "done",
                                                              "terminatedWithError"}:
            problems.append(f"event.cancelServiceOrder.state {cancel_state!r} is not a TMF641 task state")
        values = {"kind": "cancelServiceOrder", "cancel_id": _str(cancel.get("id")), "cancel_state": cancel_state or "",
                  "som_order_id": _str(target.get("id")), "errors": _error_list(cancel.get("errorMessage"))}
    elif isinstance(event.get("serviceOrder"), dict):
        values = {"kind": "serviceOrder", **_service_order(event["serviceOrder"], problems)}
    elif event_type in SERVICE_ORDER_EVENTS:
        problems.append("event.serviceOrder is required")
    elif event_type in CANCEL_EVENTS:
        problems.append("event.cancelServiceOrder is required")
    if problems:
        raise ValidationFailed("; ".join(problems))
    return SomEvent(event_id=event_id, event_type=event_type, description=_str(payload.get("description"))[:300],
                    **values)


def read_back(service_order_id: str, snapshot: dict) -> tuple[SomEvent, dict]:
    """A ``GET serviceOrder/{id}`` answer as an event (keyed by its content: the same answer twice is one)."""
    def line(raw: dict) -> str:
        service = raw.get("service") if isinstance(raw.get("service"), dict) else {}
        return f"{raw.get('id')}={raw.get('state')}:{service.get('id') or ''}"

    states = [snapshot.get("state")] + sorted(line(i) for i in snapshot.get("serviceOrderItem") or []
                                              if isinstance(i, dict))
    key = f"readback:{service_order_id}:" + hashlib.sha256(json.dumps(states).encode()).hexdigest()[:24]
    payload = {"eventId": key, "eventType": READ_BACK, "event": {"serviceOrder": snapshot}}
    return parse_event(payload), payload
