"""Business checks run after capture: each a small class saying pass, fail (reject) or hold.

A check reads; it never changes anything. ``services.checks.run_order_checks`` runs the classes named in
``settings.COM_ORDER_CHECKS`` in order, stores every result (one ``CheckRun`` per evaluation) and acts on them:
any fail rejects the order,
else any hold holds it, else fulfilment starts. Add a check by writing a class with ``code`` and
``run(order) -> CheckResult`` and naming it in the setting.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inventory.models import LIVE_PRODUCT_STATUSES, Product
from orders import planner, selectors
from orders.models import CheckOutcome, CustomerProfile, ItemAction, ProductOrder, ServiceabilityRecord
from orders.pricing import monthly_amount


@dataclass(frozen=True)
class CheckResult:
    outcome: str
    reason_code: str = ""
    message: str = ""
    details: dict = field(default_factory=dict)

    @classmethod
    def passed(cls, message: str = "", **details) -> CheckResult:
        return cls(CheckOutcome.PASS, "", message, details)

    @classmethod
    def failed(cls, reason_code: str, message: str, **details) -> CheckResult:
        return cls(CheckOutcome.FAIL, reason_code, message, details)

    @classmethod
    def held(cls, reason_code: str, message: str, **details) -> CheckResult:
        return cls(CheckOutcome.HOLD, reason_code, message, details)


class Check(ABC):
    code = ""

    @abstractmethod
    def run(self, order: ProductOrder) -> CheckResult:
        """Read what the check needs and say pass, fail or hold."""


def _items(order: ProductOrder):
    return list(order.items.select_related("product_offering", "product_specification"))


class BusinessRuleCheck(Check):
    """Catalog/business rules: a customer may hold at most COM_MAX_PRODUCTS_PER_ACCOUNT live products."""

    code = "businessRules"

    def run(self, order):
        limit = settings.COM_MAX_PRODUCTS_PER_ACCOUNT
        live = Product.objects.filter(customer_id=order.customer_id, status__in=LIVE_PRODUCT_STATUSES).count()
        items = _items(order)
        adding = sum(i.quantity for i in items if i.action == ItemAction.ADD)
        leaving = sum(1 for i in items if i.action == ItemAction.DELETE)
        after = live + adding - leaving
        if after > limit:
            return CheckResult.failed("MAX_PRODUCTS_PER_ACCOUNT",
                                      f"The customer would hold {after} products; the limit is {limit}",
                                      live=live, adding=adding, limit=limit)
        return CheckResult.passed(f"{after} of {limit} products", live=live, adding=adding, limit=limit)


class ServiceabilityCheck(Check):
    """Address qualification: every installation place must be reachable by a technology fast enough, with
    which the catalog can build every item ordered there.

    Picks the preferred technology per place; decomposition uses it (GPON or HFC variants). An item the
    catalog has no rule for at that technology is not serviceable there (rather than completed with nothing
    built).
    """

    @staticmethod
    def _buildable_with(item) -> set[str] | None:
        """Technologies whose rules give an add item something to build; None: any (no technology-specific rule)."""
        rules = list(item.product_specification.decomposition_rules.all())
        usable = [r for r in rules if planner.condition_holds(
            planner.Rule(service_code="", mandatory=r.mandatory, condition_characteristic=r.condition_characteristic,
                         condition_operator=r.condition_operator, condition_value=r.condition_value),
            item.characteristics)]
        if any(not r.technology for r in usable):
            return None
        return {r.technology for r in usable}

    code = "serviceability"

    def run(self, order):
        usable, problems = {}, []  # place -> the technologies carrying every item there so far, preferred first
        for item in _items(order):
            if item.action not in (ItemAction.ADD, ItemAction.MODIFY) or not item.product_specification.requires_place:
                continue
            place_id = (item.place or {}).get("id", "")
            speed = item.characteristics.get("downloadSpeed")
            options = list(ServiceabilityRecord.objects.filter(place_id=place_id).order_by("preference"))
            if not options:
                problems.append(f"item {item.item_id}: address {place_id} is not serviceable")
                continue
            fast_enough = [o for o in options if not isinstance(speed, int) or o.max_download_mbps >= speed]
            if not fast_enough:
                best = max(o.max_download_mbps for o in options)
                problems.append(f"item {item.item_id}: {speed} Mbps not available at {place_id} (max {best} Mbps)")
                continue
            buildable = self._buildable_with(item) if item.action == ItemAction.ADD else None
            if buildable is not None:
                fast_enough = [o for o in fast_enough if o.technology in buildable]
                if not fast_enough:
                    there = ", ".join(sorted({o.technology for o in options}))
                    problems.append(f"item {item.item_id}: {item.product_offering.name} cannot be built with "
                                    f"{there} at {place_id}")
                    continue
            # one access per place: it must carry every item ordered there, not just the first one
            carried = {o.technology for o in fast_enough}
            usable[place_id] = [t for t in usable.get(place_id, [o.technology for o in options]) if t in carried]
        problems += [f"no single access technology at {place_id} carries every item ordered there"
                     for place_id, names in usable.items() if not names]
        technology = {place_id: names[0] for place_id, names in usable.items() if names}
        if problems:
            return CheckResult.failed("NOT_SERVICEABLE", "; ".join(problems), technology=technology)
        return CheckResult.passed(", ".join(f"{p}: {t}" for p, t in technology.items()) or "no address needed",
                                  technology=technology)


class CreditCheck(Check):
    """Credit: new monthly charges of a postpaid customer above their credit limit hold the order.

    The charges are the catalog unit prices the items stored at capture times their quantity
    (``orders.pricing``): an add counts in full, a modify counts what it adds to the product's current
    charges (never less than nothing). Deletes and cheaper modifies do not offset new charges: they take
    effect only when fulfilled, and may fail.
    """

    code = "credit"

    def run(self, order):
        profile = CustomerProfile.objects.filter(party_id=order.customer_id).first()
        limit = profile.credit_limit if profile else Decimal(settings.COM_DEFAULT_CREDIT_LIMIT)
        payment = profile.payment_type if profile else CustomerProfile.PaymentType.POSTPAID
        monthly = Decimal("0.00")
        for item in order.items.select_related("product"):
            new = monthly_amount(item.item_prices, item.quantity)
            if item.action == ItemAction.ADD:
                monthly += new
            elif item.action == ItemAction.MODIFY and item.product is not None:
                current = monthly_amount(item.product.prices, item.product.quantity)
                monthly += max(new - current, Decimal("0.00"))
        details = {"monthly": str(monthly), "limit": str(limit), "paymentType": payment, "known": bool(profile)}
        if payment == CustomerProfile.PaymentType.PREPAID:
            return CheckResult.passed("prepaid: no credit exposure", **details)
        if monthly > limit:
            return CheckResult.held("CREDIT_LIMIT", f"New monthly charges {monthly} exceed the credit limit {limit}: "
                                                    "a supervisor must approve", **details)
        return CheckResult.passed(f"{monthly} within {limit}", **details)


class FraudVelocityCheck(Check):
    """Fraud: more than COM_FRAUD_VELOCITY_MAX_ORDERS orders of one customer in the window holds the order."""

    code = "fraudVelocity"

    def run(self, order):
        window = settings.COM_FRAUD_VELOCITY_WINDOW_MINUTES
        maximum = settings.COM_FRAUD_VELOCITY_MAX_ORDERS
        recent = selectors.recent_orders_of_customer(order.customer_id, minutes=window, exclude_id=order.pk).count()
        if recent + 1 > maximum:
            return CheckResult.held("FRAUD_VELOCITY", f"{recent + 1} orders from {order.customer_id} within "
                                                      f"{window} minutes (limit {maximum})", count=recent + 1)
        return CheckResult.passed(f"{recent + 1} order(s) in {window} minutes", count=recent + 1)


class DuplicateOrderCheck(Check):
    """Duplicates: an in-flight order of the same customer for the same offerings at the same places."""

    code = "duplicate"

    @staticmethod
    def _signature(items) -> frozenset:
        return frozenset((i.action, i.product_offering.offering_id, (i.place or {}).get("id", ""), i.product_id or "")
                         for i in items)

    def run(self, order):
        mine = self._signature(_items(order))
        for other in selectors.in_flight_orders_of_customer(order.customer_id, exclude_id=order.pk):
            if other.created_at > order.created_at:
                continue  # only the later of two identical orders is the duplicate
            if other.pk == order.replaces_id:
                continue  # the order it supersedes, being cancelled in its favour
            if self._signature(other.items.all()) == mine:
                return CheckResult.held("DUPLICATE_SUSPECTED", f"Same products at the same place as order {other.pk}, "
                                                               "which is still in flight", duplicateOf=other.pk)
        return CheckResult.passed("no identical order in flight")


class ProductInFlightCheck(Check):
    """A product can be changed by one order at a time: an order modifying or deleting a product that an
    earlier order is still changing is held (PRODUCT_IN_FLIGHT) until that order ends, then checked again.
    A product that is no longer live (terminated meanwhile) cannot be changed at all."""

    code = "productInFlight"

    def run(self, order):
        changing = {i.product_id: i for i in _items(order)
                    if i.action in (ItemAction.MODIFY, ItemAction.DELETE) and i.product_id}
        if not changing:
            return CheckResult.passed("no existing product changed")
        gone = [pid for pid, status in Product.objects.filter(pk__in=changing).values_list("pk", "status")
                if status not in LIVE_PRODUCT_STATUSES]
        if gone:
            return CheckResult.failed("PRODUCT_NOT_LIVE", f"product(s) {', '.join(sorted(gone))} no longer live",
                                      products=sorted(gone))
        blocking: dict[str, list[str]] = {}
        for other in selectors.orders_changing_products(list(changing), exclude_id=order.pk):
            if (other.order.created_at, other.order_id) < (order.created_at, order.pk):
                blocking.setdefault(other.product_id, []).append(other.order_id)
        if blocking:
            text = "; ".join(f"{pid} is being changed by {', '.join(sorted(set(ids)))}"
                             for pid, ids in blocking.items())
            return CheckResult.held("PRODUCT_IN_FLIGHT", f"{text}: this order waits until that ends",
                                    blocking={k: sorted(set(v)) for k, v in blocking.items()})
        versions = {pid: item.product_version for pid, item in changing.items()}
        return CheckResult.passed("no other order is changing these products", versions=versions)


class AppointmentCheck(Check):
    """An item whose product is built at an appointment (an installation visit) names one, and not one in the
    past (when the appointment carries a date). Re-run when an amendment changes an appointment."""

    code = "appointment"

    def run(self, order):
        now = timezone.now()
        missing, past = [], []
        for item in _items(order):
            if item.action != ItemAction.ADD or not item.product_specification.requires_appointment:
                continue
            appointment = item.appointment or {}
            if not appointment.get("id"):
                missing.append(item.item_id)
                continue
            when = appointment.get("date") or (appointment.get("validFor") or {}).get("startDateTime")
            at = parse_datetime(str(when)) if when else None
            if at is not None and at < now:
                past.append(item.item_id)
        if missing:
            return CheckResult.failed("APPOINTMENT_MISSING", f"item(s) {', '.join(missing)} need an appointment",
                                      items=missing)
        if past:
            return CheckResult.failed("APPOINTMENT_IN_PAST", f"the appointment of item(s) {', '.join(past)} is past",
                                      items=past)
        return CheckResult.passed("every visit has an appointment")
