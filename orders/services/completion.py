"""Stable completion: write Product Inventory (TMF637) and the billing handoff for each completed item.

Runs once the order is finished (completed, partial or failed), in the same transaction as the state
change; each item is written at most once (``item.product`` for adds, the one-to-one BillingActivation),
so a repeated call changes nothing.
"""
from django.utils import timezone

from inventory import services as inventory
from orders.models import BillingActivation, ItemAction, ItemState, OrderEvent, ProductOrder, SomState

from .common import record_event, save_with_reason


def _built(services, *, actions) -> list[dict]:
    return [
        {"service_spec": s.service_specification.code, "service_id": s.service_id, "inputs": s.characteristics}
        for s in services
        if s.compensates_id is None and s.state == SomState.COMPLETED and s.action in actions
    ]


def finalize_order(order: ProductOrder, *, actor: str) -> None:
    """Record inventory and billing for every completed item not yet recorded."""
    for item in order.items.select_related("product_offering", "product_specification"):
        if item.state != ItemState.COMPLETED or hasattr(item, "billing_activation"):
            continue
        services = list(item.service_items.select_related("service_specification"))
        if item.action == ItemAction.ADD:
            primaries = [s for s in services if s.compensates_id is None and s.mandatory]
            product = inventory.create_product(order=order, item=item, services=_built(services, actions={"add"}),
                                               service_states=[s.state for s in primaries])
            item.product = product
            save_with_reason(item, f"product {product.pk} created")
            action = BillingActivation.Action.ACTIVATE
        elif item.action == ItemAction.MODIFY:
            product = inventory.update_product(
                product_id=item.product_id, order=order, item=item,
                changed_services=_built(services, actions={"add", "modify"}),
                removed_service_ids=[s.service_id for s in services
                                     if s.action == "delete" and s.state == SomState.COMPLETED],
            )
            action = BillingActivation.Action.CHANGE
        elif item.action == ItemAction.DELETE:
            product = inventory.terminate_product(product_id=item.product_id, order=order, item=item)
            action = BillingActivation.Action.DEACTIVATE
        else:
            continue
        record_event(order, OrderEvent.Type.INVENTORY_UPDATED, actor=actor, item=item,
                     message=f"Product {product.pk} {product.status} (version {product.version})",
                     payload={"product": product.pk, "status": product.status})
        BillingActivation.objects.create(
            order=order, item=item, product=product, action=action, customer_id=order.customer_id,
            billing_account_id=order.billing_account_id, prices=item.item_prices, effective_date=timezone.now(),
        )
        record_event(order, OrderEvent.Type.BILLING_HANDED_OFF, actor=actor, item=item,
                     message=f"Billing {action} for product {product.pk}")
