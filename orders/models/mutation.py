r"""Order mutations: a change of mind applied to an order that already has a history, as a record of its own.

A mutation request is a business decision, not a row update: it is classified, assessed against what has
already happened (the impact graph, the execution point of every service it touches, the policy matrix),
approved when the policy says so, then applied; the order's past is never rewritten, only added to.

Mutation request (its own state machine)::

    requested --assess--> assessing --await_approval--> pendingApproval --approve--> approved
    assessing --accept--> approved          (the policy applies it directly)
    approved --start--> applying --finish--> applied      applying | approved --fail--> failed
    assessing --refuse--> rejected          pendingApproval --reject--> rejected
    requested | assessing | pendingApproval | approved --supersede--> superseded
                                            (overtaken: the order ended, or another request replaced it)

A manual completion (``manualCompletion``) records that a service stuck in fallout was done outside SOM, with
the agent's evidence; like every mutation it is a request, here always decided by a supervisor.

TMF622's ``cancelProductOrder`` task (acknowledged, inProgress, done, terminatedWithError) is this machine
seen from outside (``TMF_TASK_STATE``). A cancellation sent to SOM is a ``ServiceOrderCancellation`` (TMF641
``cancelServiceOrder``): accepted, inProgress, done or terminatedWithError, as SOM reports.
"""
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords


def new_mutation_id() -> str:
    return f"MR-{uuid.uuid4().hex[:12].upper()}"


class MutationKind(models.TextChoices):
    CANCELLATION = "cancellation", "cancellation"
    CORRECTION = "correction", "correction (non-commercial)"
    AMENDMENT = "amendment", "amendment (commercial)"
    RESCHEDULE = "reschedule", "reschedule"
    SUPERSESSION = "supersession", "supersession (replaced by a new order)"
    MANUAL_COMPLETION = "manualCompletion", "manual completion (done by hand, with evidence)"


class MutationState(models.TextChoices):
    REQUESTED = "requested", "requested"
    ASSESSING = "assessing", "assessing"
    PENDING_APPROVAL = "pendingApproval", "awaiting approval"
    APPROVED = "approved", "approved"
    APPLYING = "applying", "applying"
    APPLIED = "applied", "applied"
    REJECTED = "rejected", "rejected"
    FAILED = "failed", "failed"
    SUPERSEDED = "superseded", "superseded"


OPEN_MUTATION_STATES = [MutationState.REQUESTED, MutationState.ASSESSING, MutationState.PENDING_APPROVAL,
                        MutationState.APPROVED, MutationState.APPLYING]
# The request as TMF622's task resources (cancelProductOrder, amendProductOrder) show it.
TMF_TASK_STATE = {
    MutationState.REQUESTED: "acknowledged", MutationState.ASSESSING: "acknowledged",
    MutationState.PENDING_APPROVAL: "inProgress", MutationState.APPROVED: "inProgress",
    MutationState.APPLYING: "inProgress", MutationState.APPLIED: "done",
    MutationState.REJECTED: "terminatedWithError", MutationState.FAILED: "terminatedWithError",
    MutationState.SUPERSEDED: "terminatedWithError",
}


class MutationRequest(FSMModelMixin, models.Model):
    """A request to change an order in flight: what, by whom, why, what it would do, who decided, what happened."""

    id = models.CharField(primary_key=True, max_length=40, default=new_mutation_id, editable=False)
    order = models.ForeignKey("orders.ProductOrder", on_delete=models.PROTECT, related_name="mutations")
    kind = models.CharField(max_length=20, choices=MutationKind.choices)
    state = FSMField(default=MutationState.REQUESTED, choices=MutationState.choices, protected=True, db_index=True)
    items = models.ManyToManyField("orders.ProductOrderItem", blank=True, related_name="mutations",
                                   help_text="The items it targets; none: the order as a whole.")
    changes = models.JSONField(default=dict, blank=True, help_text="What is asked, in domain terms.")
    requester = models.CharField(max_length=120, help_text="channel:NAME or user:NAME")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="mutations_requested")
    reason_code = models.CharField(max_length=60)
    reason = models.CharField(max_length=500, blank=True)
    customer_consent_ref = models.CharField(max_length=120, blank=True,
                                            help_text="The customer's consent (a case, a call recording) when "
                                                      "commercial.")
    expected_order_version = models.PositiveIntegerField(null=True, blank=True,
                                                         help_text="The order version the requester saw.")
    assessed_order_version = models.PositiveIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    assessment = models.JSONField(default=dict, blank=True, help_text="The impact graph and the decision.")
    decision = models.CharField(max_length=20, blank=True, help_text="apply, approval or refuse")
    policy_rule = models.CharField(max_length=20, blank=True)
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="mutations_decided")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.CharField(max_length=500, blank=True)
    requested_date = models.DateTimeField(null=True, blank=True, help_text="When the requester wants it effective.")
    replacement_order = models.ForeignKey("orders.ProductOrder", on_delete=models.PROTECT, null=True, blank=True,
                                          related_name="replacing_mutation")
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        permissions = [("approve_mutationrequest", "Can approve or reject a change to an order (supervisor)")]
        constraints = [
            # two open cancellations of one order cannot exist, whatever the race
            models.UniqueConstraint(fields=["order"], condition=models.Q(kind="cancellation", state__in=[
                "requested", "assessing", "pendingApproval", "approved", "applying"]),
                name="one_open_cancellation_per_order"),
            models.UniqueConstraint(fields=["order", "idempotency_key"],
                                    condition=models.Q(idempotency_key__isnull=False),
                                    name="uniq_mutation_idempotency_key"),
        ]
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"{self.id} {self.kind} of {self.order_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_MUTATION_STATES

    @property
    def tmf_state(self) -> str:
        return TMF_TASK_STATE[self.state]

    @transition(field=state, source=MutationState.REQUESTED, target=MutationState.ASSESSING)
    def assess(self):
        """Its impact is being worked out."""

    @transition(field=state, source=MutationState.ASSESSING, target=MutationState.PENDING_APPROVAL)
    def await_approval(self):
        """The policy wants a supervisor's decision."""

    @transition(field=state, source=MutationState.ASSESSING, target=MutationState.APPROVED)
    def accept(self):
        """The policy lets it apply directly."""

    @transition(field=state, source=MutationState.PENDING_APPROVAL, target=MutationState.APPROVED)
    def approve(self):
        """A supervisor approved it."""

    @transition(field=state, source=MutationState.ASSESSING, target=MutationState.REJECTED)
    def refuse(self):
        """The policy refuses it."""

    @transition(field=state, source=MutationState.PENDING_APPROVAL, target=MutationState.REJECTED)
    def reject(self):
        """A supervisor rejected it."""

    @transition(field=state, source=MutationState.APPROVED, target=MutationState.APPLYING)
    def start(self):
        """Being carried out (downstream work may still be running)."""

    @transition(field=state, source=MutationState.APPLYING, target=MutationState.APPLIED)
    def finish(self):
        """Carried out."""

    @transition(field=state, source=[MutationState.APPROVED, MutationState.APPLYING], target=MutationState.FAILED)
    def fail(self):
        """Could not be carried out (or, re-assessed at apply time, it would now do something else)."""

    @transition(field=state, source=[MutationState.REQUESTED, MutationState.ASSESSING, MutationState.PENDING_APPROVAL,
                                     MutationState.APPROVED], target=MutationState.SUPERSEDED)
    def supersede(self):
        """Overtaken: the order ended, or another request replaced it."""


def new_cancellation_id() -> str:
    return f"SOC-{uuid.uuid4().hex[:12].upper()}"


class CancellationState(models.TextChoices):
    PLANNED = "planned", "planned (not yet sent)"
    ACCEPTED = "accepted", "accepted"
    IN_PROGRESS = "inProgress", "inProgress"
    DONE = "done", "done"
    TERMINATED_WITH_ERROR = "terminatedWithError", "terminatedWithError"


class ServiceOrderCancellation(FSMModelMixin, models.Model):
    """A TMF641 ``cancelServiceOrder`` COM sent to SOM for one service order, and what SOM made of it."""

    id = models.CharField(primary_key=True, max_length=40, default=new_cancellation_id, editable=False)
    service_order = models.ForeignKey("orders.ServiceOrder", on_delete=models.PROTECT, related_name="cancellations")
    mutation = models.ForeignKey(MutationRequest, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="service_order_cancellations")
    som_cancel_id = models.CharField(max_length=80, blank=True, db_index=True)
    state = FSMField(default=CancellationState.PLANNED, choices=CancellationState.choices, protected=True)
    reason = models.CharField(max_length=300, blank=True)
    error = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.id} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in (CancellationState.DONE, CancellationState.TERMINATED_WITH_ERROR)

    @transition(field=state, source=CancellationState.PLANNED, target=CancellationState.ACCEPTED)
    def accept(self):
        """SOM accepted the request (201)."""

    @transition(field=state, source=[CancellationState.PLANNED, CancellationState.ACCEPTED],
                target=CancellationState.IN_PROGRESS)
    def start(self):
        """SOM is cancelling."""

    @transition(field=state, source=[CancellationState.PLANNED, CancellationState.ACCEPTED,
                                     CancellationState.IN_PROGRESS], target=CancellationState.DONE)
    def complete(self):
        """SOM cancelled the service order."""

    @transition(field=state, source=[CancellationState.PLANNED, CancellationState.ACCEPTED,
                                     CancellationState.IN_PROGRESS], target=CancellationState.TERMINATED_WITH_ERROR)
    def refuse(self):
        """SOM could not cancel it (past a point of no return, already finished), or it could not be sent."""
