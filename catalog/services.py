"""Writes to the product catalog: new product and service specification versions, edits of a CFS version not yet
in use, and the demo catalog."""
from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from catalog import demo
from catalog.models import (
    DecompositionRule,
    LifecycleStatus,
    ProductOffering,
    ProductOfferingPrice,
    ProductSpecCharacteristic,
    ProductSpecification,
    ServiceSpecification,
)
from catalog.selectors import dependency_cycle
from comapp.errors import NotAllowed, NotFound, Problem, ValidationFailed


def _copied_values(row: Model) -> dict:
    """Every stored column of ``row`` but its primary key, so a field added to the model is copied too."""
    return {field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields
            if not field.primary_key}


def _save(row: Model, reason: str) -> None:
    """Save ``row`` with its history's change reason, cut to what the history column holds (100 characters)."""
    limit = row.history.model._meta.get_field("history_change_reason").max_length
    row._change_reason = reason if len(reason) <= limit else reason[:limit - 1] + "…"
    row.save()


def _next_offering_version(offering: ProductOffering) -> str:
    try:
        return str(int(offering.version) + 1)
    except ValueError:
        raise ValidationFailed(f"Product offering {offering.offering_id} has version '{offering.version}', "
                               "which is not a whole number, so it cannot be bumped.") from None


def _copy_specification(specification: ProductSpecification, *, actor_name: str, why: str = "",
                        services: dict[int, ServiceSpecification] | None = None) -> ProductSpecification:
    """The next version of ``specification``'s spec_id, copied from it with its rules naming ``services``
    (old CFS version id -> new CFS version) where given; the offerings selling it sell the copy."""
    # Locking every version of the spec_id serialises concurrent revisions on databases that lock rows.
    versions = (ProductSpecification.objects.select_for_update().filter(spec_id=specification.spec_id)
                .values_list("version", flat=True))
    # Numbered after the latest version, so revising an older one never collides with a newer one.
    next_version = max(versions) + 1
    now = timezone.now()
    reason = f"Version {next_version} of {specification.spec_id} by {actor_name}" + (f": {why}" if why else "")
    services = services or {}

    revised = ProductSpecification(**{
        **_copied_values(specification),
        "version": next_version, "lifecycle_status": LifecycleStatus.ACTIVE, "last_update": now,
    })
    _save(revised, f"{reason}, copied from version {specification.version}")
    ProductSpecCharacteristic.objects.bulk_create(
        ProductSpecCharacteristic(**{**_copied_values(row), "specification_id": revised.pk})
        for row in specification.characteristics.all()
    )
    DecompositionRule.objects.bulk_create(
        DecompositionRule(**{
            **_copied_values(row), "specification_id": revised.pk,
            "service_specification_id": (services[row.service_specification_id].pk
                                         if row.service_specification_id in services
                                         else row.service_specification_id),
        })
        for row in specification.decomposition_rules.all()
    )

    for offering in ProductOffering.objects.select_for_update().filter(specification=specification):
        offering.specification = revised
        offering.version = _next_offering_version(offering)
        offering.last_update = now
        _save(offering, reason)
    return revised


@transaction.atomic
def revise_specification(*, specification: ProductSpecification, actor_name: str) -> ProductSpecification:
    """Copy a version into a new active one selling in its place; ValidationFailed on a non-numeric offering version."""
    return _copy_specification(specification, actor_name=actor_name)


# --- service specifications (CFS) ------------------------------------------------------------------

SERVICE_SETTINGS = ("name", "description", "som", "max_retries", "failure_policy", "shareable", "reversible",
                    "milestones", "compensation_action", "point_of_no_return")


@dataclass(frozen=True)
class ServiceRevision:
    """A new CFS version and the new product specification versions that name it."""

    service_specification: ServiceSpecification
    product_specifications: list[ProductSpecification]

    def __str__(self) -> str:
        revised = ", ".join(str(spec) for spec in self.product_specifications) or "no active product specification"
        return f"{self.service_specification} (named by {revised})"


def _refuse_if_frozen(specification: ServiceSpecification) -> None:
    if specification.in_use:
        raise NotAllowed(
            f"Service specification {specification} is frozen: orders were captured against a product "
            f"specification naming it, and they keep using it as it is. Create a new version of "
            f"{specification.code} and change that.", code="SPECIFICATION_FROZEN")


def _apply_settings(specification: ServiceSpecification, changes: dict[str, object]) -> None:
    """Set the CFS settings ``changes`` names; ValidationFailed on an unknown setting or an invalid value."""
    unknown = sorted(set(changes) - set(SERVICE_SETTINGS))
    if unknown:
        raise ValidationFailed(f"Not a setting of a service specification: {', '.join(unknown)}. "
                               f"Settings: {', '.join(SERVICE_SETTINGS)}")
    for name, value in changes.items():
        setattr(specification, name, value)
    try:
        specification.full_clean(exclude=["depends_on"])
    except DjangoValidationError as error:
        raise ValidationFailed(problems=[Problem(field, message) for field, messages in error.message_dict.items()
                                         for message in messages]) from None


def _latest_versions(codes: list[str], *, of: str) -> list[ServiceSpecification]:
    """The latest version of each code: a CFS depends on another by code, whatever its version."""
    latest = {}
    for service in ServiceSpecification.objects.filter(code__in=codes).order_by("code", "version"):
        latest[service.code] = service
    problems = [Problem("depends_on", f"No service specification {code}") for code in codes if code not in latest]
    problems += [Problem("depends_on", f"{of} cannot depend on itself") for code in codes if code == of]
    cycle = [] if of in codes else dependency_cycle(of, codes)
    if cycle:
        problems.append(Problem("depends_on", "a dependency loop: " + " → ".join(cycle)))
    if problems:
        raise ValidationFailed(problems=problems)
    return [latest[code] for code in codes]


@transaction.atomic
def update_service_specification(*, specification: ServiceSpecification, changes: dict[str, object],
                                 depends_on: list[str] | None = None, actor_name: str) -> ServiceSpecification:
    """Change a CFS version nothing uses yet (``depends_on``: codes, None to leave them).

    Raises NotAllowed (SPECIFICATION_FROZEN) once it is in use, ValidationFailed on a bad setting.
    """
    # Locked, so two edits of one version do not interleave; the stored row decides, not the caller's copy.
    stored = ServiceSpecification.objects.select_for_update().get(pk=specification.pk)
    _refuse_if_frozen(stored)
    _apply_settings(stored, changes)
    dependencies = None if depends_on is None else _latest_versions(list(depends_on), of=stored.code)
    changed = sorted(changes) + (["depends_on"] if depends_on is not None else [])
    _save(stored, f"Changed by {actor_name}: {', '.join(changed) or 'nothing'}")
    if dependencies is not None:
        stored.depends_on.set(dependencies)
    return stored


def _active_specifications_naming(code: str, *, besides: ServiceSpecification) -> list[ProductSpecification]:
    """The latest version of each active product specification whose rules name an earlier version of ``code``."""
    spec_ids = (DecompositionRule.objects.filter(service_specification__code=code)
                .exclude(service_specification=besides).values_list("specification__spec_id", flat=True))
    found = []
    for spec_id in sorted(set(spec_ids)):
        latest = ProductSpecification.objects.filter(spec_id=spec_id).order_by("-version").first()
        if latest.lifecycle_status == LifecycleStatus.ACTIVE and latest.decomposition_rules.filter(
                service_specification__code=code).exclude(service_specification=besides).exists():
            found.append(latest)
    return found


@transaction.atomic
def revise_service_specification(*, code: str, actor_name: str, changes: dict[str, object] | None = None,
                                 depends_on: list[str] | None = None) -> ServiceRevision:
    """Make the next version of a CFS, copied from its latest with ``changes`` applied (``depends_on``: codes,
    None to copy them), and a new version of every active product specification whose latest version names an
    earlier one, its offerings repointed. Orders captured before keep the versions they were captured with.

    Raises NotFound for an unknown code, ValidationFailed on a bad setting or a non-numeric offering version.
    """
    # Locking every version of the code serialises concurrent revisions on databases that lock rows.
    versions = list(ServiceSpecification.objects.select_for_update().filter(code=code).order_by("version"))
    if not versions:
        raise NotFound(f"No service specification {code}")
    latest = versions[-1]
    revised = ServiceSpecification(**{**_copied_values(latest), "version": latest.version + 1})
    _apply_settings(revised, changes or {})
    dependencies = _latest_versions(
        [d.code for d in latest.depends_on.all()] if depends_on is None else list(depends_on), of=code)
    why = f"{revised} replaces v{latest.version}"
    # Which settings changed is in the history's diff against the previous version; the reason says why it exists.
    _save(revised, f"Version {revised.version} of {code} by {actor_name}, copied from version {latest.version}"
                   + (" with changes" if changes else ""))
    revised.depends_on.set(dependencies)

    replaced = {old.pk: revised for old in versions}
    product_specifications = [
        _copy_specification(spec, actor_name=actor_name, why=why, services=replaced)
        for spec in _active_specifications_naming(code, besides=revised)
    ]
    return ServiceRevision(service_specification=revised, product_specifications=product_specifications)


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
            milestones, point_of_no_return, compensation = demo.MILESTONES.get(code, ([], "", "terminate"))
            created[code] = ServiceSpecification.objects.create(
                code=code, name=name, max_retries=max_retries, failure_policy=failure_policy, shareable=shareable,
                reversible=reversible, milestones=milestones, point_of_no_return=point_of_no_return,
                compensation_action=compensation,
            )
    by_code = _latest_service_specifications()
    # Only the services created now get their dependencies: existing rows are left as an admin set them.
    for code, *_, depends_on in demo.SERVICE_SPECIFICATIONS:
        if code in created and depends_on:
            created[code].depends_on.set([by_code[dependency] for dependency in depends_on])
    return len(created)


def _latest_service_specifications() -> dict[str, ServiceSpecification]:
    return {s.code: s for s in ServiceSpecification.objects.order_by("code", "version")}  # the latest wins


def _load_product_specifications() -> int:
    services = _latest_service_specifications()
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
            _valid_price(ProductOfferingPrice(offering=offering, **price)) for price in data["prices"]
        )
        created += 1
    return created


def _valid_price(price: ProductOfferingPrice) -> ProductOfferingPrice:
    """The price, if its fields are valid (an amount of at least 0.01); ValidationFailed otherwise."""
    try:
        price.full_clean()
    except DjangoValidationError as error:
        raise ValidationFailed(problems=[
            Problem(f"{price.offering.offering_id}.prices.{field}", message)
            for field, messages in error.message_dict.items() for message in messages]) from None
    return price


@transaction.atomic
def load_demo_catalog() -> DemoCatalogResult:
    """Create whatever of the demo catalog is missing, leaving existing rows alone; ValidationFailed (and nothing
    created) for an invalid price."""
    return DemoCatalogResult(
        service_specifications=_load_service_specifications(),
        product_specifications=_load_product_specifications(),
        product_offerings=_load_product_offerings(),
    )
