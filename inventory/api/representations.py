"""Domain -> TMF637 v4 JSON (outbound half of the anti-corruption layer).

``product`` renders an inventory Product as TMF637 ``Product``. Amounts are written as
``taxIncludedAmount``, as the TMF622 order representation writes the same stored prices, so a channel
reads one amount the same way on its order and on the product it produced. The product's ``version``
(an optimistic-locking counter) is not written: TMF637 ``Product`` has no such attribute.

TM Forum's TMF637 v4 conformance kit expects every product to carry ``billingAccount``,
``productCharacteristic``, ``productOffering``, ``productPrice``, ``relatedParty`` and ``status``: those keys
are always written (a list may be empty), whatever else is left out for being empty.
"""
from django.urls import reverse

from comapp.tmf import absolute_url, iso
from inventory.models import ProductStatus

PRODUCT_FIELDS = {
    "id", "href", "name", "status", "isBundle", "isCustomerVisible", "orderDate", "startDate", "terminationDate",
    "productCharacteristic", "productOffering", "productSpecification", "place", "relatedParty", "productPrice",
    "productOrderItem", "realizingService", "billingAccount", "@type",
}

# TMF622/637 v4 ProductStatusType spells it with a trailing space.
TMF_ABORTED = "aborted "


def product_href(product_id: str, request=None) -> str:
    return absolute_url(request, reverse("tmf637:product-detail", kwargs={"product_id": product_id}))


def tmf_status(status: str) -> str:
    return TMF_ABORTED if status == ProductStatus.ABORTED else status


# Written on every product, even when empty (TMF637 v4 conformance).
ALWAYS_WRITTEN = ("billingAccount", "productCharacteristic", "productOffering", "productPrice", "relatedParty",
                  "status")


def _drop_none(data: dict, keep: tuple[str, ...] = ()) -> dict:
    return {k: v for k, v in data.items() if k in keep or (v is not None and v != "" and v != [])}


def _value_type(value) -> str:
    # bool first: it is a subclass of int.
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _characteristic(name: str, value) -> dict:
    return {"name": name, "valueType": _value_type(value), "value": value, "@type": "Characteristic"}


def _price(price: dict) -> dict:
    data = {
        "priceType": price.get("price_type") or "",
        "price": {"taxIncludedAmount": {"unit": price.get("currency") or "EUR", "value": float(price["amount"])},
                  "@type": "Price"},
        "@type": "ProductPrice",
    }
    if price.get("name"):
        data["name"] = price["name"]
    if price.get("recurring_period"):
        data["recurringChargePeriod"] = price["recurring_period"]
    return data


def _party(party: dict) -> dict:
    return _drop_none({"id": party.get("id"), "name": party.get("name"), "role": party.get("role"),
                       "@referredType": party.get("referred_type") or "Individual", "@type": "RelatedParty"})


def _related_parties(product) -> list[dict]:
    parties = [_party(p) for p in product.related_parties if p.get("id")]
    # relatedParty.id filters on the customer, so the customer is always among the parties shown.
    if not any(p["id"] == product.customer_id for p in parties):
        parties.insert(0, _party({"id": product.customer_id, "role": "customer"}))
    return parties


def _place(place: dict) -> dict:
    return _drop_none({"id": place.get("id"), "name": place.get("name"),
                       "role": place.get("role") or "installationAddress",
                       "@referredType": "GeographicAddress", "@type": "RelatedPlaceRefOrValue"})


def _order_item(item, request) -> dict:
    return {
        "orderItemId": item.item_id,
        "orderItemAction": item.action,
        "productOrderId": item.order_id,
        "productOrderHref": absolute_url(request, f"/tmf-api/productOrderingManagement/v4/productOrder/"
                                                  f"{item.order_id}"),
        "@referredType": "ProductOrderItem",
        "@type": "RelatedProductOrderItem",
    }


def _realizing_service(service: dict) -> dict:
    return _drop_none({"id": service.get("service_id"), "name": service.get("service_spec"),
                       "@referredType": "Service", "@type": "ServiceRef"})


def product(record, request=None) -> dict:
    """``record``: an inventory Product, its offering, specification and order items loaded."""
    offering = record.product_offering
    spec = record.product_specification
    data = {
        "id": record.pk,
        "href": product_href(record.pk, request),
        "name": record.name,
        "status": tmf_status(record.status),
        "isBundle": False,
        "isCustomerVisible": True,
        "orderDate": iso(record.order_date),
        "startDate": iso(record.start_date),
        "terminationDate": iso(record.termination_date),
        # sorted: PostgreSQL jsonb does not keep key order, and the answer must not depend on the database
        "productCharacteristic": [_characteristic(k, v) for k, v in sorted(record.characteristics.items())],
        "productOffering": {
            "id": offering.offering_id,
            "href": absolute_url(request, f"/tmf-api/productCatalogManagement/v4/productOffering/"
                                          f"{offering.offering_id}"),
            "name": offering.name,
            "@referredType": "ProductOffering",
        },
        "productSpecification": {
            "id": spec.spec_id,
            "href": absolute_url(request, f"/tmf-api/productCatalogManagement/v4/productSpecification/"
                                          f"{spec.spec_id}?version={spec.version}"),
            "name": spec.name,
            "version": str(spec.version),
            "@referredType": "ProductSpecification",
        },
        "place": [_place(record.place)] if record.place else None,
        "relatedParty": _related_parties(record),
        "productPrice": [_price(p) for p in record.prices],
        "productOrderItem": [_order_item(item, request) for item in record.order_items.all()],
        # A ServiceRef needs an id; an entry without one names no service instance to point at.
        "realizingService": [_realizing_service(s) for s in record.realizing_services if s.get("service_id")],
        # The account the product is billed to, as captured from its order ("" if that order named none).
        "billingAccount": {"id": record.billing_account_id, "@referredType": "BillingAccount"},
        "@type": "Product",
    }
    return _drop_none(data, keep=ALWAYS_WRITTEN)
