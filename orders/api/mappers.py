"""TMF622 <-> domain translation. Pure functions: no database, no requests.

``order_draft`` turns a validated TMF622 body into the domain ``OrderDraft``; ``tmf_field`` turns a domain
problem path back into the TMF attribute the channel sent, so errors point at the channel's own JSON.
"""
import hashlib
import json
import re

from comapp.errors import ComError, Problem
from comapp.tmf import iso
from orders.services.capture import ItemDraft, OrderDraft

_DOMAIN_TO_TMF = [
    (re.compile(r"^items\[(\d+)\]\.characteristics\.(.+)$"), r"productOrderItem[\1].product.productCharacteristic[\2]"),
    (re.compile(r"^items\[(\d+)\]\.product_offering$"), r"productOrderItem[\1].productOffering"),
    (re.compile(r"^items\[(\d+)\]\.relationships$"), r"productOrderItem[\1].productOrderItemRelationship"),
    (re.compile(r"^items\[(\d+)\]\.place$"), r"productOrderItem[\1].product.place"),
    (re.compile(r"^items\[(\d+)\]\.(.+)$"), r"productOrderItem[\1].\2"),
    (re.compile(r"^items\.relationships$"), "productOrderItem.productOrderItemRelationship"),
    (re.compile(r"^items$"), "productOrderItem"),
    (re.compile(r"^related_parties$"), "relatedParty"),
    (re.compile(r"^requested_completion_date$"), "requestedCompletionDate"),
]


def tmf_field(domain_path: str) -> str:
    for pattern, replacement in _DOMAIN_TO_TMF:
        if pattern.match(domain_path):
            return pattern.sub(replacement, domain_path)
    return domain_path


def to_tmf_error(error: ComError) -> ComError:
    """The same error with its problem paths in TMF terms."""
    if not error.problems:
        return error
    problems = [Problem(tmf_field(p.field), p.message) for p in error.problems]
    return type(error)(problems=problems, code=error.code, reason=error.reason, status=error.status)


def fingerprint(body) -> str:
    """Stable hash of a request body: the same order sent twice hashes the same."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _price(price: dict) -> dict:
    amount = price["price"].get("taxIncludedAmount") or price["price"].get("dutyFreeAmount")
    return {"name": price.get("name", ""), "price_type": price["priceType"], "amount": str(amount["value"]),
            "currency": amount["unit"], "recurring_period": price.get("recurringChargePeriod", "")}


def _item(data: dict) -> ItemDraft:
    product = data.get("product") or {}
    places = product.get("place") or []
    place = None
    if places:
        place = {"id": places[0]["id"], "role": places[0].get("role") or "installationAddress",
                 "name": places[0].get("name", "")}
    appointment = None
    if data.get("appointment"):
        appointment = {"id": data["appointment"]["id"], "href": data["appointment"].get("href", "")}
    return ItemDraft(
        item_id=data["id"],
        action=data["action"],
        quantity=data.get("quantity", 1),
        offering_id=(data.get("productOffering") or {}).get("id"),
        characteristics={c["name"]: c["value"] for c in product.get("productCharacteristic") or []},
        product_id=product.get("id"),
        place=place,
        relationships=tuple((r["id"], r["relationshipType"]) for r in data.get("productOrderItemRelationship") or []),
        appointment=appointment,
        item_prices=tuple(_price(p) for p in data.get("itemPrice") or []),
    )


def order_draft(data: dict) -> OrderDraft:
    return OrderDraft(
        items=tuple(_item(item) for item in data["productOrderItem"]),
        related_parties=tuple(
            {"id": p["id"], "name": p.get("name", ""), "role": p["role"], "referred_type": p.get("referred_type", "")}
            for p in data.get("relatedParty") or []
        ),
        external_id=data.get("externalId", ""),
        priority=data.get("priority", 4),
        category=data.get("category", ""),
        description=data.get("description", ""),
        notification_contact=data.get("notificationContact", ""),
        requested_start_date=data.get("requestedStartDate"),
        requested_completion_date=data.get("requestedCompletionDate"),
        billing_account_id=(data.get("billingAccount") or {}).get("id", ""),
        notes=tuple({"id": n.get("id", ""), "author": n.get("author", ""),
                     "date": iso(n["date"]) if n.get("date") else "", "text": n["text"]}
                    for n in data.get("note") or []),
    )


def order_changes(data: dict) -> dict:
    """PATCH body -> domain attribute changes (``notes`` are appended, never replaced)."""
    names = {"description": "description", "category": "category", "notificationContact": "notification_contact",
             "priority": "priority"}
    changes = {names[k]: v for k, v in data.items() if k in names}
    if data.get("note"):
        changes["notes"] = [{"author": n.get("author", ""), "text": n["text"]} for n in data["note"]]
    return changes
