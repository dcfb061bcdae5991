"""Store the decomposition plan of an order: the planner's output as ServiceOrderItem rows of plan version 1.

Idempotent by construction: a second run (a retried task, a redelivered message) finds the plan and
creates nothing. Each service is built with the CFS version named by the rule of the product specification
version its item was captured with (never the catalog's current version of the code); that version's settings
that drive fulfilment are copied onto the row, so the order behaves as captured whatever the catalog says
later. An ``add`` item the plan gives nothing to build (no rule matches the technology at its address) is not
completed with nothing built: it goes to fallout (PLAN_EMPTY).
"""
from catalog.models import DecompositionRule, ServiceSpecification
from comapp.errors import ValidationFailed
from inventory.models import LIVE_PRODUCT_STATUSES, Product
from orders import planner as engine
from orders import selectors
from orders.models import (
    DecompositionPlan,
    FalloutStage,
    ItemAction,
    OrderEvent,
    ProductOrder,
    ServiceOrderItem,
    SomState,
)

from . import fallouts
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
            service_ref=r.service_specification_id,
        )
        for r in rules
    )


def _built_with(order: ProductOrder, service: engine.PlannedService) -> ServiceSpecification | None:
    """The CFS version COM last built this customer's service with (None if COM never built it)."""
    if not service.service_id:
        return None
    built = (ServiceOrderItem.objects.filter(order__customer_id=order.customer_id, service_id=service.service_id,
                                             service_specification__code=service.service_code,
                                             state=SomState.COMPLETED)
             .select_related("service_specification").order_by("-pk").first())
    return built.service_specification if built else None


def pinned_service_specifications(order: ProductOrder,
                                  planned: list[engine.PlannedService]) -> dict[str, ServiceSpecification]:
    """plan key -> the CFS version to build each planned service with: the one its rule names.

    A delete of a service no rule of its product's specification version names (one COM did not plan from these
    rules) takes the version COM last built it with, else, if COM never built it, the catalog's latest.
    Raises ValidationFailed if the catalog has no version of its code at all.
    """
    by_pk = ServiceSpecification.objects.in_bulk({p.service_ref for p in planned if p.service_ref is not None})
    pinned = {}
    for service in planned:
        specification = (by_pk.get(service.service_ref) or _built_with(order, service)
                         or ServiceSpecification.objects.filter(code=service.service_code).order_by("-version").first())
        if specification is None:
            raise ValidationFailed(f"No service specification {service.service_code} in the catalog")
        pinned[service.plan_key] = specification
    return pinned


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
    if order.plans.exists():
        return list(selectors.service_items_of(order))
    planned = engine.plan(item_inputs(order), selectors.technology_by_place(order))
    plan = DecompositionPlan.objects.create(order=order, version=1, reason="fulfilment started")
    specs = pinned_service_specifications(order, planned)
    items_by_id = {i.item_id: i for i in order.items.all()}
    rows: dict[str, ServiceOrderItem] = {}
    for sequence, service in enumerate(planned, start=1):
        spec = specs[service.plan_key]
        row = ServiceOrderItem.objects.create(
            order=order, plan=plan, plan_key=service.plan_key, item_ref=str(sequence), sequence=sequence,
            service_specification=spec, action=service.action, quantity=service.quantity,
            characteristics=service.characteristics, place=service.place, mandatory=service.mandatory,
            service_id=service.service_id, som=spec.som, max_retries=spec.max_retries,
            failure_policy=spec.failure_policy, reversible=spec.reversible, point_of_no_return=spec.point_of_no_return,
            milestones=spec.milestones, compensation_action=spec.compensation_action,
            appointment=appointment_of([items_by_id[i] for i in service.item_ids]),
        )
        row.product_items.set([items_by_id[i] for i in service.item_ids])
        rows[service.plan_key] = row
    for service in planned:
        if service.depends_on:
            rows[service.plan_key].depends_on.set([rows[key] for key in service.depends_on])
    summary = [{"ref": rows[p.plan_key].item_ref, "service": p.service_code, "action": p.action,
                "productItems": p.item_ids, "dependsOn": [rows[k].item_ref for k in p.depends_on]} for p in planned]
    plan.summary = summary
    plan.save(update_fields=["summary"])
    record_event(order, OrderEvent.Type.DECOMPOSED, actor=actor,
                 message=f"{len(planned)} service order item(s) planned (plan v1)", payload={"plan": summary})
    _hold_what_nothing_builds(order, planned, actor=actor)
    return list(rows.values())


def appointment_of(product_items) -> dict | None:
    """The appointment a service is built at: its product item's (a shared service has none)."""
    return product_items[0].appointment if len(product_items) == 1 else None


def _hold_what_nothing_builds(order: ProductOrder, planned, *, actor: str) -> None:
    served = {item_id for p in planned for item_id in p.item_ids}
    for item in order.items.all():
        if item.action == ItemAction.ADD and item.item_id not in served and not item.is_terminal:
            place = (item.place or {}).get("id", "no address")
            technology = selectors.technology_by_place(order).get(place, "no technology")
            fallouts.open_item_fallout(
                order, item, stage=FalloutStage.PLANNING, reason_code="PLAN_EMPTY", actor=actor,
                message=f"Nothing in the catalog builds {item.product_offering.name} with {technology} at {place}",
                context={"place": place, "technology": technology, "specification": item.product_specification_id},
            )


def ready_items(order: ProductOrder) -> list[ServiceOrderItem]:
    """Planned items not yet sent whose every dependency has completed: what can be sent now."""
    candidates = (ServiceOrderItem.objects.filter(order=order, state=SomState.PLANNED, service_order__isnull=True,
                                                  superseded_by__isnull=True)
                  .select_related("service_specification", "replaces").prefetch_related("depends_on")
                  .order_by("sequence"))
    return [item for item in candidates
            if (item.replaces is None or item.replaces.is_terminal)
            and all(dep.state == SomState.COMPLETED for dep in item.depends_on.all())]
