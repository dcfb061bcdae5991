"""TMF641 <-> domain: the service order COM sends to SOM, and the events SOM sends back.

The other half of the anti-corruption layer: services hand a ServiceOrder here and get TMF641 JSON; the
listener hands an event here and gets a ``SomUpdate`` (plain values), so nothing in ``services`` reads
TMF641 JSON.
"""
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
             "@referredType": p.get("referred_type") or "Individual"}
            for p in order.related_parties
        ],
        "serviceOrderItem": [],
        "@type": "ServiceOrder",
    }
    for item in items:
        service = {
            "serviceSpecification": {"id": item.service_specification.code, "name": item.service_specification.code,
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
        # Dependencies were already satisfied before sending (COM sends an item only when what it relies on
        # has completed); only those inside this same request are stated, for SOM's information.
        deps = [d for d in item.depends_on.all() if d.pk in by_pk]
        if deps:
            line["serviceOrderItemRelationship"] = [
                {"relationshipType": "dependency", "orderItem": {"itemId": d.item_ref}} for d in deps
            ]
        body["serviceOrderItem"].append(line)
    return {k: v for k, v in body.items() if v not in (None, "")}


@dataclass(frozen=True)
class ItemUpdate:
    item_ref: str
    state: str
    service_id: str = ""
    error: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SomUpdate:
    event_id: str
    event_type: str
    som_order_id: str
    external_id: str
    state: str
    items: tuple[ItemUpdate, ...]
    errors: tuple[dict, ...] = ()


def parse_event(payload) -> SomUpdate:
    """Read a ServiceOrderStateChangeEvent / AttributeValueChangeEvent. Raises ValidationFailed if malformed."""
    if not isinstance(payload, dict):
        raise ValidationFailed("An event is a JSON object.")
    event_id = payload.get("eventId")
    order = (payload.get("event") or {}).get("serviceOrder") if isinstance(payload.get("event"), dict) else None
    problems = []
    if not isinstance(event_id, str) or not event_id:
        problems.append("eventId is required")
    if not isinstance(payload.get("eventType") or "", str):
        problems.append("eventType must be a string")
    if not isinstance(order, dict):
        problems.append("event.serviceOrder is required")
        raise ValidationFailed("; ".join(problems))
    if not (order.get("id") or order.get("externalId")):
        problems.append("event.serviceOrder needs an id or externalId")
    state = order.get("state")
    if state is not None and (not isinstance(state, str) or state not in _KNOWN_STATES):
        problems.append(f"event.serviceOrder.state {state!r} is not a TMF641 state")
    items = []
    lines = order.get("serviceOrderItem") or []
    if not isinstance(lines, list):
        problems.append("event.serviceOrder.serviceOrderItem must be a list")
        lines = []
    for index, raw in enumerate(lines):
        if not isinstance(raw, dict) or not raw.get("id") or not isinstance(raw.get("state"), str) \
                or raw["state"] not in _KNOWN_STATES:
            problems.append(f"event.serviceOrder.serviceOrderItem[{index}] needs an id and a TMF641 state")
            continue
        service = raw["service"] if isinstance(raw.get("service"), dict) else {}
        errors = raw["errorMessage"] if isinstance(raw.get("errorMessage"), list) else []
        items.append(ItemUpdate(item_ref=str(raw["id"]), state=raw["state"], service_id=str(service.get("id") or ""),
                                error=errors[0] if errors and isinstance(errors[0], dict) else {}))
    if problems:
        raise ValidationFailed("; ".join(problems))
    return SomUpdate(
        event_id=event_id, event_type=str(payload.get("eventType") or ""), som_order_id=str(order.get("id") or ""),
        external_id=str(order.get("externalId") or ""), state=state or "", items=tuple(items),
        errors=tuple(e for e in (order["errorMessage"] if isinstance(order.get("errorMessage"), list) else [])
                     if isinstance(e, dict)),
    )
