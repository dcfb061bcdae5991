"""Store the decomposition plan of an order: the engine's output as ServiceOrderItem rows.

Idempotent by construction: each planned service has a ``plan_key`` unique within the order, so a second
run (a retried task, a redelivered message) finds the rows and creates nothing.
"""
from catalog.models import DecompositionRule
from inventory.models import LIVE_PRODUCT_STATUSES, Product
from orders import decomposition as engine
from orders import selectors
from orders.models import ItemAction, OrderEvent, ProductOrder, ServiceOrderItem, SomState

from .common import record_event


def _rules(spec) -> tuple[engine.Rule, ...]:
    rules = (DecompositionRule.objects.filter(specification=spec).select_related("service_specification")
             .prefetch_related("service_specification__depends_on").order_by("sequence", "id"))
    return tuple(
        engine.Rule(
            service_code=r.service_specification.code, mandatory=r.mandatory, inputs=tuple(r.input_characteristics),
            technology=r.technology, condition_characteristic=r.condition_characteristic,
            condition_operator=r.condition_operator, condition_value=r.condition_value,
            shareable=r.service_specification.shareable,
            depends_on=tuple(sorted(d.code for d in r.service_specification.depends_on.all())),
        )
        for r in rules
    )


def _services_shared_elsewhere(product: Product, leaving: set[str]) -> frozenset[str]:
    """Service ids of this product that another live product (not leaving in this order) also uses."""
    ids = {s["service_id"] for s in product.realizing_services}
    others = (Product.objects.filter(customer_id=product.customer_id, status__in=LIVE_PRODUCT_STATUSES)
              .exclude(pk__in=leaving | {product.pk}))
    used = set()
    for other in others:
        used |= {s["service_id"] for s in other.realizing_services} & ids
    return frozenset(used)


def item_inputs(order: ProductOrder) -> list[engine.ItemInput]:
    items = list(order.items.select_related("product_specification", "product").order_by("sequence"))
    leaving = {i.product_id for i in items if i.action == ItemAction.DELETE and i.product_id}
    inputs = []
    for item in items:
        product = item.product if item.action != ItemAction.ADD else None
        current = ()
        shared = frozenset()
        if product is not None:
            current = tuple(engine.CurrentService(s["service_spec"], s["service_id"], s.get("inputs") or {})
                            for s in product.realizing_services)
            shared = _services_shared_elsewhere(product, leaving)
        inputs.append(engine.ItemInput(
            item_id=item.item_id, action=item.action, quantity=item.quantity, characteristics=item.characteristics,
            place=item.place, rules=_rules(item.product_specification), current_services=current,
            services_shared_elsewhere=shared,
        ))
    return inputs


def decompose_order(order: ProductOrder, *, actor: str = "system") -> list[ServiceOrderItem]:
    """Create the order's service order items from its catalog rules (nothing new if already done).

    Runs inside the caller's transaction with the order locked.
    """
    from catalog.models import ServiceSpecification

    existing = list(selectors.service_items_of(order))
    if existing:
        return existing
    planned = engine.plan(item_inputs(order), selectors.technology_by_place(order))
    specs = {s.code: s for s in ServiceSpecification.objects.filter(code__in={p.service_code for p in planned})}
    items_by_id = {i.item_id: i for i in order.items.all()}
    rows: dict[str, ServiceOrderItem] = {}
    for sequence, service in enumerate(planned, start=1):
        spec = specs[service.service_code]
        row, _ = ServiceOrderItem.objects.get_or_create(
            order=order, plan_key=service.plan_key,
            defaults=dict(
                item_ref=str(sequence), sequence=sequence, service_specification=spec, action=service.action,
                quantity=service.quantity, characteristics=service.characteristics, place=service.place,
                mandatory=service.mandatory, service_id=service.service_id, max_retries=spec.max_retries,
                failure_policy=spec.failure_policy,
            ),
        )
        row.product_items.set([items_by_id[i] for i in service.item_ids])
        rows[service.plan_key] = row
    for service in planned:
        if service.depends_on:
            rows[service.plan_key].depends_on.set([rows[key] for key in service.depends_on])
    record_event(order, OrderEvent.Type.DECOMPOSED, actor=actor,
                 message=f"{len(planned)} service order item(s) planned",
                 payload={"plan": [
                     {"ref": rows[p.plan_key].item_ref, "service": p.service_code, "action": p.action,
                      "productItems": p.item_ids, "dependsOn": [rows[k].item_ref for k in p.depends_on]}
                     for p in planned
                 ]})
    return list(rows.values())


def ready_items(order: ProductOrder) -> list[ServiceOrderItem]:
    """Planned items not yet sent whose every dependency has completed: what can be sent now."""
    candidates = (ServiceOrderItem.objects.filter(order=order, state=SomState.PLANNED, service_order__isnull=True)
                  .select_related("service_specification").prefetch_related("depends_on").order_by("sequence"))
    return [item for item in candidates if all(dep.state == SomState.COMPLETED for dep in item.depends_on.all())]
