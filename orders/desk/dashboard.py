"""The admin home's dashboard for agents and supervisors: the queues, orders by state, the held and fallout
backlogs by age, cycle times and fallout rates by offering and by CFS, orders per day.

Every figure is a selector's aggregate, bounded in time (the last ``DASHBOARD_DAYS`` days) or capped
(``selectors.BACKLOG_CAP``); every bar links to the filtered list behind it.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from orders import selectors

from .charts import Bar
from .charts import bar_chart as _bar_chart
from .charts import column_chart as _column_chart
from .words import ORDER_STATE_WORDS, duration


def bar_chart(chart_id: str, title: str, bars: list[Bar]) -> dict:
    return {"id": chart_id, "title": title, "svg": _bar_chart(chart_id, title, bars)}


def column_chart(chart_id: str, title: str, columns: list[Bar]) -> dict:
    return {"id": chart_id, "title": title, "svg": _column_chart(chart_id, title, columns)}


def _list(name: str, **params) -> str:
    url = reverse(f"admin:orders_{name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time()))


def _count(n: int, capped: bool = False) -> str:
    return f"{n}+" if capped else str(n)


def dashboard() -> dict:
    now = timezone.now()
    days = selectors.DASHBOARD_DAYS
    since = _midnight(timezone.localdate(now) - timedelta(days=days))
    window = {"order_date__gte": str(since)}
    sizes = selectors.queue_sizes()
    cap = selectors.BACKLOG_CAP
    queues = [
        {"id": "queue-held", "label": "Held orders", "count": _count(sizes["held"], sizes["held"] >= cap),
         "href": _list("heldorder")},
        {"id": "queue-fallouts", "label": "Open fallouts", "count": _count(sizes["fallouts"], sizes["fallouts"] >= cap),
         "href": _list("fallout")},
        {"id": "queue-fallout-groups", "label": "Fallouts by root cause", "count": "",
         "href": reverse("admin:orders_fallout_groups")},
        {"id": "queue-approvals", "label": "Changes awaiting approval",
         "count": _count(sizes["approvals"], sizes["approvals"] >= cap), "href": _list("pendingapproval")},
    ]
    by_state = sorted(selectors.orders_by_state(since), key=lambda r: -r[1])
    held, held_capped = selectors.held_backlog(now)
    fallen, fallen_capped = selectors.fallout_backlog(now)
    cycle = selectors.cycle_times_by_offering(since)
    counted = dict(selectors.orders_per_day(since))
    per_day = [(day, counted.get(day, 0)) for day in
               (since.date() + timedelta(days=n) for n in range((timezone.localdate(now) - since.date()).days + 1))]
    charts = [
        bar_chart("chart-orders-by-state", f"Orders placed in the last {days} days, by state", [
            Bar(ORDER_STATE_WORDS.get(state, state), n, str(n), _list("productorder", state__exact=state, **window))
            for state, n in by_state]),
        bar_chart("chart-held-backlog", "Held orders, by how long they have been held" + (
            f" (the first {cap})" if held_capped else ""),
            [Bar(label, n, str(n), _list("heldorder", age=key)) for key, label, n in held]),
        bar_chart("chart-fallout-backlog", "Open fallouts, by how long they have been open" + (
            f" (the first {cap})" if fallen_capped else ""),
            [Bar(label, n, str(n), _list("fallout", age=key)) for key, label, n in fallen]),
        bar_chart("chart-cycle-time", f"Cycle time by offering, orders completed in the last {days} days "
                                      "(median; p90 behind)", [
            Bar(row["offering"], row["median"].total_seconds(),
                f"{duration(row['median'])} / {duration(row['p90'])}",
                _list("productorder", offering=row["offering"], state__exact="completed"),
                behind=row["p90"].total_seconds()) for row in cycle]),
        bar_chart("chart-fallout-rate-offering", f"Fallout rate by offering, orders of the last {days} days", [
            Bar(row["key"], row["rate"], f"{row['rate']:.0%} ({row['fallouts']}/{row['total']})",
                _list("fallout", status="all", offering=row["key"])) for row in
            selectors.fallout_rate_by_offering(since)]),
        bar_chart("chart-fallout-rate-service", f"Fallout rate by CFS, orders of the last {days} days", [
            Bar(row["key"], row["rate"], f"{row['rate']:.0%} ({row['fallouts']}/{row['total']})",
                _list("fallout", status="all", service=row["key"])) for row in
            selectors.fallout_rate_by_service(since)]),
        column_chart("chart-orders-per-day", f"Orders per day, the last {days} days", [
            Bar(day.strftime("%m-%d"), n, str(n), _list("productorder", order_date__gte=str(_midnight(day)),
                                                         order_date__lt=str(_midnight(day + timedelta(days=1)))))
            for day, n in per_day]),
    ]
    return {"queues": queues, "charts": charts, "days": days}
