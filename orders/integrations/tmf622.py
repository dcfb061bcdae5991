"""Domain -> TMF622 JSON (outbound half of the anti-corruption layer).

``product_order`` renders a ProductOrder as TMF622 v4 ``ProductOrder``; the same function serves the API
responses (``orders.api``) and the event payloads (``services.notifications``), so a listener sees exactly what
``GET`` returns. It lives here, below the services, because both use it: services never import ``orders.api``.
``order_items`` loads an order's items with what rendering them reads, in a fixed number of queries.

Prices are the catalog's: ``itemPrice`` per unit, ``itemTotalPrice`` times the quantity, and
``orderTotalPrice`` the sum over the items that add or modify a product (a delete or noChange item
charges nothing new), one entry per price type, charge period and currency.

Why an order is held or rejected: TMF622 v4 has no attribute for it (``cancellationReason`` is for
cancellations, and a ``note`` is the channel's and agents' free text). TMF622 v5 added
``productOrderErrorMessage``, a list of ``ProductOrderErrorMessage`` (``code``, ``reason``, ``message``,
``productOrderItem``): COM writes that attribute, with the v5 name and shape, as a TMF630 extension of the v4
``ProductOrder``. The v4 schema allows further attributes, so the order stays v4-valid, a v4 client ignores it,
and a client written for v5 reads it where v5 puts it.
"""
from django.urls import reverse

from comapp.tmf import absolute_url, iso
from orders.pricing import item_total, order_total

CHARGING_ACTIONS = ("add", "modify")

ORDER_FIELDS = {
    "id", "href", "externalId", "state", "orderDate", "priority", "category", "description", "notificationContact",
    "requestedStartDate", "requestedCompletionDate", "expectedCompletionDate", "completionDate",
    "cancellationDate", "cancellationReason", "channel", "relatedParty", "billingAccount", "note",
    "productOrderItem", "orderTotalPrice", "productOrderErrorMessage", "@type", "@baseType",
}
# What a channel is told instead of the stored reason, by reason code: a fallout's own text (an exception, a host,
# SOM's raw error) is for the order desk only (``state_reason`` keeps it in full for the desk).
PUBLIC_REASONS = {
    "FALLOUT": "Fulfilment needs attention from our operations team",
}
# States in which the order carries its reason (ProductOrder.state_reason_code; ``state_reason`` unless the code
# has a public text).
EXPLAINED_STATES = {
    "held": "Processing is paused until an agent resolves this; the order then continues or is rejected.",
    "rejected": "The order will not be fulfilled. Correct the cause and submit a new order.",
}


def order_href(order_id: str, request=None) -> str:
    return absolute_url(request, reverse("tmf622:order-detail", kwargs={"order_id": order_id}))


def _drop_none(data: dict) -> dict:
    return {k: v for k, v in data.items() if v is not None and v != "" and v != []}


def _price(price: dict) -> dict:
    out = {
        "name": price.get("name") or "",
        "priceType": price.get("price_type") or "",
        "price": {"taxIncludedAmount": {"unit": price.get("currency") or "EUR", "value": float(price["amount"])}},
        "@type": "OrderPrice",
    }
    if price.get("recurring_period"):
        out["recurringChargePeriod"] = price["recurring_period"]
    return out


def _characteristic(name: str, value) -> dict:
    if isinstance(value, bool):
        value_type = "boolean"
    elif isinstance(value, int):
        value_type = "integer"
    elif isinstance(value, float):
        value_type = "number"
    else:
        value_type = "string"
    return {"name": name, "valueType": value_type, "value": value, "@type": "Characteristic"}


def product_order_item(item, request=None) -> dict:
    offering = item.product_offering
    product = {
        "productCharacteristic": [_characteristic(k, v) for k, v in sorted(item.characteristics.items())],
        "productSpecification": {
            "id": item.product_specification.spec_id,
            "name": item.product_specification.name,
            "version": str(item.product_specification.version),
            "href": absolute_url(request, f"/tmf-api/productCatalogManagement/v4/productSpecification/"
                                          f"{item.product_specification.spec_id}?version="
                                          f"{item.product_specification.version}"),
            "@referredType": "ProductSpecification",
        },
        "@type": "Product",
    }
    if item.product_id:
        product["id"] = item.product_id
        product["href"] = absolute_url(request, f"/tmf-api/productInventory/v4/product/{item.product_id}")
    if item.place:
        product["place"] = [_drop_none({"id": item.place.get("id"), "name": item.place.get("name"),
                                        "role": item.place.get("role") or "installationAddress",
                                        "@referredType": "GeographicAddress", "@type": "RelatedPlaceRefOrValue"})]
    data = {
        "id": item.item_id,
        "action": item.action,
        "state": item.state,
        "quantity": item.quantity,
        "productOffering": {
            "id": offering.offering_id,
            "name": offering.name,
            "href": absolute_url(request, f"/tmf-api/productCatalogManagement/v4/productOffering/{offering.offering_id}"),
            "@referredType": "ProductOffering",
        },
        "product": product,
        "itemPrice": [_price(p) for p in item.item_prices],
        "itemTotalPrice": [_price(p) for p in item_total(item.item_prices, item.quantity)],
        "productOrderItemRelationship": [
            {"id": rel.related_item.item_id, "relationshipType": rel.relationship_type,
             "@type": "OrderItemRelationship"}
            for rel in item.relationships.all()
        ],
        "@type": "ProductOrderItem",
    }
    if item.appointment:
        data["appointment"] = _drop_none({"id": item.appointment.get("id"), "href": item.appointment.get("href"),
                                          "@referredType": "Appointment"})
    return _drop_none(data)


# How a note written by staff (or by COM) is signed for channels: a person's user name is not a partner's business.
STAFF_AUTHOR = "order desk"


def note_author(note: dict) -> str | None:
    """The author a channel reads: as sent for a channel's note, ``STAFF_AUTHOR`` for one of staff or COM."""
    writer = note.get("by") or note.get("author") or ""
    if writer.startswith("user:") or writer == "system" or (note.get("author") or "").startswith("user:"):
        return STAFF_AUTHOR
    return note.get("author")


def error_messages(order, items, request=None) -> list[dict]:
    """Why the order is held or rejected, as TMF622 v5 ``ProductOrderErrorMessage`` entries (empty otherwise).

    A check's reason is the channel's business; a fallout's is not: it reads ``PUBLIC_REASONS`` instead."""
    if order.state not in EXPLAINED_STATES or not (order.state_reason_code or order.state_reason):
        return []
    message = {
        "code": order.state_reason_code or order.state.upper(),
        "reason": PUBLIC_REASONS.get(order.state_reason_code) or order.state_reason or order.state_reason_code,
        "message": EXPLAINED_STATES[order.state],
        "@type": "ProductOrderErrorMessage",
    }
    lines = [item for item in items if item.state in EXPLAINED_STATES and item.state_reason]
    if lines:
        message["productOrderItem"] = [
            {"itemId": item.item_id, "productOrderId": order.pk, "productOrderHref": order_href(order.pk, request),
             "@referredType": "ProductOrderItem", "@type": "ProductOrderItemRef"}
            for item in lines
        ]
    return [message]


def order_items(order) -> list:
    """The order's items with their offering, specification and relationships loaded (no query per item)."""
    return list(order.items.select_related("product_offering", "product_specification")
                .prefetch_related("relationships__related_item"))


def product_order(order, request=None, items=None) -> dict:
    items = items if items is not None else order_items(order)
    data = {
        "id": order.pk,
        "href": order_href(order.pk, request),
        "externalId": order.external_id or None,
        "state": order.state,
        "orderDate": iso(order.order_date),
        "priority": str(order.priority),
        "category": order.category or None,
        "description": order.description or None,
        "notificationContact": order.notification_contact or None,
        "requestedStartDate": iso(order.requested_start_date),
        "requestedCompletionDate": iso(order.requested_completion_date),
        "expectedCompletionDate": iso(order.expected_completion_date),
        "completionDate": iso(order.completion_date),
        "cancellationDate": iso(order.cancellation_date),
        "cancellationReason": order.cancellation_reason or None,
        "channel": [{"id": str(order.channel_id), "name": order.channel.name, "role": "salesChannel",
                     "@referredType": "SalesChannel", "@type": "RelatedChannel"}],
        "billingAccount": ({"id": order.billing_account_id, "@referredType": "BillingAccount"}
                           if order.billing_account_id else None),
        "note": [_drop_none({"id": n.get("id"), "author": note_author(n), "date": n.get("date"),
                             "text": n.get("text"), "@type": "Note"}) for n in order.notes],
        "productOrderItem": [product_order_item(item, request) for item in items],
        "orderTotalPrice": [_price(p) for p in order_total((i.item_prices, i.quantity) for i in items
                                                           if i.action in CHARGING_ACTIONS)],
        "productOrderErrorMessage": error_messages(order, items, request),
        "@type": "ProductOrder",
        "@baseType": "ProductOrder",
    }
    data = _drop_none(data)
    # TMF622 conformance: every order carries relatedParty, even when empty.
    data["relatedParty"] = [
        _drop_none({"id": p.get("id"), "name": p.get("name"), "role": p.get("role"),
                    "@referredType": p.get("referred_type") or "Individual", "@type": "RelatedParty"})
        for p in order.related_parties
    ]
    return data
