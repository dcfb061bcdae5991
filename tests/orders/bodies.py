"""Real TMF622 request bodies, as a channel would send them."""
import copy

SUPERFIBRE_ORDER = {
    "externalId": "portal-0001",
    "priority": "2",
    "category": "residential",
    "description": "SuperFibre for Alice",
    "requestedCompletionDate": "2030-01-15T09:00:00Z",
    "relatedParty": [{"id": "CUST-1001", "name": "Alice Martin", "role": "customer", "@referredType": "Individual"}],
    "note": [{"author": "portal", "text": "Customer prefers morning calls"}],
    "productOrderItem": [
        {
            "id": "1",
            "action": "add",
            "quantity": 1,
            "productOffering": {"id": "PO-SUPERFIBRE-200"},
            "product": {
                "productCharacteristic": [
                    {"name": "downloadSpeed", "value": 200, "valueType": "integer"},
                    {"name": "wifiManagement", "value": True, "valueType": "boolean"},
                ],
                "place": [{"id": "ADDR-1001", "role": "installationAddress"}],
            },
            "@type": "ProductOrderItem",
        }
    ],
    "@type": "ProductOrder",
}


def order_body(external_id: str | None = "portal-0001", customer: str = "CUST-1001", **changes) -> dict:
    body = copy.deepcopy(SUPERFIBRE_ORDER)
    if external_id is None:
        body.pop("externalId")
    else:
        body["externalId"] = external_id
    body["relatedParty"][0]["id"] = customer
    body.update(changes)
    return body


def item(item_id="1", offering="PO-SUPERFIBRE-200", action="add", place="ADDR-1001", product_id=None,
         relationships=(), appointment=None, **characteristics) -> dict:
    product = {"productCharacteristic": [{"name": k, "value": v} for k, v in characteristics.items()]}
    if place:
        product["place"] = [{"id": place, "role": "installationAddress"}]
    if product_id:
        product["id"] = product_id
    data = {"id": item_id, "action": action, "productOffering": {"id": offering}, "product": product}
    if relationships:
        data["productOrderItemRelationship"] = [{"id": r, "relationshipType": "reliesOn"} for r in relationships]
    if appointment:
        data["appointment"] = {"id": appointment}
    return data
