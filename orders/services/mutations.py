"""Mutation requests: request, assess, decide, approve or reject, apply. The one door for changing an order
in flight (cancellation, correction, amendment, reschedule, supersession, manual completion).

``request_mutation`` classifies the request, assesses it against the order as it stands (the impact graph,
the execution point of what it touches, the checks the change touches, the price it changes), looks the
decision up in the policy matrix (``orders.policy``), and then refuses it, waits for a supervisor, or applies
it. With ``dry_run`` it does all of that and writes nothing: the impact preview. Every step is an event.

Stale and duplicate guards: the same idempotency key returns the same request (a different body is a
Conflict); a request made against an older order version is assessed as it would have been then and now,
and refused with 412 if the decision differs; an approval re-assesses at apply time and fails the request
(412) rather than applying a decision the order has outgrown. Approval: never by the requester.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from comapp.errors import ComError, Conflict, NotAllowed, PreconditionFailed, ValidationFailed
from orders import impact, policy
from orders.models import (
    OPEN_MUTATION_STATES,
    MutationKind,
    MutationRequest,
    MutationState,
    OrderEvent,
    OrderState,
    ProductOrder,
)

from . import aggregation, amendments, cancellation, manual_completion, submission
from .common import lock_order, record_event, touch
from .notifications import notify_order_event


@dataclass(frozen=True)
class MutationDraft:
    """A mutation as the API (or the admin) received it, in domain terms."""

    kind: str  # cancellation, supersession, or change (classified into correction, amendment or reschedule)
    item_ids: tuple[str, ...] = ()
    changes: dict = field(default_factory=dict)  # {"order": {...}, "items": {item_id: {...}}} (see amendments)
    reason_code: str = "CUSTOMER_REQUEST"
    reason: str = ""
    customer_consent_ref: str = ""
    expected_order_version: int | None = None
    idempotency_key: str | None = None
    fingerprint: str = ""
    requested_date: object = None
    replacement: object = None  # an OrderDraft, for a supersession


@dataclass
class Assessment:
    kind: str
    decision: str
    policy_rule: str
    reason: str
    compensation: bool
    execution_point: str
    impact: dict
    notes: list[str] = field(default_factory=list)

    @property
    def signature(self) -> tuple:
        """What must not change between the assessment a requester saw and the one applied."""
        outcomes = tuple(sorted((s["ref"], s.get("outcome") or s.get("change", ""))
                                for s in self.impact.get("services", [])))
        # the prices the approver saw: another change applied meanwhile must not change what this one costs
        prices = json.dumps(self.impact.get("prices") or {}, sort_keys=True, default=str)
        return self.decision, self.policy_rule, outcomes, prices

    def as_dict(self) -> dict:
        return {"kind": self.kind, "decision": self.decision, "policyRule": self.policy_rule, "reason": self.reason,
                "compensation": self.compensation, "approvalRequired": self.decision == "approval",
                "executionPoint": self.execution_point, "impact": self.impact, "notes": self.notes}


class _Replayed(Exception):
    """A twin request with the same idempotency key got the order lock first: answer with its request."""

    def __init__(self, mutation: MutationRequest):
        super().__init__("replayed")
        self.mutation = mutation


class DryRun(Exception):
    """Raised inside the transaction of a dry run, so that nothing it did is kept."""

    def __init__(self, assessment: Assessment):
        super().__init__("dry run")
        self.assessment = assessment


def _policy_state(order: ProductOrder, mutation: MutationRequest | None) -> str:
    """The order's state as the policy sees it: not the assessingCancellation this very request caused."""
    if mutation is not None and mutation.kind == MutationKind.CANCELLATION and \
            order.state == OrderState.ASSESSING_CANCELLATION and not mutation.items.exists():
        return order.cancellation_return_state or order.state
    return order.state


def assess(order: ProductOrder, kind: str, draft: MutationDraft, *, mutation=None, items=None) -> Assessment:
    """Work out what the mutation would do to the order as it stands now (writes nothing it keeps)."""
    if kind == MutationKind.CANCELLATION:
        impact = cancellation.impact_of(order, items)
        point, notes = impact.execution_point, impact.notes
        impact_dict = impact.as_dict()
    elif kind == MutationKind.MANUAL_COMPLETION:  # a fallout's service done by hand: manual_completion
        change = manual_completion.preview(order, draft)
        point, notes, impact_dict = change.execution_point, change.notes, change.impact
    else:
        change = amendments.preview(order, kind, draft)
        kind, point, notes, impact_dict = change.kind, change.execution_point, change.notes, change.impact
    row = policy.decide(kind, _policy_state(order, mutation), point)
    decision, reason = row.decision, row.reason
    if decision != "refuse" and any(n.startswith("REFUSE:") for n in notes):
        decision, reason = "refuse", "; ".join(n[7:] for n in notes if n.startswith("REFUSE:"))
    elif decision == "apply" and any(n.startswith("APPROVAL:") for n in notes):
        decision, reason = "approval", "; ".join(n[9:] for n in notes if n.startswith("APPROVAL:"))
    return Assessment(kind=kind, decision=decision, policy_rule=row.id, reason=reason, compensation=row.compensation,
                      execution_point=point, impact=impact_dict, notes=[n for n in notes if ":" not in n[:9]])


def _find_replay(order_id: str, draft: MutationDraft) -> MutationRequest | None:
    if not draft.idempotency_key:
        return None
    existing = MutationRequest.objects.filter(order_id=order_id, idempotency_key=draft.idempotency_key).first()
    if existing is not None and draft.fingerprint and existing.request_fingerprint != draft.fingerprint:
        raise Conflict(f"Idempotency-Key was already used for {existing.pk} with a different request body",
                       code="IDEMPOTENCY_CONFLICT")
    return existing


def request_mutation(*, order_id: str, draft: MutationDraft, actor: str, user=None,
                     dry_run: bool = False) -> tuple[MutationRequest | Assessment, bool]:
    """Record, assess and act on a mutation request; returns (request, created), or (assessment, False) for a
    dry run. Raises NotAllowed/ValidationFailed for what cannot be asked, PreconditionFailed (412) for a stale
    request whose decision changed, Conflict for a reused idempotency key."""
    replay = None if dry_run else _find_replay(order_id, draft)  # a dry run records nothing: nothing to replay
    if replay is not None:
        return replay, False
    try:
        with transaction.atomic():
            result = _request(order_id=order_id, draft=draft, actor=actor, user=user, dry_run=dry_run)
    except DryRun as preview:
        return preview.assessment, False
    except _Replayed as twin:
        return twin.mutation, False
    except IntegrityError as exc:
        replay = _find_replay(order_id, draft)
        if replay is not None:
            return replay, False
        if "one_open_cancellation_per_order" in str(exc):
            raise Conflict("A cancellation of this order is already open", code="CANCELLATION_OPEN") from exc
        raise
    result.refresh_from_db()
    return result, True


def _request(*, order_id, draft, actor, user, dry_run):
    order = lock_order(order_id)
    replay = None if dry_run else _find_replay(order_id, draft)  # its twin may have committed meanwhile
    if replay is not None:
        raise _Replayed(replay)
    kind = draft.kind
    if kind == MutationKind.CANCELLATION and draft.requested_date is not None and \
            timezone.localdate(draft.requested_date) > timezone.localdate():
        raise ValidationFailed("requestedCancellationDate is in the future: scheduled cancellation is not supported, "
                               "send the cancellation on the day")
    items = _target_items(order, draft)
    if kind == MutationKind.CANCELLATION and order.mutations.filter(kind=kind, state__in=OPEN_MUTATION_STATES).exists():
        raise Conflict(f"A cancellation of {order.pk} is already open", code="CANCELLATION_OPEN")
    assessment = assess(order, kind, draft, items=items)
    if draft.expected_order_version is not None and draft.expected_order_version != order.version:
        then = _assess_as_of(order, draft, items)
        if then is None or then.signature != assessment.signature:
            raise PreconditionFailed(
                f"Order {order.pk} is at version {order.version}, not {draft.expected_order_version}, and the "
                f"request would now be decided differently ({assessment.decision}: {assessment.reason}); "
                "look at the order again", current_version=order.version)
    if dry_run:
        raise DryRun(assessment)
    if assessment.kind == MutationKind.AMENDMENT and assessment.decision != "refuse" and \
            not draft.customer_consent_ref.strip():  # (a request refused anyway is recorded as refused)
        raise ValidationFailed("A commercial change (it changes what the customer pays) needs the customer's consent: "
                               "give its reference (customerConsentRef)")
    mutation = MutationRequest.objects.create(
        order=order, kind=assessment.kind, changes=_jsonable(draft.changes), requester=actor, requested_by=user,
        reason_code=draft.reason_code, reason=draft.reason[:500], customer_consent_ref=draft.customer_consent_ref,
        expected_order_version=draft.expected_order_version, idempotency_key=draft.idempotency_key,
        request_fingerprint=draft.fingerprint, requested_date=draft.requested_date,
    )
    mutation.items.set(items)
    record_event(order, OrderEvent.Type.MUTATION_REQUESTED, actor=actor, mutation=mutation,
                 message=f"{assessment.kind} requested ({draft.reason_code}): {draft.reason}"[:500])
    mutation.assess()
    _store_assessment(mutation, assessment, order)
    if assessment.decision == "refuse":
        mutation.refuse()
        mutation.decided_at = timezone.now()
        mutation.save()
        record_event(order, OrderEvent.Type.MUTATION_DECIDED, actor="system", mutation=mutation,
                     message=f"{mutation.pk} refused ({assessment.policy_rule}): {assessment.reason}")
        touch(order, reason=f"{mutation.pk} refused")
        return mutation
    if assessment.kind == MutationKind.CANCELLATION:
        cancellation.open_cancellation(order, mutation, cancellation.impact_of(order, items), actor=actor)
    if assessment.decision == "approval":
        mutation.await_approval()
        mutation.save()
        record_event(order, OrderEvent.Type.MUTATION_DECIDED, actor="system", mutation=mutation,
                     message=f"{mutation.pk} needs a supervisor's approval ({assessment.policy_rule}): "
                             f"{assessment.reason}")
        touch(order, reason=f"{mutation.pk} awaiting approval")
        if assessment.kind == MutationKind.CANCELLATION:
            notify_order_event(order, "ProductOrderStateChangeEvent")
        return mutation
    mutation.accept()
    mutation.decided_at = timezone.now()
    mutation.save()
    record_event(order, OrderEvent.Type.MUTATION_DECIDED, actor="system", mutation=mutation,
                 message=f"{mutation.pk} applies directly ({assessment.policy_rule}): {assessment.reason}")
    _apply(order, mutation, actor=actor, user=user)
    return mutation


def _target_items(order: ProductOrder, draft: MutationDraft) -> list:
    if not draft.item_ids:
        return []
    by_id = {i.item_id: i for i in order.items.all()}
    unknown = [i for i in draft.item_ids if i not in by_id]
    if unknown:
        raise NotAllowed(f"Order {order.pk} has no item {', '.join(unknown)}")
    return [by_id[i] for i in draft.item_ids]


def _store_assessment(mutation: MutationRequest, assessment: Assessment, order: ProductOrder) -> None:
    mutation.assessment = assessment.as_dict()
    mutation.decision = assessment.decision
    mutation.policy_rule = assessment.policy_rule
    mutation.assessed_order_version = order.version
    mutation.save()


def _assess_as_of(order: ProductOrder, draft: MutationDraft, items) -> Assessment | None:
    """The assessment the requester would have had at the version they saw (None if it cannot be told: that
    version is unknown, or the request is a change, which is only ever assessed on the order as it stands)."""
    past = impact.snapshot_at_version(order, draft.expected_order_version)
    if past is None or draft.kind != MutationKind.CANCELLATION:
        return None
    found = impact.cancellation_impact(past, [i.item_id for i in items] if items else None)
    row = policy.decide(draft.kind, past.state, found.execution_point)
    return Assessment(kind=draft.kind, decision=row.decision, policy_rule=row.id, reason=row.reason,
                      compensation=row.compensation, execution_point=found.execution_point, impact=found.as_dict())


def _apply(order: ProductOrder, mutation: MutationRequest, *, actor: str, user=None) -> None:
    mutation.start()
    mutation.save()
    try:
        with transaction.atomic():
            if mutation.kind == MutationKind.CANCELLATION:
                impact = cancellation.impact_of(order, list(mutation.items.all()) or None)
                cancellation.apply_cancellation(order, mutation, impact, actor=actor, user=user)
            elif mutation.kind == MutationKind.MANUAL_COMPLETION:
                manual_completion.apply(order, mutation, actor=actor, user=user)
            else:
                amendments.apply(order, mutation, actor=actor, user=user)
    except ComError as error:
        mutation.fail()
        mutation.error = error.message[:500]
        mutation.save()
        record_event(order, OrderEvent.Type.MUTATION_FAILED, actor="system", mutation=mutation,
                     message=f"{mutation.pk} could not be applied: {error.message}"[:500])
        if mutation.kind == MutationKind.CANCELLATION:
            cancellation.close_refused(order, mutation)
        touch(order, reason=f"{mutation.pk} failed")
        return
    touch(order, reason=f"{mutation.pk} applying")
    # what the change made ready goes now: services of a withdrawn service order, deletes undoing what was
    # built, services that waited for one completed by hand (nothing else would send them before the watchdog)
    submission.submit_ready_items(order, actor=actor)
    aggregation.refresh_states(order, actor=actor)
    if mutation.kind != MutationKind.CANCELLATION and mutation.state == MutationState.APPLYING:
        mutation.finish()
        mutation.applied_at = timezone.now()
        mutation.save()
    notify_order_event(order, "ProductOrderStateChangeEvent" if mutation.kind == MutationKind.CANCELLATION
                       else "ProductOrderAttributeValueChangeEvent")


@transaction.atomic
def approve_mutation(*, mutation_id: str, user, comment: str = "") -> MutationRequest:
    """A supervisor approves: the request is re-assessed now and applied, or failed (412) if it would now do
    something else than what was approved."""
    mutation = MutationRequest.objects.get(pk=mutation_id)
    order = lock_order(mutation.order_id)
    mutation = MutationRequest.objects.select_for_update().get(pk=mutation_id)
    _check_decider(mutation, user)
    now = assess(order, mutation.kind, _draft_of(mutation), mutation=mutation, items=list(mutation.items.all()))
    before = Assessment(kind=mutation.kind, decision=mutation.decision, policy_rule=mutation.policy_rule,
                        reason="", compensation=False, execution_point="", impact=mutation.assessment.get("impact", {}))
    mutation.approve()
    mutation.approver, mutation.decided_at, mutation.decision_comment = user, timezone.now(), comment[:500]
    actor = f"user:{user.username}"
    if now.signature != before.signature:
        mutation.save()
        mutation.fail()
        mutation.error = f"STALE: the order changed since it was assessed; now: {now.decision} ({now.reason})"[:500]
        mutation.assessment = {**mutation.assessment, "atApproval": now.as_dict()}
        mutation.save()
        record_event(order, OrderEvent.Type.MUTATION_FAILED, actor=actor, mutation=mutation, message=mutation.error)
        if mutation.kind == MutationKind.CANCELLATION:
            cancellation.close_refused(order, mutation)
        touch(order, reason=f"{mutation.pk} stale")
        return mutation
    mutation.save()
    record_event(order, OrderEvent.Type.MUTATION_DECIDED, actor=actor, mutation=mutation,
                 message=f"{mutation.pk} approved by {user.username}: {comment}"[:500])
    _apply(order, mutation, actor=actor, user=user)
    return mutation


@transaction.atomic
def reject_mutation(*, mutation_id: str, user, comment: str) -> MutationRequest:
    """A supervisor rejects: nothing changes, a cancellation returns the order where it was."""
    mutation = MutationRequest.objects.get(pk=mutation_id)
    order = lock_order(mutation.order_id)
    mutation = MutationRequest.objects.select_for_update().get(pk=mutation_id)
    _check_decider(mutation, user)
    if not comment:
        raise NotAllowed("Say why the request is rejected")
    mutation.reject()
    mutation.approver, mutation.decided_at, mutation.decision_comment = user, timezone.now(), comment[:500]
    mutation.save()
    if mutation.kind == MutationKind.CANCELLATION:
        cancellation.close_refused(order, mutation)
    record_event(order, OrderEvent.Type.MUTATION_DECIDED, actor=f"user:{user.username}", mutation=mutation,
                 message=f"{mutation.pk} rejected by {user.username}: {comment}"[:500])
    touch(order, reason=f"{mutation.pk} rejected")
    notify_order_event(order, "ProductOrderStateChangeEvent")
    return mutation


def _check_decider(mutation: MutationRequest, user) -> None:
    if mutation.state != MutationState.PENDING_APPROVAL:
        raise NotAllowed(f"{mutation.pk} is {mutation.state}: there is nothing to decide")
    if user is None or not user.has_perm("orders.approve_mutationrequest"):
        raise NotAllowed("Only a supervisor can approve or reject a change to an order")
    if mutation.requested_by_id is not None and mutation.requested_by_id == user.pk:
        raise NotAllowed("You requested this change: another supervisor must decide it (separation of duties)")


def _draft_of(mutation: MutationRequest) -> MutationDraft:
    return MutationDraft(kind=mutation.kind, item_ids=tuple(i.item_id for i in mutation.items.all()),
                         changes=mutation.changes, reason_code=mutation.reason_code, reason=mutation.reason)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
