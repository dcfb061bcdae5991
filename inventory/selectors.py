"""Named reads of the product inventory. No writes here: products change only through COM's services."""
from django.db.models import Prefetch, Q, QuerySet

from comapp.errors import NotFound, ValidationFailed
from inventory.models import Product
from orders.models import ProductOrderItem

_ORDER_ITEMS = Prefetch("order_items", queryset=ProductOrderItem.objects.order_by("order__order_date", "sequence"))

PRODUCT_FILTERS = {
    "relatedParty.id": "customer_id",  # the customer party; indexed
    "status": "status",
    "productOffering.id": "product_offering__offering_id",
}


def products_visible_to(user) -> QuerySet[Product]:
    """Staff see every product; a channel sees the products its own orders created or last changed."""
    queryset = (Product.objects.select_related("product_offering", "product_specification")
                .prefetch_related(_ORDER_ITEMS))
    if user.is_staff:
        return queryset
    channel = getattr(user, "channel", None)
    if channel is None:
        return queryset.none()
    return queryset.filter(Q(created_by_order__channel=channel) | Q(last_order__channel=channel))


def product_list(*, user, filters: dict[str, str]) -> QuerySet[Product]:
    """Visible products matching TMF filters (``status=active,suspended``); ValidationFailed on an unknown one."""
    queryset = products_visible_to(user)
    unknown = sorted(name for name in filters if name not in PRODUCT_FILTERS)
    if unknown:
        raise ValidationFailed(f"Unknown filter(s): {', '.join(unknown)}. "
                               f"Supported: {', '.join(sorted(PRODUCT_FILTERS))}")
    for name, raw in filters.items():
        # Stripping also maps TMF's "aborted " spelling onto the stored "aborted".
        values = [value.strip() for value in raw.split(",") if value.strip()]
        queryset = queryset.filter(**{f"{PRODUCT_FILTERS[name]}__in": values})
    # The primary key breaks ties so that offset paging never repeats or skips a product.
    return queryset.order_by("-created_at", "-pk")


def product_detail(*, user, product_id: str) -> Product:
    product = products_visible_to(user).filter(pk=product_id).first()
    if product is None:
        raise NotFound(f"No product {product_id}")
    return product
