"""Named reads: one function per list, queue or lookup. No writes here."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from comapp.errors import Forbidden, NotFound, ValidationFailed
from comapp.tmf import parse_date_param
from orders.models import (
    LIVE_SOM_STATES,
    TERMINAL_ORDER_STATES,
    TERMINAL_SOM_STATES,
    Channel,
    CheckOutcome,
    CheckRun,
    DecompositionPlan,
    Fallout,
    InboundEvent,
    MutationRequest,
    OrderCheckResult,
    OrderEvent,
    OrderState,
    OutboxMessage,
    ProductOrder,
    ProductOrderItem,
    ServiceOrder,
    ServiceOrderItem,
    SomState,
)

_ITEMS = Prefetch(
    "items",
    queryset=ProductOrderItem.objects.select_related("product_offering", "product_specification")
    .prefetch_related("relationships__related_item").order_by("sequence"),
)


ORDER_VIEW_PERMISSION = "orders.view_productorder"


def channel_of(user) -> Channel | None:
    """The channel a user is the API identity of, if any."""
    try:
        return user.channel
    except (AttributeError, Channel.DoesNotExist):
        return None


def may_read_orders(user) -> bool:
    """A channel reads orders (its own at least); any other user needs the view permission, not is_staff."""
    return user is not None and (channel_of(user) is not None or user.has_perm(ORDER_VIEW_PERMISSION))


def order_visibility(user) -> Q:
    """The orders a user may read, as a filter on ProductOrder.

    A channel reads its own orders, or every channel's if it ``sees_all_channels``; another user reads
    every order with the ``orders.view_productorder`` permission and none without it.
    """
    channel = channel_of(user)
    if channel is not None:
        return Q() if channel.sees_all_channels else Q(channel=channel)
    if user is not None and user.has_perm(ORDER_VIEW_PERMISSION):
        return Q()
    return Q(pk__in=[])


def orders_visible_to(user) -> QuerySet[ProductOrder]:
    """The orders the user may read (``order_visibility``), their items loaded."""
    return (ProductOrder.objects.select_related("channel").prefetch_related(_ITEMS)
            .filter(order_visibility(user)))


ORDER_FILTERS = {
    "id": "pk",
    "state": "state",
    "externalId": "external_id",
    "channel": "channel__name",
    "channel.name": "channel__name",
    "relatedParty.id": "customer_id",  # the customer party; indexed
    "category": "category",
    "priority": "priority",
    "description": "description",
    "notificationContact": "notification_contact",
    "channel.id": "channel_id",
    "productOrderItem.id": "items__item_id",
}
DATE_FILTERS = {"orderDate": "order_date", "completionDate": "completion_date",
                "requestedStartDate": "requested_start_date", "requestedCompletionDate": "requested_completion_date"}
DATE_OPS = {"": "", "gt": "__gt", "gte": "__gte", "lt": "__lt", "lte": "__lte"}


def filter_orders(queryset: QuerySet, params: dict[str, str]) -> QuerySet:
    """Apply TMF filters (``state=held``, ``orderDate.gte=...``); ValidationFailed on an unknown one."""
    unknown = []
    for name, value in params.items():
        if name in ORDER_FILTERS:
            values = [v for v in value.split(",") if v != ""]
            lookup = ORDER_FILTERS[name]
            queryset = queryset.filter(**{f"{lookup}__in": values})
            continue
        field, _, op = name.partition(".")
        if field in DATE_FILTERS and op in DATE_OPS:
            queryset = queryset.filter(**{f"{DATE_FILTERS[field]}{DATE_OPS[op]}": parse_date_param(name, value)})
            continue
        unknown.append(name)
    if "productOrderItem.id" in params:
        queryset = queryset.distinct()
    if unknown:
        supported = ", ".join(sorted(ORDER_FILTERS) + [f"{d}[.gt|.gte|.lt|.lte]" for d in DATE_FILTERS])
        raise ValidationFailed(f"Unknown filter(s): {', '.join(sorted(unknown))}. Supported: {supported}")
    return queryset


def order_for(user, order_id: str) -> ProductOrder:
    order = orders_visible_to(user).filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"No product order {order_id}")
    return order


def order_to_change(user, order_id: str) -> ProductOrder:
    """An order the user's channel may change: its own. NotFound if unseen, Forbidden if only readable."""
    order = order_for(user, order_id)
    channel = channel_of(user)
    if channel is None or order.channel_id != channel.pk:
        raise Forbidden(f"Order {order_id} belongs to channel {order.channel.name}: a channel changes only "
                        "its own orders.")
    return order


# --- queues and reads used by checks, decomposition and the admin ---------------------------------

def technology_by_place(order: ProductOrder) -> dict[str, str]:
    """The access technology the serviceability check chose for each place of the order."""
    result = (OrderCheckResult.objects.filter(order=order, check_code="serviceability", outcome=CheckOutcome.PASS)
              .order_by("-run__sequence").first())
    return dict((result.details or {}).get("technology", {})) if result else {}


def recent_orders_of_customer(customer_id: str, *, minutes: int, exclude_id: str) -> QuerySet[ProductOrder]:
    since = timezone.now() - timedelta(minutes=minutes)
    return ProductOrder.objects.filter(customer_id=customer_id, order_date__gte=since).exclude(pk=exclude_id)


def in_flight_orders_of_customer(customer_id: str, *, exclude_id: str) -> QuerySet[ProductOrder]:
    return (ProductOrder.objects.filter(customer_id=customer_id).exclude(pk=exclude_id)
            .exclude(state__in=TERMINAL_ORDER_STATES).prefetch_related(_ITEMS))


def orders_changing_products(product_ids, *, exclude_id: str) -> QuerySet[ProductOrderItem]:
    """Items of other live orders that modify or delete one of these products (the product is in flight)."""
    return (ProductOrderItem.objects.filter(product_id__in=product_ids, action__in=["modify", "delete"])
            .exclude(order_id=exclude_id).exclude(order__state__in=TERMINAL_ORDER_STATES)
            .select_related("order"))


def orders_held_for_products(product_ids) -> QuerySet[ProductOrder]:
    """Orders held because one of these products was in flight in another order."""
    return ProductOrder.objects.filter(state=OrderState.HELD, state_reason_code="PRODUCT_IN_FLIGHT",
                                       items__product_id__in=product_ids).distinct()


def service_items_of(order: ProductOrder) -> QuerySet[ServiceOrderItem]:
    """The plan rows in force (not superseded by a later plan version)."""
    return (ServiceOrderItem.objects.filter(order=order, superseded_by__isnull=True)
            .select_related("service_specification", "service_order")
            .prefetch_related("product_items", "depends_on").order_by("sequence"))


def last_check_run(order: ProductOrder) -> CheckRun | None:
    return order.check_runs.order_by("-sequence").first()


# --- the sweeps: work whose task may have been lost -----------------------------------------------------

def orders_awaiting_checks(older_than_seconds: int | None = None, *, at=None) -> QuerySet[ProductOrder]:
    """Acknowledged orders whose checks never ran (the task was lost, or it keeps failing: see liveness), and
    no checks task is queued for (``checks_queued_until``: under a backlog, queued work is not queued again);
    ``at``: as the sweep will see them then (default now)."""
    if older_than_seconds is None:
        older_than_seconds = settings.COM_CHECKS_RESUME_AFTER_SECONDS
    now = at or timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    open_fallout = Fallout.objects.filter(order=OuterRef("pk"), resolved_at__isnull=True)
    return (ProductOrder.objects.filter(state=OrderState.ACKNOWLEDGED, checks_started_at__isnull=True,
                                        created_at__lt=cutoff)
            .filter(Q(checks_queued_until__isnull=True) | Q(checks_queued_until__lt=now))
            .exclude(Exists(open_fallout)))


def due_deferred_orders() -> QuerySet[ProductOrder]:
    """Deferred orders whose start date has come and no start task is queued for (``start_queued_until``)."""
    now = timezone.now()
    return (ProductOrder.objects.filter(state=OrderState.PENDING, requested_start_date__lte=now)
            .filter(Q(start_queued_until__isnull=True) | Q(start_queued_until__lt=now)))


def unprocessed_events(older_than_seconds: int = 5) -> QuerySet[InboundEvent]:
    """Stored events whose processing never ran or never finished, with attempts left, and no task is queued for."""
    now = timezone.now()
    return (InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED,
                                        received_at__lt=now - timedelta(seconds=older_than_seconds),
                                        attempts__lt=settings.COM_MAX_PROCESSING_ATTEMPTS)
            .filter(Q(enqueued_until__isnull=True) | Q(enqueued_until__lt=now)).order_by("received_at"))


def service_orders_to_read_back() -> QuerySet[ServiceOrder]:
    """Service orders SOM has been quiet about, and finished ones whose items SOM never reported; not those with
    an event stored and not yet applied, nor those a read-back task is queued for (``readback_queued_until``)."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.COM_SOM_POLL_AFTER_SECONDS)
    quiet = Q(state__in=LIVE_SOM_STATES - {SomState.PLANNED}, last_heard_at__lt=cutoff)
    unexplained = Q(state__in=TERMINAL_SOM_STATES - {SomState.REJECTED}, items__state__in=LIVE_SOM_STATES)
    # SOM's word stored but not yet applied (a backlog): COM has heard; the event sweep applies it, no GET needed.
    unapplied = InboundEvent.objects.filter(service_order=OuterRef("pk"), status=InboundEvent.Status.RECEIVED)
    return (ServiceOrder.objects.filter(quiet | unexplained).exclude(som_order_id="").exclude(Exists(unapplied))
            .filter(Q(readback_queued_until__isnull=True) | Q(readback_queued_until__lt=now)).distinct())


# --- liveness: what an order is waiting on ---------------------------------------------------------------

@dataclass(frozen=True)
class Wait:
    """What a live order waits on: ``what`` (checks, start, outbox, event, som, readback, person or nothing)."""

    what: str
    description: str
    deadline: datetime | None = None

    @property
    def stalled(self) -> bool:
        return self.what == "nothing"


def quiet_live_orders(*, older_than: datetime) -> QuerySet[ProductOrder]:
    return ProductOrder.objects.exclude(state__in=TERMINAL_ORDER_STATES).filter(updated_at__lt=older_than)


def _waits(order: ProductOrder) -> list[Wait]:
    """Everything the order is waiting on now, with deadlines; empty: nothing."""
    waits = []
    now = timezone.now()
    open_fallouts = list(order.fallouts.filter(resolved_at__isnull=True).values_list("reason_code", flat=True))
    if open_fallouts:
        waits.append(Wait("person", f"open fallout ({', '.join(sorted(set(open_fallouts)))})"))
    if order.state == OrderState.HELD and order.state_reason_code and order.state_reason_code != "FALLOUT":
        waits.append(Wait("person", f"held by a check ({order.state_reason_code})"))
    if order.state == OrderState.ACKNOWLEDGED and order.checks_started_at is None:
        waits.append(Wait("checks", "business checks", order.created_at
                          + timedelta(seconds=settings.COM_CHECKS_DEADLINE_SECONDS)))
    if order.state == OrderState.PENDING and order.requested_start_date:
        waits.append(Wait("start", f"scheduled start at {order.requested_start_date.isoformat()}",
                          order.requested_start_date + timedelta(seconds=settings.COM_CHECKS_DEADLINE_SECONDS)))
    for message in OutboxMessage.objects.filter(order=order, kind=OutboxMessage.Kind.SERVICE_ORDER,
                                                status=OutboxMessage.Status.PENDING):
        waits.append(Wait("outbox", f"sending {message.dedup_key} (attempt {message.attempts})",
                          message.next_attempt_at + timedelta(seconds=settings.COM_CHECKS_DEADLINE_SECONDS)))
    for event in InboundEvent.objects.filter(service_order__order=order, status=InboundEvent.Status.RECEIVED):
        waits.append(Wait("event", f"applying SOM event {event.event_id}",
                          event.received_at + timedelta(seconds=settings.COM_CHECKS_DEADLINE_SECONDS)))
    silence = timedelta(seconds=settings.COM_SOM_SILENCE_FALLOUT_SECONDS + settings.COM_SOM_POLL_AFTER_SECONDS)
    for service_order in order.service_orders.exclude(state=SomState.PLANNED).prefetch_related("items"):
        heard = service_order.last_heard_at or service_order.created_at
        if not service_order.is_terminal:
            waits.append(Wait("som", f"SOM working on {service_order.external_id} ({service_order.state})",
                              heard + silence))
        elif any(item.state in LIVE_SOM_STATES for item in service_order.items.all()):
            waits.append(Wait("readback", f"reading back {service_order.external_id}: SOM finished it "
                                          f"without saying how its items ended", heard + silence))
    return [w for w in waits if w.deadline is None or w.deadline > now] or (
        [Wait("nothing", "overdue: " + "; ".join(w.description for w in waits))] if waits else [])


def waiting_on(order: ProductOrder) -> Wait:
    """The first thing the order is waiting on, or ``Wait("nothing", ...)`` saying what was looked at."""
    waits = _waits(order)
    if waits:
        return waits[0]
    if order.state in TERMINAL_ORDER_STATES:
        return Wait("done", f"{order.state}")
    items = ", ".join(f"{i.item_id} {i.state}" for i in order.items.all())
    services = ", ".join(f"{s.item_ref} {s.service_specification_id} {s.state}"
                         for s in order.service_items.filter(superseded_by__isnull=True))
    return Wait("nothing", f"order {order.state}; items: {items or 'none'}; services: {services or 'none'}; "
                           "no check, message, event, SOM work or scheduled start pending, no fallout open")


# --- mutation requests ----------------------------------------------------------------------------------

def order_changeable_by(user, order_id: str) -> ProductOrder:
    """An order the caller may ask to change: a channel its own; staff with the permission to request changes."""
    channel = getattr(user, "channel", None)
    queryset = ProductOrder.objects.all()
    if channel is not None:
        queryset = queryset.filter(channel=channel)
    elif not (user and user.has_perm("orders.add_mutationrequest")):
        queryset = queryset.none()
    order = queryset.filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"No product order {order_id}")
    return order


def mutations_visible_to(user, *, kind: str) -> QuerySet[MutationRequest]:
    """Requests on orders the caller may see; ``kind`` cancellation, or change (every other kind)."""
    queryset = MutationRequest.objects.filter(order__in=orders_visible_to(user).values("pk")) \
        .select_related("approver").prefetch_related("items").order_by("-created_at")
    if kind == "cancellation":
        return queryset.filter(kind="cancellation")
    return queryset.exclude(kind="cancellation")


def pending_approvals() -> QuerySet[MutationRequest]:
    """Changes waiting for a supervisor, the oldest first."""
    return (MutationRequest.objects.filter(state="pendingApproval")
            .select_related("order__channel", "requested_by", "approver").prefetch_related("items")
            .order_by("created_at", "id"))


# --- the order desk: queues ------------------------------------------------------------------------------

def held_queue() -> QuerySet[ProductOrder]:
    """Orders held by a business check (a fallout hold is in the fallout queue), the most urgent first:
    priority (0 highest), then the longest held. ``held_since`` is when the hold was recorded (the order's date
    if no hold event exists); ``hold_results`` the hold results of its checks, the latest run first."""
    held_event = (OrderEvent.objects.filter(order=OuterRef("pk"), type=OrderEvent.Type.HELD)
                  .order_by("-occurred_at").values("occurred_at")[:1])
    holds = Prefetch("check_results", to_attr="hold_results",
                     queryset=OrderCheckResult.objects.filter(outcome=CheckOutcome.HOLD).select_related("run")
                     .order_by("-run__sequence", "id"))
    return (ProductOrder.objects.filter(state=OrderState.HELD).exclude(state_reason_code="FALLOUT")
            .select_related("channel").prefetch_related(holds)
            .annotate(held_since=Coalesce(Subquery(held_event), F("order_date")))
            .order_by("priority", "held_since", "pk"))


def latest_hold_results(order: ProductOrder) -> list[OrderCheckResult]:
    """The hold results of the order's latest run that held it (from ``held_queue``'s prefetch)."""
    results = getattr(order, "hold_results", None)
    if results is None:
        results = list(OrderCheckResult.objects.filter(order=order, outcome=CheckOutcome.HOLD)
                       .select_related("run").order_by("-run__sequence", "id"))
    if not results:
        return []
    latest = results[0].run.sequence
    return [r for r in results if r.run.sequence == latest]


def fallout_queue() -> QuerySet[Fallout]:
    """Fallouts with what the desk shows of each (order, service, items), the oldest first."""
    return (Fallout.objects.select_related("order__channel", "service_order_item__service_specification",
                                           "resolved_by")
            .prefetch_related(Prefetch("items", queryset=ProductOrderItem.objects.order_by("sequence")))
            .order_by("opened_at", "id"))


def open_fallouts_of_root_cause(root_cause: str) -> QuerySet[Fallout]:
    return Fallout.objects.filter(resolved_at__isnull=True, root_cause=root_cause).order_by("opened_at", "id")


def fallout_groups() -> QuerySet:
    """Open fallouts grouped by root cause: how many, on how many orders, since when; the biggest first."""
    return (Fallout.objects.filter(resolved_at__isnull=True).values("root_cause")
            .annotate(count=Count("id"), orders=Count("order", distinct=True), oldest=Min("opened_at"),
                      newest=Max("opened_at"), category=Min("category"), stage=Min("stage"),
                      reason_code=Min("reason_code"), message=Min("message"))
            .order_by("-count", "oldest", "root_cause"))


def mutation_queue() -> QuerySet[MutationRequest]:
    """Every change requested on orders, with what the desk shows of each."""
    return (MutationRequest.objects.select_related("order__channel", "requested_by", "approver")
            .prefetch_related("items").order_by("-created_at", "id"))


# --- the order desk: one order ----------------------------------------------------------------------------

def order_page(order_id: str) -> ProductOrder | None:
    """An order with everything its desk page shows, in a fixed number of queries: items, every plan version
    with its rows (superseded ones too), check runs with results, fallouts, mutations."""
    rows = (ServiceOrderItem.objects.select_related("service_specification", "service_order", "superseded_by",
                                                    "plan", "compensates", "replaces")
            .prefetch_related("product_items", "depends_on").order_by("sequence"))
    return (ProductOrder.objects.select_related("channel", "replaces")
            .prefetch_related(
                Prefetch("items", queryset=ProductOrderItem.objects.select_related(
                    "product_offering", "product_specification", "product").order_by("sequence")),
                Prefetch("plans", queryset=DecompositionPlan.objects.order_by("version")),
                Prefetch("service_items", queryset=rows),
                Prefetch("check_runs", queryset=CheckRun.objects.prefetch_related(
                    Prefetch("results", queryset=OrderCheckResult.objects.order_by("id"))).order_by("-sequence")),
                Prefetch("fallouts", queryset=Fallout.objects.select_related(
                    "service_order_item__service_specification", "resolved_by").prefetch_related("items")
                    .order_by("-opened_at")),
                Prefetch("mutations", queryset=MutationRequest.objects.select_related("requested_by", "approver")
                         .prefetch_related("items").order_by("-created_at")))
            .filter(pk=order_id).first())


def waiting_since(order: ProductOrder) -> datetime:
    """Since when the order has been as it is: its latest business event (its date if none)."""
    latest = order.events.order_by("-id").values_list("occurred_at", flat=True).first()
    return latest or order.order_date


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an order's timeline: a business event or a change of fields (who, what, when, why)."""

    kind: str  # event or history
    when: datetime
    who: str
    what: str
    why: str
    item: str = ""
    mutation: MutationRequest | None = None


# Fields whose change is noise on a timeline (the version counter is bumped by every command).
_QUIET_FIELDS = {"updated_at", "version", "created_at", "history_id", "history_date", "history_type",
                 "history_user", "history_change_reason", "history_user_id", "request_fingerprint"}
TIMELINE_LIMIT = 300


def _field_changes(records, label) -> list[TimelineEntry]:
    """Each history record against the one before it for the same row: the fields that changed."""
    entries, previous = [], {}
    for record in records:
        before = previous.get(record.id)
        previous[record.id] = record
        who = _history_who(record.history_user)
        if before is None:
            what = "created" if record.history_type == "+" else "recorded"
        else:
            changed = [f.attname for f in record._meta.fields
                       if f.attname not in _QUIET_FIELDS and getattr(record, f.attname) != getattr(before, f.attname)]
            if not changed:
                continue
            what = "; ".join(f"{name}: {_short(getattr(before, name))} → {_short(getattr(record, name))}"
                             for name in changed)
        entries.append(TimelineEntry(kind="history", when=record.history_date, who=who, what=what,
                                     why=record.history_change_reason or "", item=label(record)))
    return entries


def _history_who(user) -> str:
    """``channel:NAME`` for a channel's API user, ``user:NAME`` for a person, ``system`` when no one acted."""
    if user is None:
        return "system"
    channel = channel_of(user)
    return f"channel:{channel.name}" if channel is not None else f"user:{user.username}"


def _short(value) -> str:
    text = "—" if value in (None, "") else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def order_timeline(order: ProductOrder, *, show: str = "all", limit: int = TIMELINE_LIMIT) -> tuple[list, bool]:
    """The order's business events (with the mutation, its decision and approver) and the field history of the
    order and its items (who, what, when, why), merged, newest first; at most ``limit`` lines of each source.
    ``show``: all, events or history. Returns (entries, truncated)."""
    entries, truncated = [], False
    if show in ("all", "events"):
        events = list(order.events.select_related("item", "mutation__approver").order_by("-id")[:limit + 1])
        truncated |= len(events) > limit
        for event in events[:limit]:
            entries.append(TimelineEntry(kind="event", when=event.occurred_at, who=event.actor,
                                         what=event.get_type_display(), why=event.message,
                                         item=event.item.item_id if event.item_id else "", mutation=event.mutation))
    if show in ("all", "history"):
        order_records = list(ProductOrder.history.filter(id=order.pk).select_related("history_user__channel")
                             .order_by("-history_date", "-history_id")[:limit + 1])
        item_records = list(ProductOrderItem.history.filter(order_id=order.pk)
                            .select_related("history_user__channel").order_by("-history_date", "-history_id")
                            [:limit + 1])
        truncated |= len(order_records) > limit or len(item_records) > limit
        entries += _field_changes(reversed(order_records[:limit]), lambda r: "")
        entries += _field_changes(reversed(item_records[:limit]), lambda r: r.item_id)
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries, truncated


# --- the order desk: the dashboard (bounded: a time window, or a capped count) ----------------------------

DASHBOARD_DAYS = 30
BACKLOG_CAP = 10_000  # a backlog bigger than this is shown as "10000+", never counted to the end
CYCLE_TIME_SAMPLE = 5_000  # cycle times are computed over the latest completed orders, at most this many
AGE_BUCKETS = [  # (key, label, from, to): an order or fallout waiting for [from, to)
    ("lt1h", "under 1 h", timedelta(0), timedelta(hours=1)),
    ("1to4h", "1-4 h", timedelta(hours=1), timedelta(hours=4)),
    ("4to24h", "4-24 h", timedelta(hours=4), timedelta(days=1)),
    ("1to3d", "1-3 days", timedelta(days=1), timedelta(days=3)),
    ("gt3d", "over 3 days", timedelta(days=3), None),
]


def age_bucket_range(key: str, now: datetime) -> tuple[datetime | None, datetime]:
    """(oldest, newest) instants a waiting start falls in for an age bucket: ``since > oldest``, ``<= newest``."""
    for bucket, _, start, end in AGE_BUCKETS:
        if bucket == key:
            return (now - end if end is not None else None), now - start
    raise ValidationFailed(f"Unknown age bucket {key!r}")


def _bucketed(starts, now: datetime) -> tuple[list[tuple[str, str, int]], bool]:
    counts = {key: 0 for key, *_ in AGE_BUCKETS}
    starts = list(starts)
    for start in starts:
        age = now - start
        for key, _, low, high in AGE_BUCKETS:
            if age >= low and (high is None or age < high):
                counts[key] += 1
                break
    return [(key, label, counts[key]) for key, label, *_ in AGE_BUCKETS], len(starts) >= BACKLOG_CAP


def held_backlog(now: datetime) -> tuple[list[tuple[str, str, int]], bool]:
    """Held orders by how long they have been held; (buckets, capped)."""
    return _bucketed(held_queue().order_by().values_list("held_since", flat=True)[:BACKLOG_CAP], now)


def fallout_backlog(now: datetime) -> tuple[list[tuple[str, str, int]], bool]:
    """Open fallouts by how long they have been open; (buckets, capped)."""
    return _bucketed(Fallout.objects.filter(resolved_at__isnull=True).order_by()
                     .values_list("opened_at", flat=True)[:BACKLOG_CAP], now)


def orders_by_state(since: datetime) -> list[tuple[str, int]]:
    """Orders placed since ``since``, counted by state."""
    return list(ProductOrder.objects.filter(order_date__gte=since).order_by().values("state")
                .annotate(n=Count("pk")).values_list("state", "n"))


def orders_per_day(since: datetime) -> list[tuple[date, int]]:
    """Orders placed each day since ``since`` (days without orders left out)."""
    return list(ProductOrder.objects.filter(order_date__gte=since).annotate(day=TruncDate("order_date"))
                .order_by().values("day").annotate(n=Count("pk")).order_by("day").values_list("day", "n"))


def _percentile(sorted_values: list, fraction: float):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def cycle_times_by_offering(since: datetime) -> list[dict]:
    """Order cycle time (order date to completion) by offering, for orders completed since ``since``: median and
    90th percentile over the latest CYCLE_TIME_SAMPLE completed order lines."""
    rows = (ProductOrderItem.objects.filter(order__completion_date__gte=since,
                                            order__state__in=[OrderState.COMPLETED, OrderState.PARTIAL])
            .order_by("-order__completion_date")
            .values_list("product_offering__offering_id", "product_offering__name", "order__order_date",
                         "order__completion_date")[:CYCLE_TIME_SAMPLE])
    by_offering: dict[str, dict] = {}
    for offering_id, name, ordered, completed in rows:
        entry = by_offering.setdefault(offering_id, {"offering": offering_id, "name": name, "durations": []})
        entry["durations"].append(completed - ordered)
    result = []
    for entry in by_offering.values():
        durations = sorted(entry.pop("durations"))
        result.append({**entry, "count": len(durations), "median": _percentile(durations, 0.5),
                       "p90": _percentile(durations, 0.9)})
    return sorted(result, key=lambda e: e["offering"])


def fallout_rate_by_offering(since: datetime) -> list[dict]:
    """Of the orders placed since ``since`` with an offering, how many had a fallout."""
    placed = dict(ProductOrderItem.objects.filter(order__order_date__gte=since).order_by()
                  .values("product_offering__offering_id").annotate(n=Count("order", distinct=True))
                  .values_list("product_offering__offering_id", "n"))
    fell = dict(Fallout.objects.filter(order__order_date__gte=since).order_by()
                .values("items__product_offering__offering_id").annotate(n=Count("order", distinct=True))
                .values_list("items__product_offering__offering_id", "n"))
    return sorted(({"key": key, "total": total, "fallouts": fell.get(key, 0),
                    "rate": fell.get(key, 0) / total if total else 0.0} for key, total in placed.items()),
                  key=lambda e: (-e["rate"], e["key"]))


def fallout_rate_by_service(since: datetime) -> list[dict]:
    """Of the services (CFS) planned for orders placed since ``since``, how many went to fallout."""
    planned = dict(ServiceOrderItem.objects.filter(order__order_date__gte=since, compensates__isnull=True)
                   .order_by().values("service_specification__code").annotate(n=Count("pk"))
                   .values_list("service_specification__code", "n"))
    fell = dict(Fallout.objects.filter(order__order_date__gte=since, service_order_item__isnull=False).order_by()
                .values("service_order_item__service_specification__code").annotate(n=Count("pk"))
                .values_list("service_order_item__service_specification__code", "n"))
    return sorted(({"key": key, "total": total, "fallouts": fell.get(key, 0),
                    "rate": min(1.0, fell.get(key, 0) / total) if total else 0.0} for key, total in planned.items()),
                  key=lambda e: (-e["rate"], e["key"]))


def queue_sizes() -> dict[str, int]:
    """How many held orders, open fallouts and pending approvals wait (each capped at BACKLOG_CAP)."""
    return {
        "held": held_queue().order_by()[:BACKLOG_CAP].count(),
        "fallouts": Fallout.objects.filter(resolved_at__isnull=True).order_by()[:BACKLOG_CAP].count(),
        "approvals": MutationRequest.objects.filter(state="pendingApproval").order_by()[:BACKLOG_CAP].count(),
    }
