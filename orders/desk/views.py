"""The order desk's screens beyond the changelists: the order page, the fallout page and its group view, a
command's form (with the impact preview of a mutation), the change request page with its decision, the policy.

Mounted by ``orders.admin`` (``get_urls`` + ``admin_site.admin_view``): every screen needs a logged-in staff
user and the view permission of what it shows; every command its own permissions (403 without them). A state
that does not allow a command is a message on the page, never an error page. Reads come from selectors;
every write is one service call, with the user.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.http import url_has_allowed_host_and_scheme

from comapp.errors import ComError, PreconditionFailed, ValidationFailed
from orders import policy, selectors
from orders.models import FalloutCategory, MutationKind, MutationState
from orders.services import fallouts as fallout_classes
from orders.services import mutations, repairs
from orders.services.common import actor_of

from .commands import APPROVE, FALLOUT_COMMANDS, ORDER_COMMANDS, REPAIR, REPAIR_COMMANDS, available
from .forms import DecisionForm, GroupRetryForm
from .paging import BoundedPaginator

TIMELINE_VIEWS = ("all", "events", "history")


def _page(request, model_admin, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(request, template, {
        **model_admin.admin_site.each_context(request), "opts": model_admin.opts, "title": title, **context})


def _require(request, *permissions: str) -> None:
    if not request.user.has_perms(permissions):
        raise PermissionDenied


def order_url(order_id: str) -> str:
    return reverse("admin:orders_productorder_change", args=[order_id])


def fallout_url(fallout_id: int) -> str:
    return reverse("admin:orders_fallout_change", args=[fallout_id])


def mutation_url(mutation_id: str) -> str:
    return reverse("admin:orders_mutationrequest_change", args=[mutation_id])


# --- the order page ---------------------------------------------------------------------------------------

def decomposition_tree(order) -> list[dict]:
    """Product items -> the service order items serving them (every plan version; superseded rows kept),
    a compensation under what it undoes."""
    rows = list(order.service_items.all())
    undoing = {}
    for row in rows:
        if row.compensates_id:
            undoing.setdefault(row.compensates_id, []).append(row)
    tree = []
    for item in order.items.all():
        serving = [r for r in rows if not r.compensates_id and any(p.pk == item.pk for p in r.product_items.all())]
        tree.append({"item": item, "services": [
            {"row": r, "shared": len(r.product_items.all()) > 1, "compensations": undoing.get(r.pk, [])}
            for r in serving]})
    return tree


def order_page(request, model_admin, order_id: str) -> TemplateResponse:
    order = selectors.order_page(order_id)
    if order is None:
        raise Http404(f"No product order {order_id}")
    if not model_admin.has_view_permission(request, order):
        raise PermissionDenied
    show = request.GET.get("timeline", "all")
    show = show if show in TIMELINE_VIEWS else "all"
    timeline, truncated = selectors.order_timeline(order, show=show)
    open_fallouts = [f for f in order.fallouts.all() if f.is_open]
    return _page(request, model_admin, "admin/orders/desk/order.html", f"Order {order.pk}",
                 order=order, original=order, wait=selectors.waiting_on(order),
                 since=selectors.waiting_since(order), commands=available(ORDER_COMMANDS, order, request.user),
                 tree=decomposition_tree(order), plans=list(order.plans.all()), check_runs=list(order.check_runs.all()),
                 hold_results=selectors.latest_hold_results(order) if order.state == "held" else [],
                 fallouts=[_fallout_card(f, request.user) for f in order.fallouts.all()],
                 open_fallouts=len(open_fallouts), mutations=list(order.mutations.all()),
                 timeline=timeline, timeline_truncated=truncated, timeline_show=show,
                 timeline_views=TIMELINE_VIEWS, customer=customer_of(order))


def customer_of(order) -> dict:
    party = next((p for p in order.related_parties or [] if p.get("role") == "customer"), {})
    return {"id": order.customer_id, "name": party.get("name", "")}


def _fallout_card(fallout, user) -> dict:
    """A fallout with its class explained and the repairs the user may run, the one its class calls for first."""
    repairs_ = []
    if fallout.is_open:
        for name in fallout_classes.repairs_for(fallout):
            command = FALLOUT_COMMANDS[REPAIR_COMMANDS[name]]
            if command.allowed_for(user) and command.refusal(fallout) is None:
                repairs_.append(command)
    return {"fallout": fallout, "explained": fallout_classes.CLASS_EXPLAINED.get(fallout.category, ""),
            "repairs": repairs_, "proposed": repairs_[0] if repairs_ else None}


# --- a command: its form, the impact preview of a mutation, the service call ------------------------------

def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def order_command(request, model_admin, order_id: str, name: str):
    order = selectors.order_page(order_id)
    if order is None:
        raise Http404(f"No product order {order_id}")
    return _command(request, model_admin, order, order, ORDER_COMMANDS, name, back=order_url(order.pk))


def fallout_command(request, model_admin, fallout_id: int, name: str):
    fallout = selectors.fallout_queue().filter(pk=fallout_id).first()
    if fallout is None:
        raise Http404(f"No fallout {fallout_id}")
    return _command(request, model_admin, fallout, fallout.order, FALLOUT_COMMANDS, name,
                    back=fallout_url(fallout.pk))


def _command(request, model_admin, obj, order, commands, name, *, back):
    command = commands.get(name)
    if command is None:
        raise Http404(f"No command {name}")
    if not command.allowed_for(request.user):
        raise PermissionDenied
    back = _next_url(request, back)
    refusal = command.refusal(obj)
    if refusal:
        messages.error(request, f"{command.label}: {refusal}")
        return HttpResponseRedirect(back)
    preview = None
    form = command.form_for(obj, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            if command.is_mutation:
                outcome = _mutation_step(request, command, obj, order, form)
                if outcome is None:
                    return HttpResponseRedirect(back)
                preview = outcome
            else:
                messages.success(request, command.run(obj, request.user, form.cleaned_data))
                return HttpResponseRedirect(back)
        except ValidationFailed as error:
            form.add_error(None, error.message)
        except ComError as error:
            messages.error(request, f"{command.label}: {error.message}")
            return HttpResponseRedirect(back)
    return _page(request, model_admin, "admin/orders/desk/command.html", f"{command.label}: {obj}",
                 command=command, target=obj, order=order, form=form, preview=preview, back=back,
                 seen_version=order.version)


def _mutation_step(request, command, obj, order, form) -> dict | None:
    """Preview the mutation (a dry run), or request it once the agent confirms what the preview showed.
    Returns the preview to show, or None once requested (the outcome is a message)."""
    draft = command.draft(obj, form.cleaned_data)
    seen = request.POST.get("seen_version", "")
    key = request.POST.get("request_key", "")
    user = request.user
    if "_confirm" in request.POST and seen.isdigit() and re.fullmatch(r"[0-9a-f]{32}", key):
        try:
            # the key of the preview: a second click on Confirm returns the request the first one made
            mutation, _ = mutations.request_mutation(
                order_id=order.pk, draft=replace(draft, expected_order_version=int(seen),
                                                 idempotency_key=f"desk:{key}"), actor=actor_of(user), user=user)
        except PreconditionFailed as error:
            messages.warning(request, f"{error.message}. Here is the impact now: confirm again if it still stands.")
        else:
            _report_mutation(request, mutation)
            if command.after is not None and mutation.state == MutationState.APPLIED:
                try:
                    messages.success(request, command.after(obj, user, mutation, form.cleaned_data))
                except ComError as error:
                    messages.error(request, f"{mutation.pk} was applied, but: {error.message}")
            return None
    assessment, _ = mutations.request_mutation(order_id=order.pk, draft=draft, actor=actor_of(user), user=user,
                                               dry_run=True)
    order.refresh_from_db(fields=["version"])
    return {"assessment": assessment.as_dict(), "version": order.version, "key": uuid.uuid4().hex}


def _report_mutation(request, mutation) -> None:
    reason = (mutation.assessment or {}).get("reason", "")
    kind = mutation.get_kind_display()
    if mutation.state == MutationState.PENDING_APPROVAL:
        messages.success(request, f"{mutation.pk} ({kind}) waits for a supervisor's approval: {reason}")
    elif mutation.state in (MutationState.APPLIED, MutationState.APPLYING):
        done = "applied" if mutation.state == MutationState.APPLIED else "being carried out"
        messages.success(request, f"{mutation.pk} ({kind}) {done}")
    else:
        messages.error(request, f"{mutation.pk} ({kind}) {mutation.state}: {mutation.error or reason}")


# --- fallouts: one, and the groups by root cause ----------------------------------------------------------

def fallout_page(request, model_admin, fallout_id: int) -> TemplateResponse:
    fallout = selectors.fallout_queue().filter(pk=fallout_id).first()
    if fallout is None:
        raise Http404(f"No fallout {fallout_id}")
    if not model_admin.has_view_permission(request, fallout):
        raise PermissionDenied
    same_cause = selectors.open_fallouts_of_root_cause(fallout.root_cause).exclude(pk=fallout.pk)
    return _page(request, model_admin, "admin/orders/desk/fallout.html", f"Fallout {fallout.pk}",
                 fallout=fallout, original=fallout, card=_fallout_card(fallout, request.user),
                 order=fallout.order, context_json=json.dumps(fallout.context, indent=2, default=str),
                 same_cause=same_cause[:20], same_cause_more=same_cause[20:21].exists())


def fallout_groups(request, model_admin) -> TemplateResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    paginator = BoundedPaginator(selectors.fallout_groups(), 50)
    page = paginator.get_page(request.GET.get("p"))
    may_repair = request.user.has_perm(REPAIR)
    groups = []
    for group in page.object_list:
        proposed = fallout_classes.REPAIRS_OF.get(group["category"], ("retry",))[0]
        groups.append({**group, "proposed": FALLOUT_COMMANDS[REPAIR_COMMANDS[proposed]].label,
                       "category_label": FalloutCategory(group["category"]).label,
                       "explained": fallout_classes.CLASS_EXPLAINED.get(group["category"], ""),
                       "retry_all": may_repair and group["category"] in repairs.GROUP_SAFE,
                       "form": GroupRetryForm(initial={"root_cause": group["root_cause"]})})
    return _page(request, model_admin, "admin/orders/desk/fallout_groups.html", "Fallouts grouped by root cause",
                 groups=groups, page=page, paginator=paginator, limit=repairs.GROUP_REPAIR_LIMIT)


def fallout_group_retry(request, model_admin):
    _require(request, REPAIR)
    back = reverse("admin:orders_fallout_groups")
    if request.method != "POST":
        return HttpResponseRedirect(back)
    form = GroupRetryForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the group is retried: " + "; ".join(
            e for errors in form.errors.values() for e in errors))
        return HttpResponseRedirect(back)
    try:
        outcomes = repairs.retry_fallout_group(root_cause=form.cleaned_data["root_cause"], user=request.user,
                                               reason=form.cleaned_data["reason"])
    except ComError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(back)
    done = [o for o in outcomes if o[2]]
    messages.success(request, f"Retried {len(done)} of {len(outcomes)} fallout(s) of "
                              f"{form.cleaned_data['root_cause']}, each on its own")
    for fallout_id, message, ok in outcomes:
        if not ok:
            messages.error(request, f"Fallout {fallout_id}: {message}")
    return HttpResponseRedirect(back)


# --- change requests: the page, the decision, the policy --------------------------------------------------

def side_by_side(mutation) -> list[tuple[str, str, str]]:
    """(what, as it is now, as requested) for each thing the request changes."""
    order = mutation.order
    items = {i.item_id: i for i in order.items.all()}
    changes = mutation.changes or {}
    rows = []
    if mutation.kind in (MutationKind.CANCELLATION, MutationKind.SUPERSESSION):
        targets = [i.item_id for i in mutation.items.all()]
        if not targets:
            rows.append(("Order", order.state, "cancelled" if mutation.kind == MutationKind.CANCELLATION
                         else "replaced by a new order, then cancelled"))
        for item_id in targets:
            rows.append((f"Item {item_id}", items[item_id].state if item_id in items else "-", "cancelled"))
        return rows
    if mutation.kind == MutationKind.MANUAL_COMPLETION:
        impact = (mutation.assessment or {}).get("impact", {})
        for service in impact.get("services", []):
            rows.append((f"Service {service['ref']} {service['service']}", service.get("state", ""),
                         "completed (by hand)"))
        rows.append(("Evidence", "", changes.get("evidence", "")))
        return rows
    for name, value in (changes.get("order") or {}).items():
        rows.append((f"Order {name.replace('_', ' ')}", _text(getattr(order, name, "")), _text(value)))
    for item_id, change in (changes.get("items") or {}).items():
        item = items.get(item_id)
        for name, value in (change.get("characteristics") or {}).items():
            rows.append((f"Item {item_id} {name}", _text(item.characteristics.get(name) if item else ""), _text(value)))
        if "quantity" in change:
            rows.append((f"Item {item_id} quantity", _text(item.quantity if item else ""), _text(change["quantity"])))
        if "offering_id" in change:
            rows.append((f"Item {item_id} offering", item.product_offering.offering_id if item else "",
                         change["offering_id"]))
        for name in ("place", "appointment"):
            if name in change:
                rows.append((f"Item {item_id} {name}", _text(getattr(item, name, "") if item else ""),
                             _text(change[name])))
    return rows


def _text(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    return "-" if value in (None, "") else str(value)


def decision_refusal(mutation, user) -> tuple[str, str] | None:
    """Why this user cannot decide this request, as (code, text); None: they can. Shown instead of the buttons
    (the service refuses anyway)."""
    if mutation.state != MutationState.PENDING_APPROVAL:
        return "decided", f"{mutation.pk} is {mutation.state}: there is nothing to decide"
    if not user.has_perm(APPROVE):
        return "not-supervisor", "Only a supervisor can approve or reject a change to an order"
    if mutation.requested_by_id is not None and mutation.requested_by_id == user.pk:
        return "own-request", "You requested this change: another supervisor must decide it (separation of duties)"
    return None


def mutation_page(request, model_admin, mutation_id: str) -> TemplateResponse:
    mutation = selectors.mutation_queue().filter(pk=mutation_id).first()
    if mutation is None:
        raise Http404(f"No change request {mutation_id}")
    if not model_admin.has_view_permission(request, mutation):
        raise PermissionDenied
    return _page(request, model_admin, "admin/orders/desk/mutation.html",
                 f"{capfirst(mutation.get_kind_display())} {mutation.pk}", mutation=mutation, original=mutation, order=mutation.order,
                 rows=side_by_side(mutation), assessment=mutation.assessment or {},
                 refusal=decision_refusal(mutation, request.user), form=DecisionForm(),
                 events=list(mutation.events.order_by("id")))


def mutation_decide(request, model_admin, mutation_id: str):
    _require(request, APPROVE)
    back = mutation_url(mutation_id)
    if request.method != "POST":
        return HttpResponseRedirect(back)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The comment is at most 500 characters")
        return HttpResponseRedirect(back)
    comment = form.cleaned_data["comment"]
    try:
        if "_approve" in request.POST:
            mutation = mutations.approve_mutation(mutation_id=mutation_id, user=request.user, comment=comment)
            if mutation.state == MutationState.FAILED:
                messages.error(request, f"{mutation.pk} approved but not applied: {mutation.error}")
            else:
                messages.success(request, f"{mutation.pk} approved: {mutation.state}")
        elif "_reject" in request.POST:
            mutation = mutations.reject_mutation(mutation_id=mutation_id, user=request.user, comment=comment)
            messages.success(request, f"{mutation.pk} rejected")
        else:
            messages.error(request, "Approve or reject?")
    except ComError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(back)


def policy_page(request, model_admin) -> TemplateResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    data = json.loads(policy.POLICY_FILE.read_text())
    return _page(request, model_admin, "admin/orders/desk/policy.html", "Mutation policy",
                 rows=policy.rows(), description=data.get("description", ""), source=policy.POLICY_FILE.name)
