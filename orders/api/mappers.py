"""TMF622 <-> domain translation. Pure functions: no database, no requests.

``order_draft`` turns a validated TMF622 body into the domain ``OrderDraft``; ``tmf_field`` turns a domain
problem path back into the TMF attribute the channel sent, so errors point at the channel's own JSON.
"""
import hashlib
import json
import re

from comapp.errors import ComError, Problem
from comapp.tmf import iso
from orders.services.capture import ItemDraft, OrderDraft, draft_to_json
from orders.services.mutations import MutationDraft

_DOMAIN_TO_TMF = [
    (re.compile(r"^items\[(\d+)\]\.characteristics\.(.+)$"), r"productOrderItem[\1].product.productCharacteristic[\2]"),
    (re.compile(r"^items\[(\d+)\]\.product_offering$"), r"productOrderItem[\1].productOffering"),
    (re.compile(r"^items\[(\d+)\]\.relationships$"), r"productOrderItem[\1].productOrderItemRelationship"),
    (re.compile(r"^items\[(\d+)\]\.place$"), r"productOrderItem[\1].product.place"),
    (re.compile(r"^items\[(\d+)\]\.item_prices$"), r"productOrderItem[\1].itemPrice"),
    (re.compile(r"^items\[(\d+)\]\.(.+)$"), r"productOrderItem[\1].\2"),
    (re.compile(r"^items\.relationships$"), "productOrderItem.productOrderItemRelationship"),
    (re.compile(r"^items$"), "productOrderItem"),
    (re.compile(r"^related_parties$"), "relatedParty"),
    (re.compile(r"^notes\[(\d+)\]\.(.+)$"), r"note[\1].\2"),
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


def _quoted_price(price: dict) -> dict:
    # Catalog amounts are tax included: the serializer requires taxIncludedAmount.
    amount = price["price"]["taxIncludedAmount"]
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
        quoted_prices=tuple(_quoted_price(p) for p in data.get("itemPrice") or []),
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


# --- mutations: cancelProductOrder / amendProductOrder bodies -> MutationDraft ---------------------------

def cancellation_draft(data: dict, *, idempotency_key: str | None, expected_version: int | None,
                       body) -> MutationDraft:
    return MutationDraft(
        kind="cancellation", item_ids=tuple(i["id"] for i in data.get("productOrderItem") or []),
        reason_code=data.get("reasonCode") or "CUSTOMER_REQUEST", reason=data.get("cancellationReason", ""),
        customer_consent_ref=data.get("customerConsentRef", ""),
        expected_order_version=data.get("expectedOrderVersion", expected_version),
        idempotency_key=idempotency_key, fingerprint=fingerprint(body),
        requested_date=data.get("requestedCancellationDate"),
    )


def _item_change(data: dict) -> dict:
    change = {}
    if "quantity" in data:
        change["quantity"] = data["quantity"]
    if data.get("productOffering"):
        change["offering_id"] = data["productOffering"]["id"]
    product = data.get("product") or {}
    if product.get("productCharacteristic"):
        change["characteristics"] = {c["name"]: c["value"] for c in product["productCharacteristic"]}
    if product.get("place"):
        place = product["place"][0]
        change["place"] = {"id": place["id"], "role": place.get("role") or "installationAddress",
                           "name": place.get("name", "")}
    if data.get("appointment"):
        change["appointment"] = {"id": data["appointment"]["id"], "href": data["appointment"].get("href", "")}
    return change


def amendment_draft(data: dict, *, idempotency_key: str | None, expected_version: int | None,
                    body) -> MutationDraft:
    order_changes = {}
    names = {"notificationContact": "notification_contact", "description": "description",
             "requestedStartDate": "requested_start_date", "requestedCompletionDate": "requested_completion_date"}
    for tmf, domain in names.items():
        if tmf in data:
            order_changes[domain] = iso(data[tmf]) if tmf.endswith("Date") else data[tmf]
    if data.get("note"):
        order_changes["notes"] = [n["text"] for n in data["note"]]
    changes = {"order": order_changes,
               "items": {i["id"]: _item_change(i) for i in data.get("productOrderItem") or []}}
    kind = "change"
    if data.get("replacementOrder"):
        kind, changes = "supersession", {"replacement": draft_to_json(order_draft(data["replacementOrder"]))}
    return MutationDraft(
        kind=kind, item_ids=tuple(i["id"] for i in data.get("productOrderItem") or []), changes=changes,
        reason_code=data.get("reasonCode") or "CUSTOMER_REQUEST", reason=data.get("reason", ""),
        customer_consent_ref=data.get("customerConsentRef", ""),
        expected_order_version=data.get("expectedOrderVersion", expected_version),
        idempotency_key=idempotency_key, fingerprint=fingerprint(body),
    )
