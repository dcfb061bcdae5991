"""Carry existing records into the new shapes: check runs, plan versions, relationship rows, fallouts holding
their items, billing intents, inbound event status, pinned CFS settings."""
from django.db import migrations

_CATEGORY = {"SOM_REFUSED": "data", "SOM_UNREACHABLE": "transient", "SOM_SILENT": "transient",
             "SERVICE_FAILED": "resource", "COMPENSATION_FAILED": "resource"}


def forward(apps, schema_editor):
    ProductOrder = apps.get_model("orders", "ProductOrder")
    ProductOrderItem = apps.get_model("orders", "ProductOrderItem")
    OrderCheckResult = apps.get_model("orders", "OrderCheckResult")
    CheckRun = apps.get_model("orders", "CheckRun")
    DecompositionPlan = apps.get_model("orders", "DecompositionPlan")
    ServiceOrderItem = apps.get_model("orders", "ServiceOrderItem")
    ItemRelationship = apps.get_model("orders", "ItemRelationship")
    Fallout = apps.get_model("orders", "Fallout")
    BillingActivation = apps.get_model("orders", "BillingActivation")
    BillingIntent = apps.get_model("orders", "BillingIntent")
    InboundEvent = apps.get_model("orders", "InboundEvent")

    for order in ProductOrder.objects.filter(check_results__isnull=False).distinct():
        results = list(OrderCheckResult.objects.filter(order=order).order_by("id"))
        outcomes = {r.outcome for r in results}
        outcome = "fail" if "fail" in outcomes else "hold" if "hold" in outcomes else "pass"
        run = CheckRun.objects.create(order=order, sequence=1, trigger="capture", outcome=outcome,
                                      checks=[r.check_code for r in results], started_at=results[0].ran_at)
        OrderCheckResult.objects.filter(order=order).update(run=run)

    for order in ProductOrder.objects.filter(service_items__isnull=False).distinct():
        plan = DecompositionPlan.objects.create(order=order, version=1, reason="fulfilment started",
                                                created_at=order.created_at)
        ServiceOrderItem.objects.filter(order=order).update(plan=plan)
    for service in ServiceOrderItem.objects.select_related("service_specification"):
        service.som = service.service_specification.som
        service.reversible = service.service_specification.reversible
        service.save(update_fields=["som", "reversible"])

    for item in ProductOrderItem.objects.exclude(relationships=[]):
        for rel in item.relationships or []:
            related = ProductOrderItem.objects.filter(order_id=item.order_id, item_id=rel.get("item_id")).first()
            if related is not None:
                ItemRelationship.objects.get_or_create(item=item, related_item=related,
                                                       relationship_type=rel.get("relationship_type") or "")
        if item.characteristics and not item.requested_characteristics:
            item.requested_characteristics = item.characteristics
            item.save(update_fields=["requested_characteristics"])

    for fallout in Fallout.objects.select_related("service_order_item__service_specification"):
        fallout.items.set([fallout.item_id])
        service = fallout.service_order_item
        fallout.stage = "submission" if fallout.reason_code in ("SOM_REFUSED", "SOM_UNREACHABLE") else "fulfilment"
        fallout.category = _CATEGORY.get(fallout.reason_code, "internal")
        fallout.root_cause = f"{fallout.reason_code}:{service.service_specification.code if service else ''}"
        fallout.save(update_fields=["stage", "category", "root_cause"])

    for activation in BillingActivation.objects.select_related("item"):
        BillingIntent.objects.create(
            order_id=activation.order_id, item_id=activation.item_id, product_id=activation.product_id,
            action=activation.action, dedup_key=f"{activation.item_id}:{activation.action}",
            customer_id=activation.customer_id, billing_account_id=activation.billing_account_id,
            quantity=activation.item.quantity, prices=activation.prices, effective_date=activation.effective_date,
            created_at=activation.created_at,
        )

    InboundEvent.objects.filter(processed_at__isnull=False).update(status="processed")


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_liveness_models")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
