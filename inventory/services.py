"""Product inventory commands, called by COM's completion once fulfilment is stable.

``product_status_for`` is the service -> product status mapping (TMF641 service states to TMF637):
completed -> active, suspended -> suspended, some built and some not -> pendingActive,
terminated -> terminated; failed -> per the catalog policy of the service, decided by the caller.
"""
from django.db import transaction
from django.utils import timezone

from comapp.errors import Conflict, NotAllowed
from inventory.models import Product, ProductStatus


def _lock_for_change(product_id: str, expected_version: int | None, what: str) -> Product:
    """The product, locked; refused if it is no longer live or has changed since the order was validated."""
    product = Product.objects.select_for_update().get(pk=product_id)
    if not product.is_live:
        raise NotAllowed(f"Product {product.pk} is {product.status}: it cannot be {what}")
    if expected_version is not None and product.version != expected_version:
        raise Conflict(f"Product {product.pk} is at version {product.version}, not {expected_version} as when the "
                       f"order was validated: another order changed it", code="PRODUCT_CHANGED")
    return product


def product_status_for(service_states: list[str]) -> str:
    states = set(service_states)
    if not states or states == {"completed"}:
        return ProductStatus.ACTIVE
    if "suspended" in states:
        return ProductStatus.SUSPENDED
    if states == {"terminated"}:
        return ProductStatus.TERMINATED
    if "completed" in states:
        return ProductStatus.PENDING_ACTIVE
    return ProductStatus.ABORTED


@transaction.atomic
def create_product(*, order, item, services: list[dict], service_states: list[str]) -> Product:
    """Create the product an add item ordered, with the services that realise it."""
    offering = item.product_offering
    product = Product.objects.create(
        name=offering.name, customer_id=order.customer_id, product_offering=offering,
        product_specification=item.product_specification, characteristics=item.characteristics,
        place=item.place, related_parties=order.related_parties, prices=item.item_prices, quantity=item.quantity,
        realizing_services=services, billing_account_id=order.billing_account_id, created_by_order=order,
        last_order=order, order_date=order.order_date,
    )
    target = product_status_for(service_states)
    if target == ProductStatus.ACTIVE:
        product.activate()
        product.start_date = timezone.now()
    elif target == ProductStatus.PENDING_ACTIVE:
        product.await_activation()
    product._change_reason = f"created by {order.pk}/{item.item_id}"
    product.save()
    return product


@transaction.atomic
def update_product(*, product_id: str, order, item, changed_services: list[dict],
                   removed_service_ids: list[str], expected_version: int | None = None) -> Product:
    """Apply a completed modify: new characteristics, the services as SOM now has them; version + 1.

    Raises NotAllowed if the product is no longer live, Conflict (PRODUCT_CHANGED) if its version moved.
    """
    product = _lock_for_change(product_id, expected_version, "modified")
    by_spec = {s["service_spec"]: s for s in product.realizing_services if s["service_id"] not in removed_service_ids}
    for service in changed_services:
        by_spec[service["service_spec"]] = service
    product.realizing_services = sorted(by_spec.values(), key=lambda s: s["service_spec"])
    product.characteristics = item.characteristics
    if item.item_prices:
        product.prices = item.item_prices
    product.quantity = item.quantity
    product.last_order = order
    product.version += 1
    product._change_reason = f"modified by {order.pk}/{item.item_id}"
    product.save()
    return product


@transaction.atomic
def terminate_product(*, product_id: str, order, item, expected_version: int | None = None) -> Product:
    """Close a product whose services were all deleted. Refused as ``update_product`` is."""
    product = _lock_for_change(product_id, expected_version, "terminated")
    product.terminate()
    product.termination_date = timezone.now()
    product.last_order = order
    product.version += 1
    product._change_reason = f"terminated by {order.pk}/{item.item_id}"
    product.save()
    return product
