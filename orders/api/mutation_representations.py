"""Mutation requests as TMF622 task resources (outbound half of the anti-corruption layer).

``cancelProductOrder`` renders TMF622's ``CancelProductOrder``; ``amendProductOrder`` the same shape for a
change. Both carry, as documented extensions, what COM decided and why (``decision``, ``impact``), so the
requester sees the impact and whether a supervisor must approve.
"""
from django.urls import reverse

from comapp.tmf import absolute_url, iso

from orders.integrations.tmf622 import order_href


def _drop_none(data: dict) -> dict:
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def decision(mutation_or_assessment) -> dict:
    assessment = mutation_or_assessment.assessment if hasattr(mutation_or_assessment, "assessment") \
        else mutation_or_assessment.as_dict()
    return _drop_none({"outcome": assessment.get("decision"), "policyRule": assessment.get("policyRule"),
                       "reason": assessment.get("reason"), "approvalRequired": assessment.get("approvalRequired"),
                       "compensation": assessment.get("compensation"),
                       "executionPoint": assessment.get("executionPoint"), "kind": assessment.get("kind")})


def impact(assessment: dict) -> dict:
    found = assessment.get("impact") or {}
    return _drop_none({"orderVersion": found.get("orderVersion"), "productOrderItem": found.get("items"),
                       "serviceOrderItem": found.get("services"), "billing": found.get("billing"),
                       "prices": found.get("prices"), "checks": found.get("checks"),
                       "orderChanges": found.get("orderChanges")})


def _common(mutation, request, route: str) -> dict:
    return {
        "id": mutation.pk,
        "href": absolute_url(request, reverse(route, kwargs={"mutation_id": mutation.pk})),
        "state": mutation.tmf_state,
        "productOrder": {"id": mutation.order_id, "href": order_href(mutation.order_id, request),
                         "@referredType": "ProductOrder"},
        "creationDate": iso(mutation.created_at),
        "completionDate": iso(mutation.applied_at),
        "reasonCode": mutation.reason_code,
        "customerConsentRef": mutation.customer_consent_ref or None,
        "productOrderItem": [{"id": i.item_id} for i in mutation.items.all()] or None,
        "decision": {**decision(mutation), "decidedBy": mutation.approver.username if mutation.approver else None,
                     "comment": mutation.decision_comment or None, "error": mutation.error or None},
        "impact": impact(mutation.assessment),
    }


def cancel_product_order(mutation, request=None) -> dict:
    """TMF622 ``CancelProductOrder``."""
    data = _common(mutation, request, "tmf622:cancel-detail")
    data.update({"cancellationReason": mutation.reason or None,
                 "requestedCancellationDate": iso(mutation.requested_date),
                 "effectiveCancellationDate": iso(mutation.applied_at), "@type": "CancelProductOrder"})
    return _drop_none(data)


def amend_product_order(mutation, request=None) -> dict:
    data = _common(mutation, request, "tmf622:amend-detail")
    data.update({"kind": mutation.kind, "reason": mutation.reason or None,
                 "replacementOrder": ({"id": mutation.replacement_order_id,
                                       "href": order_href(mutation.replacement_order_id, request)}
                                      if mutation.replacement_order_id else None),
                 "@type": "AmendProductOrder"})
    return _drop_none(data)


def preview(assessment, order_id: str, request=None) -> dict:
    """A dry run: what the request would do, nothing done."""
    return {"dryRun": True, "productOrder": {"id": order_id, "href": order_href(order_id, request)},
            "decision": decision(assessment), "impact": impact(assessment.as_dict())}
