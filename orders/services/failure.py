"""What a service that did not complete leads to: retry, go on without it, undo, or a person.

Failure policy of a CFS that SOM reports failed, in this order (the settings are pinned on the plan row):
1. a compensation that failed goes to fallout (nothing automatic is left);
2. retry with a new service order while ``attempts <= max_retries`` (an explicit, bounded counter);
3. an optional CFS is accepted as missing (the order ends ``partial``);
4. ``compensate``: stop what was not sent, delete what was built of the product, then fail the item;
5. ``fallout``: hold the item for an agent, with the SOM's error.

SOM reporting a service ``partial``, ``cancelled`` when COM did not ask, or a state the machine has no
move for, goes to fallout: a person decides. A service that fails for good takes down the planned services
that rely on it (never sent, cancelled), each by its own policy.

Callers hold the order lock inside a transaction.
"""
from __future__ import annotations

from django.utils import timezone

from catalog.models import FailurePolicy
from orders.models import Fallout, ItemState, OrderEvent, ProductOrder, ProductOrderItem, ServiceOrderItem, SomState

from . import fallouts
from .common import record_event, save_with_reason

FAILED_FOR_GOOD = (SomState.FAILED, SomState.REJECTED, SomState.PARTIAL, SomState.CANCELLED)


def handle_failed_service(order: ProductOrder, service: ServiceOrderItem, *, actor: str) -> str:
    """Decide what a failed (or refused) service leads to; returns the decision."""
    code = service.service_specification.code
    if service.compensates_id:
        fallouts.open_service_fallout(order, service, reason_code="COMPENSATION_FAILED", actor=actor,
                                      message=f"Undoing {code} failed: an agent must finish the clean-up")
        return "fallout"
    if service.attempts <= service.max_retries:
        service.replan()
        service.service_order = None
        save_with_reason(service, f"retry {service.attempts + 1} of {service.max_retries + 1}")
        record_event(order, OrderEvent.Type.RETRY_SCHEDULED, actor=actor,
                     message=f"{service.item_ref} {code} failed (attempt {service.attempts} of "
                             f"{service.max_retries + 1}): sending it again", payload={"error": service.error})
        return "retry"
    return give_up(order, service, actor=actor, reason=f"{code} failed after {service.attempts} attempt(s)")


def give_up(order: ProductOrder, service: ServiceOrderItem, *, actor: str, reason: str) -> str:
    """A service will not be built: optional -> go on without it; else its policy (compensate or fallout)."""
    code = service.service_specification.code
    if not service.mandatory:
        record_event(order, OrderEvent.Type.PARTIAL_ACCEPTED, actor=actor,
                     message=f"{service.item_ref} {code} is optional and will not be built: the product goes on "
                             "without it", payload={"error": service.error})
        cancel_dependents(order, service, actor=actor)
        return "partial"
    if service.failure_policy == FailurePolicy.COMPENSATE:
        record_event(order, OrderEvent.Type.COMPENSATION_STARTED, actor=actor,
                     message=f"{service.item_ref} {code}: {reason}; undoing what was built of the product",
                     payload={"error": service.error})
        for product_item in service.product_items.all():
            compensate_item(order, product_item, actor=actor)
        cancel_dependents(order, service, actor=actor)
        return "compensate"
    fallouts.open_service_fallout(order, service, reason_code="SERVICE_FAILED", actor=actor, message=reason)
    return "fallout"


def handle_unexpected_outcome(order: ProductOrder, service: ServiceOrderItem, *, reported: str, actor: str) -> None:
    """SOM ended a service partially, cancelled it unasked, or reported a move the machine has no transition for."""
    code = service.service_specification.code
    reason_code, message = {
        SomState.PARTIAL: ("SERVICE_PARTIAL", f"SOM built {code} only partially"),
        SomState.CANCELLED: ("SOM_CANCELLED", f"SOM cancelled {code}, which COM had not asked to cancel"),
    }.get(reported, ("UNEXPECTED_SOM_STATE", f"SOM reported {code} {reported} while COM has it {service.state}"))
    fallouts.open_service_fallout(order, service, reason_code=reason_code, message=message, actor=actor)


def cancel_dependents(order: ProductOrder, service: ServiceOrderItem, *, actor: str) -> list[ServiceOrderItem]:
    """Cancel the planned, never-sent services that rely on a service that will not be built; apply their policy."""
    cancelled = []
    for dependent in service.dependents.filter(state=SomState.PLANNED, service_order__isnull=True,
                                               superseded_by__isnull=True).select_related("service_specification"):
        dependent.cancel()
        dependent.error = {"code": "DEPENDENCY_FAILED", "dependsOn": service.item_ref,
                           "message": f"relies on {service.service_specification.code}, which will not be built"}
        save_with_reason(dependent, f"relies on {service.item_ref}, which will not be built")
        record_event(order, OrderEvent.Type.SERVICE_CANCELLED, actor=actor,
                     message=f"{dependent.item_ref} {dependent.service_specification.code} cancelled before being "
                             f"sent: it relies on {service.service_specification.code}, which will not be built")
        cancelled.append(dependent)
        if not dependent.mandatory:
            cancel_dependents(order, dependent, actor=actor)
        elif dependent.failure_policy == FailurePolicy.COMPENSATE:
            for product_item in dependent.product_items.all():
                compensate_item(order, product_item, actor=actor)
            cancel_dependents(order, dependent, actor=actor)
        else:
            fallouts.open_service_fallout(
                order, dependent, reason_code="DEPENDENCY_FAILED", actor=actor,
                message=f"{dependent.service_specification.code} was not sent: it relies on "
                        f"{service.service_specification.code}, which will not be built")
    return cancelled


def compensate_item(order: ProductOrder, product_item: ProductOrderItem, *, actor: str) -> list[ServiceOrderItem]:
    """Undo a product item: cancel its unsent services and queue a delete for each completed one it alone uses;
    a built service COM cannot undo (a change to an existing product, a delete, a service that is not
    reversible) goes to an agent (``revert_by_hand``).

    The item is marked compensating: it fails once the deletes have finished (``aggregation``).
    """
    if product_item.compensation_started_at is None:
        product_item.compensation_started_at = timezone.now()
        save_with_reason(product_item, "compensation started")
    compensating = {pi.pk for pi in order.items.all() if pi.compensation_started_at or pi.pk == product_item.pk}
    undo = []
    services = product_item.service_items.filter(compensates__isnull=True, superseded_by__isnull=True)
    for service in services.prefetch_related("product_items").select_related("service_specification"):
        if not {pi.pk for pi in service.product_items.all()} <= compensating:
            continue  # a shared service another product still needs stays
        if service.state == SomState.PLANNED and service.service_order_id is None:
            service.cancel()
            save_with_reason(service, "not needed: product being compensated")
        elif (service.state == SomState.COMPLETED and service.action == "add" and service.reversible
              and not service.compensations.exists()):
            row = ServiceOrderItem.objects.create(
                order=order, plan=service.plan, item_ref=f"C{service.item_ref}", sequence=1000 + service.sequence,
                plan_key=f"compensate:{service.plan_key}", service_specification=service.service_specification,
                action="delete", quantity=service.quantity, characteristics=service.characteristics,
                place=service.place, mandatory=True, service_id=service.service_id, compensates=service,
                som=service.som, max_retries=service.max_retries, failure_policy=FailurePolicy.FALLOUT,
                reversible=False,
            )
            row.product_items.set(service.product_items.all())
            undo.append(row)
        elif service.state == SomState.COMPLETED and not service.compensations.exists():
            revert_by_hand(order, service, actor=actor)
    if product_item.state == ItemState.HELD and not product_item.fallouts.filter(resolved_at__isnull=True).exists():
        product_item.resume()
        save_with_reason(product_item, "compensating")
    return undo


MANUAL_REVERT = "COMPENSATION_MANUAL"


def revert_by_hand(order: ProductOrder, service: ServiceOrderItem, *, actor: str):
    """A built service COM has no automatic undo for (a modify or delete of an existing product, or an add that
    is not reversible): a fallout puts it in front of an agent, who reverts it and then closes the fallout
    (``repairs.fail_fallout``). Opened once per service: a fallout already closed is not opened again."""
    if Fallout.objects.filter(service_order_item=service, reason_code=MANUAL_REVERT).exists():
        return None
    code = service.service_specification.code
    what = {"modify": f"the change {code} made to the customer's existing service",
            "delete": f"the removal of the customer's {code}"}.get(service.action, f"{code} (not reversible)")
    return fallouts.open_service_fallout(
        order, service, reason_code=MANUAL_REVERT, actor=actor,
        message=f"COM cannot undo {what} automatically: an agent must revert it by hand, then close this fallout")
