"""The order desk's commands: an allow-list, each a button that runs one service with the user and a reason.

A command names who may run it (permissions), when (``refusal``: why the state does not allow it, or None),
what it asks for (a form), and what it runs: one service call (``run``), or a mutation request (``draft``:
the desk shows its impact preview, a dry run, and asks for confirmation before requesting it for real). The
order and fallout pages show a button for each command the user may run in the state at hand, named as an
agent would say it; the views run only commands listed here (as django-oscar allow-lists order actions).
Guards here only decide which buttons to show: the services refuse on their own what the state does not allow.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from orders.models import OPEN_MUTATION_STATES, Fallout, MutationKind, OrderState, ProductOrder
from orders.services import holds, notes, repairs
from orders.services.mutations import MutationDraft

from . import forms

CHANGE_ORDER = "orders.change_productorder"
REPAIR = "orders.change_fallout"
REQUEST_CHANGE = "orders.add_mutationrequest"
APPROVE = "orders.approve_mutationrequest"


@dataclass(frozen=True)
class Command:
    name: str
    label: str  # the button, as an agent says it
    permissions: tuple[str, ...]
    form: type
    refusal: Callable[[object], str | None]
    run: Callable | None = None  # (obj, user, cleaned_data) -> what was done
    draft: Callable | None = None  # (obj, cleaned_data) -> MutationDraft: a mutation, previewed first
    after: Callable | None = None  # (obj, user, mutation, cleaned_data) -> what else was done (a mutation's sequel)
    explain: str = ""
    danger: bool = False

    @property
    def is_mutation(self) -> bool:
        return self.draft is not None

    def allowed_for(self, user) -> bool:
        return user.has_perms(self.permissions)

    def form_for(self, obj, data=None):
        factory = FORM_ARGUMENTS.get(self.form)
        return self.form(data, **(factory(obj) if factory else {}))


# --- guards: why the state does not allow a command (None: it does) ---------------------------------------

def _order_of(obj) -> ProductOrder:
    return obj.order if isinstance(obj, Fallout) else obj


def _check_hold(order: ProductOrder, verb: str) -> str | None:
    if order.state != OrderState.HELD:
        return f"The order is {order.state}: only a held order can be {verb}"
    if order.state_reason_code == "FALLOUT":
        return "The order is held by a fallout: repair the fallout (the hold lifts with it)"
    return None


def held_by_check(order: ProductOrder) -> str | None:
    return _check_hold(order, "released")


def rejectable(order: ProductOrder) -> str | None:
    if _check_hold(order, "rejected"):
        return _check_hold(order, "rejected")
    if any(True for _ in order.service_items.all()):
        return "Fulfilment has started: cancel the order instead"
    return None


def held(order: ProductOrder) -> str | None:
    return None if order.state == OrderState.HELD else f"The order is {order.state}: information is asked for only " \
                                                         "while it is held"


def changeable(order: ProductOrder) -> str | None:
    if order.is_terminal:
        return f"The order is {order.state}: change its products with a new order"
    if order.state in (OrderState.ASSESSING_CANCELLATION, OrderState.PENDING_CANCELLATION):
        return "A cancellation of this order is under way"
    return None


def cancellable(order: ProductOrder) -> str | None:
    if changeable(order):
        return changeable(order)
    if any(m.kind == MutationKind.CANCELLATION and m.state in OPEN_MUTATION_STATES for m in order.mutations.all()):
        return "A cancellation of this order is already open"
    return None


def always(obj) -> None:
    return None


def fallout_open(fallout: Fallout) -> str | None:
    return None if fallout.is_open else f"This fallout was resolved ({fallout.resolution})"


def fallout_of_service(fallout: Fallout) -> str | None:
    if fallout_open(fallout):
        return fallout_open(fallout)
    if fallout.service_order_item_id is None:
        return "This fallout is about the order as a whole, not one service"
    return None


def optional_service(fallout: Fallout) -> str | None:
    if fallout_of_service(fallout):
        return fallout_of_service(fallout)
    if fallout.service_order_item.mandatory:
        return f"{fallout.service_order_item.service_specification.code} is mandatory: the product cannot go " \
               "without it"
    return None


def fallout_items_cancellable(fallout: Fallout) -> str | None:
    return fallout_open(fallout) or cancellable(fallout.order)


# --- what each command runs -------------------------------------------------------------------------------

def _release(order, user, data) -> str:
    holds.release_hold(order=order, user=user, reason=data["reason"])
    return "Hold released: the order goes on"


def _reject(order, user, data) -> str:
    holds.reject_held(order=order, user=user, reason=data["reason"], reason_code=data["reason_code"])
    return "Order rejected: the channel is told"


def _request_information(order, user, data) -> str:
    holds.request_information(order=order, user=user, reason=data["reason"])
    return "Information requested: the channel is told what is needed"


def _recheck(order, user, data) -> str:
    outcome = holds.recheck_held(order=order, user=user, reason=data["reason"])
    return f"Checks run again: the order is {outcome}"


def _note(order, user, data) -> str:
    notes.add_note(order=order, user=user, text=data["text"])
    return "Note added"


def _retry(fallout, user, data) -> str:
    return "Retried: " + repairs.retry_fallout(fallout=fallout, user=user, reason=data["reason"])


def _skip(fallout, user, data) -> str:
    return "Skipped: " + repairs.skip_optional_service(fallout=fallout, user=user, reason=data["reason"])


def _fail(fallout, user, data) -> str:
    return "Given up: " + repairs.fail_fallout(fallout=fallout, user=user, reason=data["reason"])


def _draft(kind: str, *, items: Callable | None = None):
    """A mutation draft from the form: the item chosen, the items ticked, or (``items``) the object's own."""
    def make(obj, data) -> MutationDraft:
        if data.get("item"):
            item_ids = (data["item"],)
        elif data.get("items"):
            item_ids = tuple(data["items"])
        else:
            item_ids = items(obj) if items else ()
        return MutationDraft(kind=kind, item_ids=item_ids, changes=data.get("changes", {}),
                             reason_code=data.get("reason_code", "FALLOUT_REPAIR"), reason=data["reason"],
                             customer_consent_ref=data.get("customer_consent_ref", ""))
    return make


def _fallout_items(fallout: Fallout) -> tuple[str, ...]:
    return tuple(i.item_id for i in fallout.items.all())


def _manual_completion(fallout: Fallout, data) -> MutationDraft:
    return MutationDraft(kind=MutationKind.MANUAL_COMPLETION, item_ids=_fallout_items(fallout),
                         changes={"fallout": fallout.pk, "evidence": data["evidence"]}, reason_code="FALLOUT_REPAIR",
                         reason=data["reason"])


def _then_retry(fallout, user, mutation, data) -> str:
    """A correction of a fallout's data was applied: send the corrected service (the repair's second half)."""
    if mutation.state != "applied":
        return "the fallout stays open: retry it once the change is applied"
    return "Retried: " + repairs.retry_fallout(fallout=fallout, user=user,
                                               reason=f"resubmitted after {mutation.pk}: {data['reason']}")


ORDER_COMMANDS = {c.name: c for c in [
    Command("release", "Release the hold", (CHANGE_ORDER,), forms.ReasonForm, held_by_check, run=_release,
            explain="The order goes on: fulfilment starts (or waits for its requested start date)."),
    Command("recheck", "Run the checks again", (CHANGE_ORDER,), forms.ReasonForm, held_by_check, run=_recheck,
            explain="After the cause of the hold was dealt with (the credit limit raised, say)."),
    Command("request-information", "Ask for information", (CHANGE_ORDER,), forms.InformationForm, held,
            run=_request_information,
            explain="The channel receives TMF622's InformationRequired event with your question as a note."),
    Command("reject", "Reject the order", (CHANGE_ORDER,), forms.RejectForm, rejectable, run=_reject, danger=True,
            explain="The order ends rejected, with the reason code; the channel is told."),
    Command("note", "Add a note", (CHANGE_ORDER,), forms.NoteForm, always, run=_note),
    Command("change-item", "Change an item", (REQUEST_CHANGE,), forms.ItemChangeForm, changeable,
            draft=_draft("change"),
            explain="A characteristic, the quantity or the offering: a correction applies at once, a commercial "
                    "change (a different price) waits for a supervisor's approval."),
    Command("reschedule", "Change the appointment", (REQUEST_CHANGE,), forms.RescheduleForm, changeable,
            draft=_draft("change"), explain="A new appointment for an item, or new requested dates."),
    Command("correct-details", "Correct the contact or description", (REQUEST_CHANGE,), forms.DetailsForm,
            changeable, draft=_draft("change")),
    Command("cancel", "Request a cancellation", (REQUEST_CHANGE,), forms.CancellationForm, cancellable,
            draft=_draft(MutationKind.CANCELLATION), danger=True,
            explain="Of the whole order, or of some items (and the items that rely on them)."),
]}

FALLOUT_COMMANDS = {c.name: c for c in [
    Command("retry", "Retry now", (REPAIR,), forms.ReasonForm, fallout_open, run=_retry,
            explain="Send again what stopped, for every item the fallout holds."),
    Command("correct", "Correct a characteristic and resubmit", (REPAIR, REQUEST_CHANGE), forms.CorrectionForm,
            fallout_of_service, draft=_draft("change", items=_fallout_items), after=_then_retry,
            explain="A correction of the item (a mutation request), then the corrected service is sent again."),
    Command("skip", "Skip the optional service", (REPAIR,), forms.ReasonForm, optional_service, run=_skip,
            explain="Go on without it: the order may end partial."),
    Command("cancel-item", "Cancel the item", (REPAIR, REQUEST_CHANGE), forms.CancellationForm,
            fallout_items_cancellable, draft=_draft(MutationKind.CANCELLATION, items=_fallout_items), danger=True,
            explain="A cancellation request of the items the fallout holds (and those relying on them)."),
    Command("complete-by-hand", "Mark completed by hand", (REPAIR, REQUEST_CHANGE), forms.EvidenceForm,
            fallout_of_service, draft=_manual_completion,
            explain="The work was done outside SOM: with your evidence, a supervisor approves recording it done."),
    Command("fail", "Give up on the item", (REPAIR,), forms.ReasonForm, fallout_open, run=_fail, danger=True,
            explain="What was built for the items is undone, then they fail; the order ends as its other items "
                    "allow."),
]}
# The repair names the fallout classes call for (orders.services.fallouts.REPAIRS_OF) -> commands.
REPAIR_COMMANDS = {"retry": "retry", "correct": "correct", "skip": "skip", "cancelItem": "cancel-item",
                   "completeByHand": "complete-by-hand", "fail": "fail"}

FORM_ARGUMENTS = {
    forms.CancellationForm: lambda obj: {"order": _order_of(obj), "fixed_items": _fallout_items(obj)}
    if isinstance(obj, Fallout) else {"order": obj},
    forms.ItemChangeForm: lambda obj: {"order": obj},
    forms.CorrectionForm: lambda fallout: {"order": fallout.order, "items": list(fallout.items.all())},
    forms.RescheduleForm: lambda obj: {"order": obj},
    forms.DetailsForm: lambda obj: {"order": obj},
}


def available(commands: dict[str, Command], obj, user) -> list[Command]:
    """The commands the user may run on this object in its state: the buttons to show."""
    return [c for c in commands.values() if c.allowed_for(user) and c.refusal(obj) is None]

