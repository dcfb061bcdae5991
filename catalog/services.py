"""Writes to the product catalog: new specification versions and the demo catalog."""
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from catalog import demo
from catalog.models import (
    DecompositionRule, LifecycleStatus, ProductOffering, ProductOfferingPrice, ProductSpecCharacteristic,
    ProductSpecification, ServiceSpecification,
)
from comapp.errors import ValidationFailed


def _copied_values(row: Model) -> dict:
    """Every stored column of ``row`` but its primary key, so a field added to the model is copied too."""
    return {field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields
            if not field.primary_key}


def _next_offering_version(offering: ProductOffering) -> str:
    try:
        return str(int(offering.version) + 1)
    except ValueError:
        raise ValidationFailed(f"Product offering {offering.offering_id} has version '{offering.version}', "
                               "which is not a whole number, so it cannot be bumped.") from None


@transaction.atomic
def revise_specification(*, specification: ProductSpecification, actor_name: str) -> ProductSpecification:
    """Copy a version into a new active one selling in its place; ValidationFailed on a non-numeric offering version."""
    # Locking every version of the spec_id serialises concurrent revisions on databases that lock rows.
    versions = (ProductSpecification.objects.select_for_update().filter(spec_id=specification.spec_id)
                .values_list("version", flat=True))
    # Numbered after the latest version, so revising an older one never collides with a newer one.
    next_version = max(versions) + 1
    now = timezone.now()
    reason = f"Version {next_version} of {specification.spec_id} by {actor_name}"

    revised = ProductSpecification(**{
        **_copied_values(specification),
        "version": next_version, "lifecycle_status": LifecycleStatus.ACTIVE, "last_update": now,
    })
    revised._change_reason = f"{reason}, copied from version {specification.version}"
    revised.save()
    ProductSpecCharacteristic.objects.bulk_create(
        ProductSpecCharacteristic(**{**_copied_values(row), "specification_id": revised.pk})
        for row in specification.characteristics.all()
    )
    DecompositionRule.objects.bulk_create(
        DecompositionRule(**{**_copied_values(row), "specification_id": revised.pk})
        for row in specification.decomposition_rules.all()
    )

    for offering in ProductOffering.objects.select_for_update().filter(specification=specification):
        offering.specification = revised
        offering.version = _next_offering_version(offering)
        offering.last_update = now
        offering._change_reason = reason
        offering.save()
    return revised


@dataclass(frozen=True)
class DemoCatalogResult:
    service_specifications: int
    product_specifications: int
    product_offerings: int

    def __str__(self) -> str:
        return (f"Demo catalog: created {self.service_specifications} service specification(s), "
                f"{self.product_specifications} product specification(s), "
                f"{self.product_offerings} product offering(s).")


def _load_service_specifications() -> int:
    existing = set(ServiceSpecification.objects.values_list("code", flat=True))
    created = {}
    for code, name, max_retries, failure_policy, shareable, reversible, _ in demo.SERVICE_SPECIFICATIONS:
        if code not in existing:
            created[code] = ServiceSpecification.objects.create(
                code=code, name=name, max_retries=max_retries, failure_policy=failure_policy, shareable=shareable,
                reversible=reversible,
            )
    by_code = {s.code: s for s in ServiceSpecification.objects.all()}
    # Only the services created now get their dependencies: existing rows are left as an admin set them.
    for code, *_, depends_on in demo.SERVICE_SPECIFICATIONS:
        if code in created and depends_on:
            created[code].depends_on.set([by_code[dependency] for dependency in depends_on])
    return len(created)


def _load_product_specifications() -> int:
    services = {s.code: s for s in ServiceSpecification.objects.all()}
    created = 0
    for data in demo.PRODUCT_SPECIFICATIONS:
        if ProductSpecification.objects.filter(spec_id=data["spec_id"], version=1).exists():
            continue
        specification = ProductSpecification.objects.create(
            spec_id=data["spec_id"], version=1, name=data["name"], requires_place=data["requires_place"],
            requires_appointment=data.get("requires_appointment", False),
        )
        ProductSpecCharacteristic.objects.bulk_create(
            ProductSpecCharacteristic(specification=specification, **characteristic)
            for characteristic in data["characteristics"]
        )
        DecompositionRule.objects.bulk_create(
            DecompositionRule(
                specification=specification, sequence=10 * position,
                service_specification=services[rule["service"]],
                **{key: value for key, value in rule.items() if key != "service"},
            )
            for position, rule in enumerate(data["rules"], start=1)
        )
        created += 1
    return created


def _load_product_offerings() -> int:
    existing = set(ProductOffering.objects.values_list("offering_id", flat=True))
    created = 0
    for data in demo.PRODUCT_OFFERINGS:
        if data["offering_id"] in existing:
            continue
        # A specification revised since it was loaded is sold at its latest version.
        specification = ProductSpecification.objects.filter(spec_id=data["spec_id"]).order_by("-version").first()
        offering = ProductOffering.objects.create(
            offering_id=data["offering_id"], name=data["name"], specification=specification,
            category=data["category"], lifecycle_status=data.get("lifecycle_status", LifecycleStatus.ACTIVE),
            valid_from=data.get("valid_from", demo.SELLING_FROM), valid_to=data.get("valid_to"),
        )
        ProductOfferingPrice.objects.bulk_create(
            ProductOfferingPrice(offering=offering, **price) for price in data["prices"]
        )
        created += 1
    return created


@transaction.atomic
def load_demo_catalog() -> DemoCatalogResult:
    """Create whatever of the demo catalog is missing, leaving existing rows alone; raises nothing."""
    return DemoCatalogResult(
        service_specifications=_load_service_specifications(),
        product_specifications=_load_product_specifications(),
        product_offerings=_load_product_offerings(),
    )
