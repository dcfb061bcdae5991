"""Named reads of the product catalog. No writes here: see ``catalog.services``."""
from datetime import datetime

from django.db.models import Max, OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone

from catalog.models import DecompositionRule, ProductOffering, ProductSpecification, ServiceSpecification
from comapp.errors import NotAllowed, NotFound, ValidationFailed

OFFERING_FILTERS = {
    "lifecycleStatus": "lifecycle_status",
    "name": "name",
    "category": "category",
}
SPECIFICATION_FILTERS = {
    "lifecycleStatus": "lifecycle_status",
    "name": "name",
}

_RULES = Prefetch("decomposition_rules", queryset=DecompositionRule.objects.select_related("service_specification"))


def _offerings() -> QuerySet[ProductOffering]:
    return ProductOffering.objects.select_related("specification").prefetch_related("prices")


def _specifications() -> QuerySet[ProductSpecification]:
    return ProductSpecification.objects.prefetch_related("characteristics", _RULES)


def _apply_filters(queryset: QuerySet, filters: dict[str, str], supported: dict[str, str]) -> QuerySet:
    unknown = sorted(name for name in filters if name not in supported)
    if unknown:
        raise ValidationFailed(f"Unknown filter(s): {', '.join(unknown)}. Supported: {', '.join(sorted(supported))}")
    for name, raw in filters.items():
        values = [value.strip() for value in raw.split(",") if value.strip()]
        queryset = queryset.filter(**{f"{supported[name]}__in": values})
    return queryset


def offering_list(*, filters: dict[str, str]) -> QuerySet[ProductOffering]:
    """Offerings matching TMF filters (``lifecycleStatus=active,retired``); ValidationFailed on an unknown one."""
    # The primary key breaks ties so that offset paging never repeats or skips an offering.
    return _apply_filters(_offerings(), filters, OFFERING_FILTERS).order_by("name", "pk")


def offering_detail(*, offering_id: str) -> ProductOffering:
    """The offering with this TMF id; NotFound if there is none."""
    offering = _offerings().filter(offering_id=offering_id).first()
    if offering is None:
        raise NotFound(f"No product offering {offering_id}")
    return offering


def orderable_offering(*, offering_id: str, when: datetime | None = None) -> ProductOffering:
    """The offering if it can be ordered at ``when`` (now by default); NotFound if unknown, NotAllowed if not."""
    offering = offering_detail(offering_id=offering_id)
    if not offering.is_orderable_at(when or timezone.now()):
        raise NotAllowed(f"Product offering {offering_id} is not orderable "
                         f"(lifecycle status {offering.lifecycle_status}, sellable {offering.is_sellable}).")
    return offering


def specification_list(*, filters: dict[str, str]) -> QuerySet[ProductSpecification]:
    """The latest version of each specification, matching TMF filters; ValidationFailed on an unknown one."""
    latest = (ProductSpecification.objects.filter(spec_id=OuterRef("spec_id")).values("spec_id")
              .annotate(latest=Max("version")).values("latest"))
    queryset = _specifications().filter(version=Subquery(latest))
    return _apply_filters(queryset, filters, SPECIFICATION_FILTERS).order_by("spec_id")


def latest_specification(*, spec_id: str) -> ProductSpecification:
    """The highest version of the specification ``spec_id``; NotFound if there is none."""
    specification = _specifications().filter(spec_id=spec_id).order_by("-version").first()
    if specification is None:
        raise NotFound(f"No product specification {spec_id}")
    return specification


def specification_version(*, spec_id: str, version: int) -> ProductSpecification:
    """One version of the specification ``spec_id``; NotFound if there is no such version."""
    specification = _specifications().filter(spec_id=spec_id, version=version).first()
    if specification is None:
        raise NotFound(f"No version {version} of product specification {spec_id}")
    return specification


def dependency_cycle(code: str, depends_on: list[str]) -> list[str]:
    """The loop ``code`` would close if it depended on the codes ``depends_on`` (``[code, ..., code]``), or ``[]``.

    A CFS depends on another by code, whichever version an order builds: the loop is looked for among the latest
    version of every other code.
    """
    needs: dict[str, set[str]] = {}
    for service in ServiceSpecification.objects.order_by("code", "version").prefetch_related("depends_on"):
        needs[service.code] = {d.code for d in service.depends_on.all()}  # the latest version wins
    needs[code] = set(depends_on)
    path, seen = [code], set()

    def walk(current: str) -> bool:
        for following in sorted(needs.get(current, ())):
            if following == code:
                path.append(code)
                return True
            if following in seen:
                continue
            seen.add(following)
            path.append(following)
            if walk(following):
                return True
            path.pop()
        return False

    return path if walk(code) else []

