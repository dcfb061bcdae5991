"""Named reads: one function per list, queue or lookup. No writes here."""
from datetime import timedelta

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from comapp.errors import NotFound, ValidationFailed
from comapp.tmf import parse_date_param
from orders.models import (
    CheckOutcome,
    Fallout,
    OrderCheckResult,
    OrderState,
    ProductOrder,
    ProductOrderItem,
    ServiceOrderItem,
)

_ITEMS = Prefetch(
    "items",
    queryset=ProductOrderItem.objects.select_related("product_offering", "product_specification").order_by("sequence"),
)


def orders_visible_to(user) -> QuerySet[ProductOrder]:
    """Staff see every order; a channel sees only its own."""
    queryset = ProductOrder.objects.select_related("channel").prefetch_related(_ITEMS)
    if user.is_staff:
        return queryset
    channel = getattr(user, "channel", None)
    if channel is None:
        return queryset.none()
    return queryset.filter(channel=channel)


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


# --- queues and reads used by checks, decomposition and the admin ---------------------------------

def held_orders() -> QuerySet[ProductOrder]:
    return ProductOrder.objects.filter(state=OrderState.HELD).order_by("priority", "order_date")


def open_fallouts() -> QuerySet[Fallout]:
    return Fallout.objects.filter(resolved_at__isnull=True).select_related("order", "item").order_by("opened_at")


def technology_by_place(order: ProductOrder) -> dict[str, str]:
    """The access technology the serviceability check chose for each place of the order."""
    result = OrderCheckResult.objects.filter(order=order, check_code="serviceability",
                                             outcome=CheckOutcome.PASS).first()
    return dict((result.details or {}).get("technology", {})) if result else {}


def recent_orders_of_customer(customer_id: str, *, minutes: int, exclude_id: str) -> QuerySet[ProductOrder]:
    since = timezone.now() - timedelta(minutes=minutes)
    return ProductOrder.objects.filter(customer_id=customer_id, order_date__gte=since).exclude(pk=exclude_id)


def in_flight_orders_of_customer(customer_id: str, *, exclude_id: str) -> QuerySet[ProductOrder]:
    terminal = [OrderState.REJECTED, OrderState.CANCELLED, OrderState.COMPLETED, OrderState.FAILED,
                OrderState.PARTIAL]
    return (ProductOrder.objects.filter(customer_id=customer_id).exclude(pk=exclude_id).exclude(state__in=terminal)
            .prefetch_related(_ITEMS))


def service_items_of(order: ProductOrder) -> QuerySet[ServiceOrderItem]:
    return (ServiceOrderItem.objects.filter(order=order).select_related("service_specification", "service_order")
            .prefetch_related("product_items", "depends_on").order_by("sequence"))


def stalled_orders(older_than_seconds: int = 60) -> QuerySet[ProductOrder]:
    """Acknowledged orders whose checks never ran (the task was lost), and deferred orders now due."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return ProductOrder.objects.filter(state=OrderState.ACKNOWLEDGED, checks_started_at__isnull=True,
                                       created_at__lt=cutoff)


def due_deferred_orders() -> QuerySet[ProductOrder]:
    return ProductOrder.objects.filter(state=OrderState.PENDING, requested_start_date__lte=timezone.now())
