"""The decomposition engine: product order items -> the customer-facing services (CFS) to build.

A pure function over plain values (``plan``): the same inputs give the same plan, in the same order,
with the same keys. ``services.decomposition`` feeds it from the database (the rules of the catalog
version each item was captured with, the current products from inventory, the technology the
serviceability check chose) and stores the result with unique keys, so running it twice adds nothing.

Rules applied:
- add: every rule of the specification whose technology matches the place and whose condition holds on
  the desired characteristics; the CFS gets the rule's input characteristics (and the access technology).
- modify: the same target set, compared with the services the product has now: a CFS whose inputs
  changed is modified, a new one added, one no longer wanted deleted; an unchanged one is left alone.
- delete: every service of the product is deleted, except one still serving another live product.
- a shareable CFS needed by several items of the order at the same place is planned once, dimensioned
  for the most demanding of them (the larger of two numeric inputs).
- a CFS that relies on another (Static-IP on Internet-Access) depends on it when both are in the plan;
  for deletes the dependency is reversed (the dependent goes first).
- each planned service carries the ``service_ref`` of the rule it comes from (of the item's specification
  for a delete): which version of the CFS to build it with is the caller's, not a lookup by code.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    service_code: str
    mandatory: bool
    inputs: tuple[str, ...] = ()
    technology: str = ""
    condition_characteristic: str = ""
    condition_operator: str = ""
    condition_value: object = None
    shareable: bool = False
    depends_on: tuple[str, ...] = ()
    # The catalog's id of the CFS version the rule names: opaque here, carried onto what it plans so the
    # caller builds each service with the version the order was captured with.
    service_ref: object = None


@dataclass(frozen=True)
class CurrentService:
    service_code: str
    service_id: str
    inputs: dict


@dataclass(frozen=True)
class ItemInput:
    item_id: str
    action: str
    quantity: int
    characteristics: dict
    place: dict | None
    rules: tuple[Rule, ...]
    current_services: tuple[CurrentService, ...] = ()
    services_shared_elsewhere: frozenset[str] = frozenset()


@dataclass
class PlannedService:
    plan_key: str
    service_code: str
    action: str
    quantity: int
    characteristics: dict
    place: dict | None
    mandatory: bool
    item_ids: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    service_id: str = ""
    service_ref: object = None  # the rule's ``service_ref`` (the first item's, for a shared service)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def condition_holds(rule: Rule, characteristics: dict) -> bool:
    if not rule.condition_characteristic:
        return True
    value = characteristics.get(rule.condition_characteristic)
    expected = rule.condition_value
    op = rule.condition_operator or "eq"
    if op == "eq":
        return value == expected
    if op == "ne":
        return value != expected
    if op == "in":
        return value in (expected or [])
    if op == "gte":
        return value is not None and expected is not None and value >= expected
    raise ValueError(f"unknown condition operator {op!r}")


def _target_services(item: ItemInput, technology: str) -> list[tuple[Rule, dict]]:
    targets = []
    for rule in item.rules:
        if rule.technology and rule.technology != technology:
            continue
        if not condition_holds(rule, item.characteristics):
            continue
        inputs = {name: item.characteristics[name] for name in rule.inputs if name in item.characteristics}
        if technology:
            inputs["accessTechnology"] = technology
        targets.append((rule, inputs))
    return targets


def _ref(item: ItemInput, code: str) -> object:
    """The CFS version a rule of the item's specification names for ``code`` (None if no rule names it)."""
    return next((rule.service_ref for rule in item.rules if rule.service_code == code), None)


def plan(items: list[ItemInput], technology_by_place: dict[str, str]) -> list[PlannedService]:
    """The ordered list of services to build for these items."""
    planned: dict[str, PlannedService] = {}
    rules_by_code: dict[str, Rule] = {}

    def add(key: str, service: PlannedService, item_id: str) -> None:
        if key in planned:
            existing = planned[key]
            if item_id not in existing.item_ids:
                existing.item_ids.append(item_id)
            existing.mandatory = existing.mandatory or service.mandatory
            for name, value in service.characteristics.items():
                current = existing.characteristics.get(name)
                if _is_number(value) and _is_number(current):
                    # a shared service is dimensioned for the most demanding product it serves
                    existing.characteristics[name] = max(current, value)
                else:
                    existing.characteristics.setdefault(name, value)
            return
        service.item_ids.append(item_id)
        planned[key] = service

    for item in items:
        place_id = (item.place or {}).get("id", "")
        technology = technology_by_place.get(place_id, "")
        for rule in item.rules:
            rules_by_code.setdefault(rule.service_code, rule)
        if item.action == "add":
            for rule, inputs in _target_services(item, technology):
                shared = rule.shareable and place_id
                key = f"shared:{place_id}:{rule.service_code}" if shared else f"{item.item_id}:{rule.service_code}"
                add(key, PlannedService(key, rule.service_code, "add", item.quantity, inputs, item.place,
                                        rule.mandatory, service_ref=rule.service_ref), item.item_id)
        elif item.action == "modify":
            current = {s.service_code: s for s in item.current_services}
            wanted = _target_services(item, technology)
            for rule, inputs in wanted:
                key = f"{item.item_id}:{rule.service_code}"
                now = current.get(rule.service_code)
                if now is None:
                    add(key, PlannedService(key, rule.service_code, "add", item.quantity, inputs, item.place,
                                            rule.mandatory, service_ref=rule.service_ref), item.item_id)
                elif now.inputs != inputs:
                    add(key, PlannedService(key, rule.service_code, "modify", item.quantity, inputs, item.place,
                                            rule.mandatory, service_id=now.service_id,
                                            service_ref=rule.service_ref), item.item_id)
            wanted_codes = {rule.service_code for rule, _ in wanted}
            for code, now in current.items():
                if code not in wanted_codes and now.service_id not in item.services_shared_elsewhere:
                    key = f"{item.item_id}:{code}"
                    add(key, PlannedService(key, code, "delete", 1, dict(now.inputs), item.place, True,
                                            service_id=now.service_id, service_ref=_ref(item, code)),
                        item.item_id)
        elif item.action == "delete":
            for now in item.current_services:
                if now.service_id in item.services_shared_elsewhere:
                    continue
                key = f"delete:{now.service_id}"
                add(key, PlannedService(key, now.service_code, "delete", 1, dict(now.inputs), item.place, True,
                                        service_id=now.service_id, service_ref=_ref(item, now.service_code)),
                    item.item_id)

    services = list(planned.values())
    _link_dependencies(services, rules_by_code)
    return services


def _link_dependencies(services: list[PlannedService], rules_by_code: dict[str, Rule]) -> None:
    by_code_place: dict[tuple[str, str, str], list[PlannedService]] = {}
    for service in services:
        kind = "delete" if service.action == "delete" else "build"
        by_code_place.setdefault((service.service_code, (service.place or {}).get("id", ""), kind), []).append(service)
    for service in services:
        rule = rules_by_code.get(service.service_code)
        if rule is None:
            continue
        place_id = (service.place or {}).get("id", "")
        for required in rule.depends_on:
            if service.action == "delete":
                # the service that relies on another is removed before it
                for other in by_code_place.get((required, place_id, "delete"), []):
                    if service.plan_key not in other.depends_on:
                        other.depends_on.append(service.plan_key)
            else:
                for other in by_code_place.get((required, place_id, "build"), []):
                    if other.plan_key not in service.depends_on:
                        service.depends_on.append(other.plan_key)
