"""Stable completion of an item: write Product Inventory (TMF637) and hand billing its intent.

An item is stable when every service it needs has ended and the needed ones were built; only then is the
product created, changed or terminated, in the same transaction as the item's completion. Inventory may
refuse (the product was terminated, or changed since this order was validated): then nothing is written,
the item goes to fallout (COMPLETION stage) and the order waits for a person, instead of an event being
rolled back and retried forever. Each write happens once: a billing intent is keyed by item and action.
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from comapp.errors import ComError
from inventory import services as inventory
from orders import pricing
from orders.models import BillingIntent, FalloutStage, ItemAction, OrderEvent, ProductOrder, SomState

from . import fallouts
from .common import record_event, save_with_reason


def _built(services, *, actions) -> list[dict]:
    return [
        {"service_spec": s.service_specification.code, "service_id": s.service_id, "inputs": s.characteristics}
        for s in services
        if s.compensates_id is None and s.state == SomState.COMPLETED and s.action in actions
    ]


def item_prices(unit_prices: list[dict], quantity: int) -> list[dict]:
    """The item's catalog unit prices with their totals for the quantity ordered (as billing receives them)."""
    return [{**total, "unit_amount": unit["amount"], "quantity": quantity}
            for unit, total in zip(unit_prices, pricing.item_total(unit_prices, quantity), strict=True)]


def write_inventory(order: ProductOrder, item, services):
    """Create, change or terminate the item's product; returns (product, billing action). Raises ComError."""
    if item.action == ItemAction.ADD:
        primaries = [s for s in services if s.compensates_id is None and s.mandatory]
        product = inventory.create_product(order=order, item=item, services=_built(services, actions={"add"}),
                                           service_states=[s.state for s in primaries])
        return product, BillingIntent.Action.ACTIVATE
    if item.action == ItemAction.MODIFY:
        product = inventory.update_product(
            product_id=item.product_id, expected_version=item.product_version, order=order, item=item,
            changed_services=_built(services, actions={"add", "modify"}),
            removed_service_ids=[s.service_id for s in services
                                 if s.action == "delete" and s.state == SomState.COMPLETED],
        )
        return product, BillingIntent.Action.CHANGE
    if item.action == ItemAction.DELETE:
        product = inventory.terminate_product(product_id=item.product_id, expected_version=item.product_version,
                                              order=order, item=item)
        return product, BillingIntent.Action.DEACTIVATE
    return None, None


def hand_off_billing(order: ProductOrder, item, product, action: str) -> BillingIntent:
    """The intent for an item that completed; an amendment applied to the item is named as its cause."""
    amended = item.mutations.filter(state="applied", kind__in=["amendment", "correction", "reschedule"]) \
        .order_by("-applied_at").first()
    intent, _ = BillingIntent.objects.get_or_create(
        dedup_key=f"{item.pk}:{action}",
        defaults=dict(order=order, item=item, product=product, action=action, customer_id=order.customer_id,
                      billing_account_id=order.billing_account_id, quantity=item.quantity,
                      prices=item_prices(item.item_prices, item.quantity), effective_date=timezone.now(),
                      mutation=amended, reason=f"order {order.pk} item {item.item_id} {item.action}"
                      + (f" as amended by {amended.pk}" if amended else "")),
    )
    return intent


def complete_item(order: ProductOrder, item, services, *, actor: str) -> bool:
    """Write inventory and billing for an item whose services are done, and complete it; False if refused."""
    try:
        with transaction.atomic():  # a refusal undoes only this item's writes
            product, action = write_inventory(order, item, services)
    except ComError as error:
        code = "PRODUCT_CHANGED" if error.code == "PRODUCT_CHANGED" else "INVENTORY_CONFLICT"
        fallouts.open_item_fallout(order, item, stage=FalloutStage.COMPLETION, reason_code=code, actor=actor,
                                   message=f"Inventory refused item {item.item_id}: {error.message}",
                                   context={"error": error.message, "product": item.product_id or ""})
        return False
    item.complete()
    if product is not None:
        item.product = product
    save_with_reason(item, "services finished: completed")
    if product is None:
        return True
    record_event(order, OrderEvent.Type.INVENTORY_UPDATED, actor=actor, item=item,
                 message=f"Product {product.pk} {product.status} (version {product.version})",
                 payload={"product": product.pk, "status": product.status, "version": product.version})
    hand_off_billing(order, item, product, action)
    record_event(order, OrderEvent.Type.BILLING_HANDED_OFF, actor=actor, item=item,
                 message=f"Billing {action} for product {product.pk} x{item.quantity}")
    return True
