"""Capture: validate a channel's order against the catalog and inventory, and create it (acknowledged).

The API layer turns TMF622 JSON into an ``OrderDraft``; nothing here knows TMF JSON. Problems are
reported with domain paths (``items[0].characteristics.downloadSpeed``) that the API layer maps back to
the TMF attribute names. Every problem found is reported at once, and nothing is created.

Money comes from the catalog: an item stores the unit prices of the offering version it is captured
against (``orders.pricing``). A price the channel quotes must equal them, or the order is refused.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.models import ProductOffering, ValueType
from comapp.errors import Conflict, Problem, ValidationFailed
from comapp.tmf import iso
from inventory.models import Product
from orders.models import (
    Channel,
    CustomerProfile,
    ItemAction,
    ItemRelationship,
    OrderEvent,
    ProductOrder,
    ProductOrderItem,
)
from orders.pricing import quoted_price_problem, unit_prices

from . import dispatch
from .common import record_event
from .notifications import notify_order_event
from .updates import note_author_problems

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemDraft:
    item_id: str
    action: str
    quantity: int = 1
    offering_id: str | None = None
    characteristics: dict[str, Any] = field(default_factory=dict)
    product_id: str | None = None
    place: dict | None = None
    relationships: tuple[tuple[str, str], ...] = ()
    appointment: dict | None = None
    # What the channel quoted (itemPrice): checked against the catalog, never stored.
    quoted_prices: tuple[dict, ...] = ()


@dataclass(frozen=True)
class OrderDraft:
    items: tuple[ItemDraft, ...]
    related_parties: tuple[dict, ...] = ()
    external_id: str = ""
    priority: int = 4
    category: str = ""
    description: str = ""
    notification_contact: str = ""
    requested_start_date: datetime | None = None
    requested_completion_date: datetime | None = None
    billing_account_id: str = ""
    notes: tuple[dict, ...] = ()


def capture_order(*, channel: Channel, draft: OrderDraft, idempotency_key: str | None = None,
                  fingerprint: str = "") -> tuple[ProductOrder, bool]:
    """Create an acknowledged order from a draft; returns (order, created).

    A replay (same channel and Idempotency-Key, or same externalId) with the same body returns the first
    order with created=False. Raises Conflict for a replay with a different body, ValidationFailed with
    every problem found otherwise.
    """
    existing = _find_replay(channel=channel, draft=draft, idempotency_key=idempotency_key, fingerprint=fingerprint)
    if existing is not None:
        return existing, False

    customer_id = _customer_id(draft)
    offerings = _load_offerings(draft)
    products = _load_products(draft)
    problems = validate_draft(draft, customer_id=customer_id, offerings=offerings, products=products)
    problems += note_author_problems(draft.notes, actor=f"channel:{channel.name}")
    if problems:
        raise ValidationFailed(problems=problems)

    try:
        with transaction.atomic():
            order = _create(channel=channel, draft=draft, customer_id=customer_id, offerings=offerings,
                            products=products, idempotency_key=idempotency_key, fingerprint=fingerprint)
    except IntegrityError:
        # Two identical requests raced past _find_replay: the loser answers with the winner's order.
        existing = _find_replay(channel=channel, draft=draft, idempotency_key=idempotency_key,
                                fingerprint=fingerprint)
        if existing is None:
            raise
        return existing, False

    # A broker that is down does not fail the request: the order is stored, and resume_orders finds it.
    dispatch.after_commit("run_order_checks", order.pk)
    return order, True


def _find_replay(*, channel, draft, idempotency_key, fingerprint) -> ProductOrder | None:
    candidates = []
    if idempotency_key:
        candidates.append(("Idempotency-Key", ProductOrder.objects.filter(channel=channel,
                                                                          idempotency_key=idempotency_key).first()))
    if draft.external_id:
        candidates.append(("externalId", ProductOrder.objects.filter(channel=channel,
                                                                     external_id=draft.external_id).first()))
    for what, order in candidates:
        if order is None:
            continue
        if fingerprint and order.request_fingerprint != fingerprint:
            raise Conflict(
                f"{what} was already used for order {order.pk} with a different request body; "
                f"send a new {what} for a new order.",
                code="IDEMPOTENCY_CONFLICT",
            )
        return order
    return None


def _customer_id(draft: OrderDraft) -> str:
    for party in draft.related_parties:
        if (party.get("role") or "").lower() == "customer" and party.get("id"):
            return party["id"]
    return ""


def _load_offerings(draft: OrderDraft) -> dict[str, ProductOffering]:
    ids = {item.offering_id for item in draft.items if item.offering_id}
    return {o.offering_id: o for o in ProductOffering.objects.select_related("specification")
            .prefetch_related("specification__characteristics", "prices").filter(offering_id__in=ids)}


def _load_products(draft: OrderDraft) -> dict[str, Product]:
    ids = {item.product_id for item in draft.items if item.product_id}
    return {p.pk: p for p in Product.objects.select_related("product_offering__specification").filter(pk__in=ids)}


# --- validation ------------------------------------------------------------------------------------

def validate_draft(draft: OrderDraft, *, customer_id: str, offerings: dict, products: dict) -> list[Problem]:
    """Every reason the draft cannot be captured, in the order of the request."""
    problems: list[Problem] = []
    now = timezone.now()
    if not customer_id:
        problems.append(Problem("related_parties", "a related party with role 'customer' and an id is required"))
    if not draft.items:
        problems.append(Problem("items", "at least one item is required"))
    if not 0 <= draft.priority <= 4:
        problems.append(Problem("priority", "must be between 0 (highest) and 4 (lowest)"))
    if (draft.requested_start_date and draft.requested_completion_date
            and draft.requested_completion_date < draft.requested_start_date):
        problems.append(Problem("requested_completion_date", "is before the requested start date"))

    ids = [item.item_id for item in draft.items]
    for index, item in enumerate(draft.items):
        if ids.count(item.item_id) > 1 and ids.index(item.item_id) != index:
            problems.append(Problem(f"items[{index}].id", f"duplicate item id {item.item_id!r}"))
        problems += _validate_item(index, item, customer_id=customer_id, offerings=offerings, products=products,
                                   now=now, item_ids=set(ids))
    problems += _relationship_cycles(draft)
    return problems


def _validate_item(index, item: ItemDraft, *, customer_id, offerings, products, now, item_ids) -> list[Problem]:
    at = f"items[{index}]"
    problems: list[Problem] = []
    if item.quantity < 1:
        problems.append(Problem(f"{at}.quantity", "must be at least 1"))
    for other_id, _type in item.relationships:
        if other_id not in item_ids:
            problems.append(Problem(f"{at}.relationships", f"refers to item {other_id!r}, which is not in this order"))
        elif other_id == item.item_id:
            problems.append(Problem(f"{at}.relationships", "an item cannot relate to itself"))

    product = None
    if item.action in (ItemAction.MODIFY, ItemAction.DELETE, ItemAction.NO_CHANGE):
        if not item.product_id:
            problems.append(Problem(f"{at}.product.id", f"action {item.action} needs the id of an existing product"))
        else:
            product = products.get(item.product_id)
            if product is None or (customer_id and product.customer_id != customer_id):
                problems.append(Problem(f"{at}.product.id", f"no product {item.product_id!r} of this customer"))
                product = None
            elif not product.is_live:
                problems.append(Problem(f"{at}.product.id", f"product {item.product_id} is {product.status}"))
                product = None
    elif item.product_id:
        problems.append(Problem(f"{at}.product.id", "action add creates a product: do not name an existing one"))

    offering_id = item.offering_id or (product.product_offering.offering_id if product else None)
    if not offering_id:
        if item.action == ItemAction.ADD:
            problems.append(Problem(f"{at}.product_offering", "is required for action add"))
        return problems
    offering = offerings.get(offering_id) or (product.product_offering if product else None)
    if offering is None:
        problems.append(Problem(f"{at}.product_offering", f"unknown product offering {offering_id!r}"))
        return problems
    if product and product.product_offering_id != offering.pk:
        problems.append(Problem(f"{at}.product_offering",
                                f"product {product.pk} is a {product.product_offering.offering_id}, not {offering_id}"))
    if item.quoted_prices:
        problem = quoted_price_problem(item.quoted_prices,
                                       unit_prices(offering, desired_characteristics(item, offering, product)))
        if problem:
            problems.append(Problem(f"{at}.item_prices", f"{offering.offering_id} v{offering.version}: {problem}"))
    if item.action == ItemAction.ADD and not offering.is_orderable_at(now):
        state = offering.lifecycle_status if offering.lifecycle_status != "active" else "outside its validity period"
        problems.append(Problem(f"{at}.product_offering", f"offering {offering_id} cannot be ordered: {state}"))

    spec = offering.specification
    if item.action in (ItemAction.ADD, ItemAction.MODIFY):
        problems += _validate_characteristics(at, spec, item.characteristics, require_mandatory=item.action == "add")
        if spec.requires_place and not (item.place or {}).get("id") and item.action == ItemAction.ADD:
            problems.append(Problem(f"{at}.place", f"{offering.name} needs an installation place with an id"))
        if spec.requires_appointment and not item.appointment and item.action == ItemAction.ADD:
            problems.append(Problem(f"{at}.appointment", f"{offering.name} needs an appointment"))
    return problems


def _validate_characteristics(at: str, spec, values: dict, *, require_mandatory: bool) -> list[Problem]:
    problems = []
    defined = {c.name: c for c in spec.characteristics.all()}
    for name in values:
        if name not in defined:
            problems.append(Problem(f"{at}.characteristics.{name}", f"not a characteristic of {spec.name}"))
    for name, char in defined.items():
        if name not in values:
            if require_mandatory and char.mandatory and char.default_value is None:
                problems.append(Problem(f"{at}.characteristics.{name}", "mandatory characteristic is missing"))
            continue
        value = values[name]
        if not _has_type(value, char.value_type):
            problems.append(Problem(f"{at}.characteristics.{name}", f"must be of type {char.value_type}"))
        elif char.allowed_values and value not in char.allowed_values:
            allowed = ", ".join(str(v) for v in char.allowed_values)
            problems.append(Problem(f"{at}.characteristics.{name}", f"{value!r} is not allowed (allowed: {allowed})"))
    return problems


def _has_type(value, value_type: str) -> bool:
    if value_type == ValueType.BOOLEAN:
        return isinstance(value, bool)
    if value_type == ValueType.INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if value_type == ValueType.NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def _relationship_cycles(draft: OrderDraft) -> list[Problem]:
    graph = {item.item_id: [other for other, _ in item.relationships] for item in draft.items}
    visiting, done, problems = set(), set(), []

    def visit(node, trail):
        if node in done or node not in graph:
            return
        if node in visiting:
            cycle = " -> ".join(trail[trail.index(node):] + [node])
            problems.append(Problem("items.relationships", f"relationships form a cycle: {cycle}"))
            return
        visiting.add(node)
        for nxt in graph[node]:
            visit(nxt, trail + [node])
        visiting.discard(node)
        done.add(node)

    for node in graph:
        if not problems:
            visit(node, [])
    return problems


# --- creation --------------------------------------------------------------------------------------

def _create(*, channel, draft: OrderDraft, customer_id, offerings, products, idempotency_key, fingerprint):
    # Millisecond precision, as the API writes dates: a client filtering on the exact orderDate it got back
    # (the TMF622 conformance kit does) must find the order.
    now = timezone.now()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    order = ProductOrder.objects.create(
        channel=channel, external_id=draft.external_id, priority=draft.priority, category=draft.category,
        description=draft.description, notification_contact=draft.notification_contact,
        requested_start_date=draft.requested_start_date, requested_completion_date=draft.requested_completion_date,
        customer_id=customer_id, related_parties=list(draft.related_parties),
        billing_account_id=draft.billing_account_id or _default_billing_account(customer_id),
        idempotency_key=idempotency_key, checks_queued_until=dispatch.queued_until(),
        request_fingerprint=fingerprint, order_date=now,
        notes=[{**note, "id": note.get("id") or str(n + 1), "by": f"channel:{channel.name}",
                "date": note.get("date") or iso(now)}
               for n, note in enumerate(draft.notes)],
    )
    created = {}
    for sequence, item in enumerate(draft.items):
        product = products.get(item.product_id) if item.product_id else None
        offering = offerings.get(item.offering_id) if item.offering_id else product.product_offering
        spec = offering.specification
        characteristics = desired_characteristics(item, offering, product)
        created[item.item_id] = ProductOrderItem.objects.create(
            order=order, item_id=item.item_id, sequence=sequence, action=item.action, quantity=item.quantity,
            product_offering=offering, offering_version=offering.version,
            # modify/delete keep the specification version the product was built from, and pin its version
            product_specification=product.product_specification if product else spec,
            product=product, product_version=product.version if product else None,
            characteristics=characteristics, requested_characteristics=dict(item.characteristics),
            place=item.place or (product.place if product else None),
            # the pinned offering version's, for these characteristics, whatever the channel quoted
            item_prices=unit_prices(offering, characteristics),
            appointment=item.appointment,
        )
    ItemRelationship.objects.bulk_create([
        ItemRelationship(item=created[item.item_id], related_item=created[other], relationship_type=kind)
        for item in draft.items for other, kind in item.relationships
    ])
    record_event(order, OrderEvent.Type.CAPTURED, actor=f"channel:{channel.name}",
                 message=f"Captured {len(draft.items)} item(s) from {channel.name}",
                 payload={"externalId": draft.external_id, "idempotencyKey": idempotency_key or ""})
    notify_order_event(order, "ProductOrderCreateEvent")
    return order


def _default_billing_account(customer_id: str) -> str:
    """The customer's default billing account, for an order that names none."""
    return CustomerProfile.objects.filter(party_id=customer_id).values_list("billing_account_id", flat=True).first() \
        or ""


def desired_characteristics(item: ItemDraft, offering, product) -> dict:
    """What the product will have: an add's characteristics with the catalog's defaults; a modify's change
    applied on the product's current ones."""
    if item.action == ItemAction.ADD:
        defaults = {c.name: c.default_value for c in offering.specification.characteristics.all()
                    if c.default_value is not None}
        return {**defaults, **item.characteristics}
    if product is not None:
        return {**product.characteristics, **item.characteristics}
    return dict(item.characteristics)


def draft_to_json(draft: OrderDraft) -> dict:
    """An order draft as JSON (kept on a supersession request until it is applied)."""
    data = dataclasses.asdict(draft)
    for name in ("requested_start_date", "requested_completion_date"):
        data[name] = iso(data[name])
    return data


def draft_from_json(data: dict) -> OrderDraft:
    items = tuple(ItemDraft(**{**item, "relationships": tuple(tuple(r) for r in item["relationships"]),
                               "quoted_prices": tuple(item["quoted_prices"])}) for item in data["items"])
    dates = {name: parse_datetime(data[name]) if data.get(name) else None
             for name in ("requested_start_date", "requested_completion_date")}
    return OrderDraft(**{**data, **dates, "items": items, "related_parties": tuple(data["related_parties"]),
                         "notes": tuple(data["notes"])})
