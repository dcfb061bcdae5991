"""Domain -> TMF620 v4 JSON (the catalog's anti-corruption layer; the API is read-only, so outbound only).

A specification is addressed by its stable ``spec_id``; its hrefs carry ``?version=N`` so that a link keeps
naming the version it was written for after the specification is revised.

TMF620 v4 lists an offering's prices as ``ProductOfferingPriceRef``. COM has no productOfferingPrice
resource, so each entry carries its value inline (``priceType``, ``recurringChargePeriodType``, ``price``), as
the later ``ProductOfferingPriceRefOrValue`` does; the id is the price's key within the catalog.
"""
from django.urls import reverse

from catalog.models import PriceType, ProductOffering, ProductSpecCharacteristic, ProductSpecification, ValueType
from comapp.tmf import absolute_url, iso

OFFERING_FIELDS = {
    "id", "href", "name", "description", "version", "lifecycleStatus", "lastUpdate", "validFor", "isBundle",
    "isSellable", "category", "productSpecification", "productOfferingPrice", "@type", "@baseType",
}
SPECIFICATION_FIELDS = {
    "id", "href", "name", "description", "version", "lifecycleStatus", "lastUpdate", "brand", "isBundle",
    "productSpecCharacteristic", "serviceSpecification", "@type", "@baseType",
}


def offering_href(offering_id: str, request=None) -> str:
    return absolute_url(request, reverse("tmf620:productOffering-detail", kwargs={"offering_id": offering_id}))


def specification_href(spec_id: str, version: int, request=None) -> str:
    path = reverse("tmf620:productSpecification-detail", kwargs={"spec_id": spec_id})
    return absolute_url(request, f"{path}?version={version}")


def _valid_for(offering: ProductOffering) -> dict:
    period = {"startDateTime": iso(offering.valid_from)}
    if offering.valid_to is not None:
        period["endDateTime"] = iso(offering.valid_to)
    return period


def _price(price) -> dict:
    data = {
        "id": str(price.pk),
        "name": price.name,
        "priceType": price.price_type,
        "price": {"unit": price.currency, "value": float(price.amount)},
        "@referredType": "ProductOfferingPrice",
    }
    if price.price_type == PriceType.RECURRING and price.recurring_period:
        data["recurringChargePeriodType"] = price.recurring_period
        data["recurringChargePeriodLength"] = 1
    if price.condition_characteristic:  # charged only with this characteristic value (TMF620 prodSpecCharValueUse)
        data["prodSpecCharValueUse"] = [{"name": price.condition_characteristic,
                                         "productSpecCharacteristicValue": [{"value": price.condition_value}],
                                         "@type": "ProductSpecificationCharacteristicValueUse"}]
    return data


def _specification_ref(specification: ProductSpecification, request) -> dict:
    return {
        "id": specification.spec_id,
        "href": specification_href(specification.spec_id, specification.version, request),
        "name": specification.name,
        "version": str(specification.version),
        "@referredType": "ProductSpecification",
    }


def product_offering(offering: ProductOffering, request=None) -> dict:
    return {
        "id": offering.offering_id,
        "href": offering_href(offering.offering_id, request),
        "name": offering.name,
        "description": offering.description,
        "version": offering.version,
        "lifecycleStatus": offering.lifecycle_status,
        "lastUpdate": iso(offering.last_update),
        "validFor": _valid_for(offering),
        "isBundle": False,
        "isSellable": offering.is_sellable,
        "category": ([{"id": offering.category, "name": offering.category, "@referredType": "Category"}]
                     if offering.category else []),
        "productSpecification": _specification_ref(offering.specification, request),
        "productOfferingPrice": [_price(price) for price in offering.prices.all()],
        "@type": "ProductOffering",
        "@baseType": "ProductOffering",
    }


def _same_value(a, b) -> bool:
    # True == 1 in Python; a default of 1 must not mark a boolean true as default, nor the reverse.
    return type(a) is type(b) and a == b


def _characteristic_values(characteristic: ProductSpecCharacteristic) -> list[dict]:
    values = list(characteristic.allowed_values)
    if not values and characteristic.value_type == ValueType.BOOLEAN:
        values = [True, False]
    elif not values and characteristic.default_value is not None:
        values = [characteristic.default_value]
    out = []
    for value in values:
        entry = {"value": value, "valueType": characteristic.value_type,
                 "isDefault": _same_value(value, characteristic.default_value)}
        if characteristic.unit:
            entry["unitOfMeasure"] = characteristic.unit
        out.append(entry)
    return out


def _characteristic(characteristic: ProductSpecCharacteristic) -> dict:
    return {
        "name": characteristic.name,
        "description": characteristic.description,
        "valueType": characteristic.value_type,
        "configurable": characteristic.configurable,
        "minCardinality": 1 if characteristic.mandatory else 0,
        "maxCardinality": 1,
        "productSpecCharacteristicValue": _characteristic_values(characteristic),
    }


def _service_specifications(specification: ProductSpecification) -> list[dict]:
    # A CFS with one rule per access technology is still one service of the specification. The id is the CFS
    # code (as TMF641 names it); the version is the one this specification version's rules name.
    seen, refs = set(), []
    for rule in specification.decomposition_rules.all():
        service = rule.service_specification
        if service.pk not in seen:
            seen.add(service.pk)
            refs.append({"id": service.code, "name": service.name, "version": str(service.version),
                         "@referredType": "ServiceSpecification"})
    return refs


def product_specification(specification: ProductSpecification, request=None) -> dict:
    return {
        "id": specification.spec_id,
        "href": specification_href(specification.spec_id, specification.version, request),
        "name": specification.name,
        "description": specification.description,
        "version": str(specification.version),
        "lifecycleStatus": specification.lifecycle_status,
        "lastUpdate": iso(specification.last_update),
        "brand": specification.brand,
        "isBundle": False,
        "productSpecCharacteristic": [_characteristic(c) for c in specification.characteristics.all()],
        "serviceSpecification": _service_specifications(specification),
        "@type": "ProductSpecification",
        "@baseType": "ProductSpecification",
    }
