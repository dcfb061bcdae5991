"""Manual completion: a service in fallout was done outside SOM (a technician finished the job, a port was
patched by hand); on the agent's evidence and a supervisor's approval it is recorded as completed, its
fallout resolved, and the order moves on as if SOM had built it.

It is a mutation (``MutationKind.MANUAL_COMPLETION``, changes ``{"fallout": id, "evidence": text}``), so it
is requested, assessed, approved by someone other than the requester and audited like any other
(``mutations``); the policy always asks for approval. ``preview`` is its impact, ``apply`` carries it out.
Only a service SOM has finished with (failed, refused, partial, cancelled) can be completed by hand: one
SOM is still working on may yet report otherwise. Callers hold the order lock.
"""
from __future__ import annotations

from comapp.errors import NotAllowed, ValidationFailed
from orders import impact
from orders.models import LIVE_SOM_STATES, Fallout, MutationKind, MutationRequest, OrderEvent, ProductOrder, SomState

from . import fallouts
from .amendments import Change
from .common import record_event, save_with_reason

EVIDENCE_MAX_LENGTH = 500


def _fallout_of(order: ProductOrder, changes: dict) -> tuple[Fallout, str]:
    evidence = str(changes.get("evidence") or "").strip()
    if not evidence:
        raise ValidationFailed("A manual completion needs its evidence (what was done, by whom, a reference)")
    if len(evidence) > EVIDENCE_MAX_LENGTH:
        raise ValidationFailed(f"The evidence is at most {EVIDENCE_MAX_LENGTH} characters")
    fallout = (Fallout.objects.filter(pk=changes.get("fallout"), order=order)
               .select_related("service_order_item__service_specification").prefetch_related("items").first())
    if fallout is None:
        raise ValidationFailed(f"Order {order.pk} has no fallout {changes.get('fallout')!r}")
    if fallout.service_order_item is None:
        raise NotAllowed(f"Fallout {fallout.pk} is about the order as a whole, not a service: there is nothing to "
                         "complete by hand")
    return fallout, evidence


def _refusals(fallout: Fallout) -> list[str]:
    service = fallout.service_order_item
    code = service.service_specification.code
    if not fallout.is_open:
        return [f"fallout {fallout.pk} was already resolved ({fallout.resolution})"]
    if service.superseded_by_id is not None:
        return [f"{service.item_ref} {code} was replaced by a later plan version: repair the fallout with a retry"]
    if service.state == SomState.COMPLETED:
        return [f"{service.item_ref} {code} is already completed"]
    if service.state in LIVE_SOM_STATES:
        return [f"{service.item_ref} {code} is still {service.state}: SOM may yet report on it; retry it or wait"]
    return []


def preview(order: ProductOrder, draft) -> Change:
    """What completing the fallout's service by hand would do now (writes nothing)."""
    fallout, evidence = _fallout_of(order, draft.changes or {})
    service = fallout.service_order_item
    items = list(fallout.items.all())
    found = {
        "orderVersion": order.version, "orderState": order.state, "fallout": fallout.pk,
        "reasonCode": fallout.reason_code, "evidence": evidence,
        "items": [{"id": i.item_id, "state": i.state,
                   "why": "held by the fallout: resumes, and completes once its other services have"} for i in items],
        "services": [{"ref": service.item_ref, "service": service.service_specification.code, "action": service.action,
                      "state": service.state, "point": impact.execution_point(service), "outcome": "completeByHand",
                      "note": "recorded as completed on the evidence; SOM did not build it"}],
        "billing": [{"item": i.item_id, "intent": "activate",
                     "because": "once the item completes, its product goes to inventory and billing"} for i in items],
    }
    notes = [f"REFUSE:{reason}" for reason in _refusals(fallout)]
    return Change(kind=MutationKind.MANUAL_COMPLETION, execution_point=impact.execution_point(service),
                  impact=found, notes=notes)


def apply(order: ProductOrder, mutation: MutationRequest, *, actor: str, user=None) -> None:
    """Record the service completed by hand, resolve its fallout and resume its items (the caller refreshes
    the order's states). NotAllowed if it can no longer be done (the caller fails the request)."""
    fallout, evidence = _fallout_of(order, mutation.changes or {})
    refusals = _refusals(fallout)
    if refusals:
        raise NotAllowed("; ".join(refusals))
    service = fallout.service_order_item
    code = service.service_specification.code
    service.complete_by_hand()
    save_with_reason(service, f"completed by hand ({mutation.pk})")
    record_event(order, OrderEvent.Type.SERVICE_STATE_CHANGED, actor=actor, mutation=mutation,
                 message=f"{service.item_ref} {code} completed by hand: {evidence}"[:500],
                 payload={"serviceOrderItem": service.item_ref, "state": service.state, "evidence": evidence,
                          "requestedBy": mutation.requester, "fallout": fallout.pk})
    fallouts.close_fallout(fallout, resolution="completedByHand", user=user, actor=actor,
                           note=f"{mutation.pk}: {evidence}")
    fallouts.release_items(order, fallout, reason=f"completed by hand ({mutation.pk})")
    record_event(order, OrderEvent.Type.MUTATION_APPLIED, actor=actor, mutation=mutation,
                 message=f"manual completion {mutation.pk} applied: {service.item_ref} {code} completed by hand")
