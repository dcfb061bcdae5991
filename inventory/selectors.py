"""Named reads of the product inventory. No writes here: products change only through COM's services."""
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from comapp.errors import NotFound, ValidationFailed
from inventory.models import Product
from orders.models import ProductOrder, ProductOrderItem
from orders.selectors import channel_of, order_visibility

PRODUCT_VIEW_PERMISSION = "inventory.view_product"


def _order_items_visible_to(user) -> Prefetch:
    """A product's order items, only those of orders the user may read."""
    items = ProductOrderItem.objects.order_by("order__order_date", "sequence")
    visible = order_visibility(user)
    if visible:  # an empty Q: every order
        items = items.filter(order__in=ProductOrder.objects.filter(visible))
    return Prefetch("order_items", queryset=items)


PRODUCT_FILTERS = {
    "id": "pk",
    "relatedParty.id": "customer_id",  # the customer party; indexed
    "status": "status",
    "productOffering.id": "product_offering__offering_id",
}


def may_read_products(user) -> bool:
    """A channel reads products (those of its orders at least); any other user needs the view permission."""
    return user is not None and (channel_of(user) is not None or user.has_perm(PRODUCT_VIEW_PERMISSION))


def products_visible_to(user) -> QuerySet[Product]:
    """The products a user may read, each with the order items the user may read.

    A channel reads the products created or changed by orders it may read (its own, or every channel's
    if it ``sees_all_channels``); another user reads every product with the ``inventory.view_product``
    permission and none without it (is_staff alone gives nothing).
    """
    queryset = (Product.objects.select_related("product_offering", "product_specification")
                .prefetch_related(_order_items_visible_to(user)))
    channel = channel_of(user)
    if channel is None:
        return queryset if user is not None and user.has_perm(PRODUCT_VIEW_PERMISSION) else queryset.none()
    if channel.sees_all_channels:
        return queryset
    by_channel = ProductOrderItem.objects.filter(product=OuterRef("pk"), order__channel=channel)
    return queryset.filter(Q(created_by_order__channel=channel) | Q(last_order__channel=channel)
                           | Exists(by_channel))


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
