"""The COM's liveness invariant, checked from the outside: COM's database and the SOM simulator's own records.

Deliberately independent of COM's liveness code (``orders.services.liveness``, ``selectors.waiting_on``):
the judge must not be the accused. It reads the rows and decides for itself.

For the orders a channel was answered ``201`` for:

- **lost**: an order the channel got a 201 for does not exist;
- **stranded**: an order that is not terminal, not in front of a person (held by a check with a reason code, or
  with an open fallout that has a reason code), and with nothing in flight for it (its checks, a pending outbox
  message, a stored SOM event not applied, a service order SOM is working on, a read-back of one SOM ended
  without its items, a scheduled start);
- **overdue**: such an order with work in flight, all of it past its deadline by more than ``grace`` (a
  backlog, or work no one will do). Waiting for orders to settle waits for these too; still overdue at the end
  is a violation;
- **duplicated at SOM**: a service order created more than once at SOM (by ``externalId``, from SOM's list and
  from its own per-externalId counter);
- **missing at SOM**: a service order COM recorded as accepted by SOM (it holds SOM's id) that SOM does not have;
- **unknown to COM**: a service order SOM has for an ``externalId`` COM gave up on or never heard accepted while
  COM considers it finished (built at SOM, abandoned by COM). A service order SOM refused at submission (4xx,
  ``rejected``) is not expected at SOM;
- **inventory**: a completed ``add`` item without its product, or its product not ``active``;
- **billing**: a billing intent written more than once for one item and action, or none for a completed ``add``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

TERMINAL = {"completed", "failed", "partial", "rejected", "cancelled"}
SOM_TERMINAL = {"completed", "failed", "partial", "rejected", "cancelled"}


@dataclass
class Report:
    accepted: int
    states: Counter = field(default_factory=Counter)
    lost: list = field(default_factory=list)
    stranded: list = field(default_factory=list)
    moving: list = field(default_factory=list)
    overdue: list = field(default_factory=list)
    with_a_person: list = field(default_factory=list)
    duplicated_at_som: list = field(default_factory=list)
    missing_at_som: list = field(default_factory=list)
    unknown_to_com: list = field(default_factory=list)
    inventory: list = field(default_factory=list)
    billing: list = field(default_factory=list)

    VIOLATIONS = ("lost", "stranded", "overdue", "duplicated_at_som", "missing_at_som", "unknown_to_com", "inventory",
                  "billing")

    @property
    def violations(self) -> dict[str, list]:
        return {name: getattr(self, name) for name in self.VIOLATIONS if getattr(self, name)}

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def settled(self) -> bool:
        """Nothing is moving any more (nor late): every order terminal, with a person, or stranded."""
        return not self.moving and not self.overdue

    def summary(self) -> str:
        lines = [f"{self.accepted} orders accepted; states {dict(sorted(self.states.items()))}; "
                 f"{len(self.moving)} moving, {len(self.overdue)} overdue, {len(self.with_a_person)} with a person"]
        for name, found in self.violations.items():
            lines.append(f"{name}: {len(found)}: {found[:5]}")
        return "\n".join(lines)


def check(accepted_ids, som_orders: list[dict], *, som_stats: dict | None = None, grace: float = 30,
          som_quiet: float = 150, now: datetime | None = None) -> Report:
    """Judge the orders ``accepted_ids`` against COM's database and SOM's ``som_orders`` (``GET serviceOrder``).

    ``grace``: how far past its due time a piece of work may be and still count as moving (a sweep's period
    plus a lease). ``som_quiet``: how long SOM may be silent about a service order it is working on before
    COM must have done something (read it back, or a fallout).
    """
    from orders.models import BillingIntent, Fallout, InboundEvent, OutboxMessage, ProductOrder, ServiceOrder

    now = now or timezone.now()
    late = timedelta(seconds=grace)
    accepted = list(dict.fromkeys(accepted_ids))
    report = Report(accepted=len(accepted))
    orders = {o.pk: o for o in ProductOrder.objects.filter(pk__in=accepted).prefetch_related("items")}
    report.lost = [pk for pk in accepted if pk not in orders]

    fallout_reasons: dict[str, list[str]] = {}
    for order_id, reason in Fallout.objects.filter(order_id__in=orders, resolved_at__isnull=True) \
            .values_list("order_id", "reason_code"):
        fallout_reasons.setdefault(order_id, []).append(reason)
    outbox: dict[str, list] = {}
    for message in OutboxMessage.objects.filter(order_id__in=orders, status="pending").exclude(kind="notification"):
        outbox.setdefault(message.order_id, []).append(message)
    events: dict[str, list] = {}
    for event in InboundEvent.objects.filter(service_order__order_id__in=orders, status="received") \
            .select_related("service_order"):
        events.setdefault(event.service_order.order_id, []).append(event)
    service_orders: dict[str, list] = {}
    for so in ServiceOrder.objects.filter(order_id__in=orders).prefetch_related("items"):
        service_orders.setdefault(so.order_id, []).append(so)

    for order_id, order in orders.items():
        report.states[order.state] += 1
        if order.state in TERMINAL:
            continue
        reasons = [r for r in fallout_reasons.get(order_id, []) if r]
        if reasons or (order.state == "held" and order.state_reason_code and order.state_reason_code != "FALLOUT"):
            report.with_a_person.append((order_id, reasons or [order.state_reason_code]))
            continue
        in_flight = _in_flight(order, outbox.get(order_id, []), events.get(order_id, []),
                               service_orders.get(order_id, []), now=now, late=late,
                               som_quiet=timedelta(seconds=som_quiet))
        if in_flight:
            report.moving.append((order_id, in_flight))
            continue
        late_work = _in_flight(order, outbox.get(order_id, []), events.get(order_id, []),
                               service_orders.get(order_id, []), now=now, late=timedelta(days=3650),
                               som_quiet=timedelta(days=3650))
        if late_work:
            report.overdue.append((order_id, f"{late_work}, overdue"))
        else:
            report.stranded.append((order_id, f"{order.state}: nothing in flight, no one on it; "
                                              + _describe(order, service_orders.get(order_id, []))))

    _check_som(report, service_orders, som_orders, som_stats)
    _check_inventory_and_billing(report, orders, BillingIntent)
    return report


def _in_flight(order, messages, events, service_orders, *, now, late, som_quiet) -> str:
    """What the order is waiting on with a deadline not long past ('' if nothing)."""
    if order.state == "acknowledged" and order.checks_started_at is None and order.created_at + late > now:
        return "checks"
    if order.state == "pending" and order.requested_start_date and order.requested_start_date + late > now:
        return "scheduled start"
    for message in messages:
        if message.next_attempt_at + late > now:
            return f"outbox {message.kind} attempt {message.attempts}"
    for event in events:
        if event.received_at + late > now:
            return f"SOM event {event.event_id}"
    for so in service_orders:
        heard = so.last_heard_at or so.created_at
        if so.state in ("planned", "") or not so.som_order_id:
            continue
        if so.state not in SOM_TERMINAL and heard + som_quiet > now:
            return f"SOM working on {so.external_id}"
        if so.state in SOM_TERMINAL and any(i.state not in SOM_TERMINAL for i in so.items.all()) \
                and heard + som_quiet > now:
            return f"read-back of {so.external_id}"
    return ""


def _describe(order, service_orders) -> str:
    items = ", ".join(f"{i.item_id}:{i.state}" for i in order.items.all())
    sos = ", ".join(f"{so.external_id}:{so.state}[" + ",".join(i.state for i in so.items.all()) + "]"
                    for so in service_orders)
    return f"items {items or '-'}; service orders {sos or '-'}"


def _check_som(report: Report, service_orders: dict, som_orders: list[dict], som_stats: dict | None) -> None:
    ours = {so.external_id: so for sos in service_orders.values() for so in sos}
    at_som = Counter(o.get("externalId") for o in som_orders)
    som_ids = {o.get("externalId"): o.get("id") for o in som_orders}
    created = {ext: data.get("created", 0) for ext, data in ((som_stats or {}).get("orders") or {}).items()}
    for ext in ours:
        count = max(at_som.get(ext, 0), created.get(ext, 0))
        if count > 1:
            report.duplicated_at_som.append((ext, count))
    for ext, so in ours.items():
        if so.som_order_id and ext not in som_ids:
            report.missing_at_som.append((ext, so.som_order_id))
        elif ext in som_ids and not so.som_order_id and so.state in SOM_TERMINAL:
            report.unknown_to_com.append((ext, so.state, som_ids[ext]))


def _check_inventory_and_billing(report: Report, orders: dict, BillingIntent) -> None:
    counts = Counter(BillingIntent.objects.filter(order_id__in=orders).values_list("item_id", "action"))
    report.billing += [(item, action, n) for (item, action), n in counts.items() if n > 1]
    for order in orders.values():
        if order.state not in ("completed", "partial"):
            continue
        for item in order.items.all():
            if item.action != "add" or item.state != "completed":
                continue
            product = item.product
            if product is None or product.status != "active":
                report.inventory.append((order.pk, item.item_id, product and product.status))
            if not counts.get((item.pk, "activate")):
                report.billing.append((order.pk, item.item_id, "no activate intent"))
