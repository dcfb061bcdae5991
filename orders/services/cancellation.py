"""Cancelling an order, or some of its items, once the mutation deciding it is approved.

What happens to each service comes from the impact graph (``orders.impact``), computed on the state at
apply time: a service never sent is cancelled in COM; one sent and before its point of no return is
cancelled at SOM (TMF641 ``cancelServiceOrder``, one per service order whose every live service goes); one
past its point of no return, or built, is undone by a delete (a return process, a termination) once it is
built. Every cancelled item is marked compensating, so a service that completes after all (SOM could not
cancel it: it raced the cancellation) is undone too. Items end ``cancelled`` when nothing of theirs is left
running; a completed item of a cancelled order keeps its state, its product is terminated and its billing
deactivated. Callers hold the order lock inside a transaction.
"""
from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from inventory import services as inventory
from orders import impact
from orders.integrations import som as som_api
from orders.integrations import tmf641
from orders.models import (
    LIVE_SOM_STATES,
    BillingIntent,
    CancellationState,
    Fallout,
    ItemAction,
    ItemState,
    MutationKind,
    MutationRequest,
    MutationState,
    OrderEvent,
    OrderState,
    OutboxMessage,
    ProductOrder,
    ServiceOrder,
    ServiceOrderCancellation,
    SomState,
)

from . import failure, fallouts, outbox
from .common import record_event, save_with_reason
from .completion import item_prices


def impact_of(order: ProductOrder, items=None):
    """The impact graph of cancelling these items (none: the whole order) now."""
    return impact.cancellation_impact(impact.snapshot(order), [i.item_id for i in items] if items else None)


_CANCELLABLE_ITEM = (ItemState.ACKNOWLEDGED, ItemState.PENDING, ItemState.HELD, ItemState.IN_PROGRESS)


def affected_items(order: ProductOrder, impact) -> list:
    ids = {row["id"] for row in impact.items}
    return [i for i in order.items.all() if i.item_id in ids]


def open_cancellation(order: ProductOrder, mutation: MutationRequest, impact, *, actor: str) -> None:
    """The request is being assessed: the order (whole) or the items say so, and remember where they were."""
    if not mutation.items.exists():
        order.cancellation_return_state = order.state
        order.assess_cancellation()
        save_with_reason(order, f"cancellation {mutation.pk} requested")
        return  # its items go on until the cancellation is accepted
    for item in affected_items(order, impact):
        if item.state in _CANCELLABLE_ITEM:
            item.cancellation_return_state = item.state
            item.assess_cancellation()
            save_with_reason(item, f"cancellation {mutation.pk} requested")


def close_refused(order: ProductOrder, mutation: MutationRequest) -> None:
    """A refused (rejected, stale, failed) cancellation: back where they were, then the states recomputed (an
    item that fell out, or finished, while the cancellation was assessed decides where the order is now)."""
    from .aggregation import refresh_states  # aggregation calls this module's steps

    if order.state == OrderState.ASSESSING_CANCELLATION:
        order.refuse_cancellation(order.cancellation_return_state or OrderState.IN_PROGRESS)
        save_with_reason(order, f"cancellation {mutation.pk} refused")
    for item in order.items.filter(state=ItemState.ASSESSING_CANCELLATION):
        item.refuse_cancellation(item.cancellation_return_state or ItemState.IN_PROGRESS)
        save_with_reason(item, f"cancellation {mutation.pk} refused")
    refresh_states(order, actor="system")


def _request_at_som(service_order: ServiceOrder, mutation: MutationRequest, *, actor: str) -> ServiceOrderCancellation:
    existing = service_order.cancellations.exclude(state=CancellationState.TERMINATED_WITH_ERROR).first()
    if existing is not None:
        return existing
    reason = f"{mutation.reason_code}: {mutation.reason}" if mutation else "replaced by a revised plan"
    cancellation = ServiceOrderCancellation.objects.create(service_order=service_order, mutation=mutation,
                                                           reason=reason[:300])
    outbox.enqueue(kind=OutboxMessage.Kind.CANCEL_SERVICE_ORDER, dedup_key=f"cancel:{cancellation.pk}",
                   url=som_api.endpoint(service_order.som).url + "/cancelServiceOrder",
                   payload=tmf641.cancel_request(service_order, cancellation.reason), order=service_order.order,
                   cancellation=cancellation)
    record_event(service_order.order, OrderEvent.Type.CANCELLATION_SENT, actor=actor, mutation=mutation,
                 message=f"cancelServiceOrder for {service_order.external_id} ({service_order.som_order_id})")
    return cancellation


def withdraw(service_order: ServiceOrder, *, reason: str) -> bool:
    """Stop a service order still in COM's outbox from being sent; False if it may have reached SOM: a worker
    is sending it right now, or an earlier attempt got through to it (a POST that timed out may have created it
    at SOM; one refused a connection did not).
    Such a one goes on: once SOM has it, it is cancelled there or what it builds is undone.

    The service order is taken back whole (SOM never sees it): every service still planned in it is unsent
    again (detached, its attempt given back), to be cancelled by the caller or sent anew in a new service order
    (``submission.submit_ready_items``; never left planned in a rejected service order, which nothing sends).
    """
    now = timezone.now()
    message = (OutboxMessage.objects.select_for_update(skip_locked=True)
               .filter(service_order=service_order, status=OutboxMessage.Status.PENDING)
               .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)).first())
    if message is None:
        return service_order.state == SomState.REJECTED
    # never reached SOM: no attempt made, or each one failed to connect (SOM down); a timeout, an answer or a
    # worker lost while sending may have created it there (``may_have_reached``, kept across a resend)
    if message.may_have_reached:
        return False
    message.status = OutboxMessage.Status.DEAD
    message.last_error = f"withdrawn before sending: cancelled ({reason})"
    message.save(update_fields=["status", "last_error"])
    service_order.reject()
    service_order.error = {"code": "WITHDRAWN", "reason": reason}
    save_with_reason(service_order, f"withdrawn: {reason}")
    for row in service_order.items.filter(state=SomState.PLANNED):
        row.service_order, row.attempts = None, max(0, row.attempts - 1)
        save_with_reason(row, f"{service_order.external_id} withdrawn before sending: {reason}")
    return True


def cancel_if_sent_too_late(service_order: ServiceOrder, *, actor: str) -> ServiceOrderCancellation | None:
    """SOM accepted a service order whose every service was cancelled, or replaced by a revised plan, while it
    was being sent (too late to withdraw): ask SOM to cancel it now, before it goes past a point of no return.
    Never an undo (a delete sent to compensate what a cancellation could not stop)."""
    live = list(service_order.items.filter(state__in=LIVE_SOM_STATES).prefetch_related("product_items"))
    if not live or not all(s.compensates_id is None and (s.superseded_by_id is not None or all(
            pi.state == ItemState.PENDING_CANCELLATION for pi in s.product_items.all())) for s in live):
        return None
    mutation = service_order.order.mutations.filter(state=MutationState.APPLYING).order_by("-created_at").first()
    return _request_at_som(service_order, mutation, actor=actor)


def request_at_som_for(service, mutation, *, actor: str):
    """Ask SOM to cancel a service's service order, if every live service of that order is going (SOM cancels
    whole service orders only); otherwise it runs on and what it builds is replaced or undone afterwards."""
    service_order = service.service_order
    if service_order is None or service_order.state == SomState.PLANNED:
        return None
    live = service_order.items.filter(state__in=LIVE_SOM_STATES)
    if any(s.superseded_by_id is None and not _being_cancelled(s) for s in live):
        return None
    return _request_at_som(service_order, mutation, actor=actor)


def _being_cancelled(service) -> bool:
    return all(pi.state in (ItemState.ASSESSING_CANCELLATION, ItemState.PENDING_CANCELLATION)
               for pi in service.product_items.all())


def apply_cancellation(order: ProductOrder, mutation: MutationRequest, impact, *, actor: str, user=None) -> None:
    """Carry out an approved cancellation as the impact graph (computed now) says."""
    whole = not mutation.items.exists()
    if whole:
        order.accept_cancellation()
        save_with_reason(order, f"cancellation {mutation.pk} accepted")
    items = affected_items(order, impact)
    now = timezone.now()
    for item in items:
        if item.state == ItemState.ASSESSING_CANCELLATION:
            item.accept_cancellation()
        elif item.state in _CANCELLABLE_ITEM:
            item.assess_cancellation()
            item.accept_cancellation()
        if item.state == ItemState.PENDING_CANCELLATION or (whole and item.state == ItemState.COMPLETED):
            item.compensation_started_at = item.compensation_started_at or now
            save_with_reason(item, f"cancellation {mutation.pk}: being undone")
        for fallout in Fallout.objects.filter(items=item, resolved_at__isnull=True):
            fallouts.close_fallout(fallout, resolution="cancelled", user=user, actor=actor,
                                   note=f"the item is cancelled ({mutation.pk})")
    by_ref = {s.item_ref: s for s in order.service_items.filter(superseded_by__isnull=True, compensates__isnull=True)}
    cancelled_refs = {row.ref for row in impact.services if row.outcome in ("cancelLocally", "cancelAtSom")}
    for row in impact.services:
        service = by_ref.get(row.ref)
        if service is None:
            continue
        if row.outcome == "cancelLocally" and service.state == SomState.PLANNED:
            if service.service_order_id and not withdraw(service.service_order, reason=mutation.pk):
                continue  # being sent this instant: it will reach SOM, and be undone once built
            service.cancel()
            save_with_reason(service, f"cancelled before reaching SOM ({mutation.pk})")
        elif row.outcome == "cancelAtSom" and service.service_order_id:
            live = service.service_order.items.filter(state__in=LIVE_SOM_STATES)
            if all(s.item_ref in cancelled_refs for s in live):
                _request_at_som(service.service_order, mutation, actor=actor)
            # else: SOM cancels whole service orders only: this one runs on, and is undone once built
    for item in items:
        failure.compensate_item(order, item, actor=actor)  # deletes for what is built; planned ones cancelled
    record_event(order, OrderEvent.Type.MUTATION_APPLIED, actor=actor, mutation=mutation,
                 message=f"Cancelling {'the order' if whole else 'item(s) ' + ', '.join(i.item_id for i in items)}",
                 payload={"services": [{"ref": s.ref, "outcome": s.outcome} for s in impact.services]})


# --- what SOM says of a cancelServiceOrder ---------------------------------------------------------------

def cancellation_accepted(*, cancellation_id: str, response: dict) -> None:
    cancellation = ServiceOrderCancellation.objects.select_for_update().get(pk=cancellation_id)
    if not cancellation.som_cancel_id and isinstance(response, dict) and response.get("id"):
        cancellation.som_cancel_id = str(response["id"])[:80]
    if cancellation.state == CancellationState.PLANNED:
        cancellation.accept()
    cancellation.save()


def cancellation_ended(*, cancellation_id: str, state: str, errors=(), actor: str = "som") -> None:
    """SOM finished (done) or refused (terminatedWithError) a cancellation; refused: the services run on and
    are undone once built (their items are compensating)."""
    cancellation = ServiceOrderCancellation.objects.select_for_update().get(pk=cancellation_id)
    if cancellation.is_terminal:
        return
    if state == CancellationState.IN_PROGRESS:
        if cancellation.state != CancellationState.IN_PROGRESS:
            cancellation.start()
            cancellation.save()
        return
    if state == CancellationState.DONE:
        cancellation.complete()
    else:
        cancellation.refuse()
        cancellation.error = {"errorMessage": list(errors)} if errors else {"reason": state}
    cancellation.completed_at = timezone.now()
    cancellation.save()
    order = cancellation.service_order.order
    outcome = "cancelled it" if state == CancellationState.DONE else \
        "could not cancel it: what it builds will be undone once built"
    record_event(order, OrderEvent.Type.SERVICE_CANCELLED, actor=actor, mutation=cancellation.mutation,
                 message=f"SOM {outcome} ({cancellation.service_order.external_id})", payload=cancellation.error)


def is_expected_cancellation(service) -> bool:
    """Did COM ask for this service to be cancelled (so SOM reporting it cancelled is no surprise)?"""
    if service.service_order_id and service.service_order.cancellations.exists():
        return True
    return any(pi.state in (ItemState.PENDING_CANCELLATION, ItemState.CANCELLED) or pi.compensation_started_at
               for pi in service.product_items.all())


# --- steps of aggregation ----------------------------------------------------------------------------------

_CAUSES = (MutationKind.CANCELLATION, MutationKind.SUPERSESSION)


def _causes(order: ProductOrder) -> list[tuple[MutationRequest, set[int]]]:
    """The cancellations (and supersessions) being applied or applied, latest first, each with the pks of the
    items it covers: the whole order, or its targets and the items that rely on them. A refused, rejected or
    failed request covers nothing."""
    found = list(order.mutations.filter(kind__in=_CAUSES, state__in=[MutationState.APPLYING, MutationState.APPLIED])
                 .prefetch_related("items").order_by("-created_at"))
    if not found:
        return []
    all_items = {i.pk for i in order.items.all()}
    relations = impact.relations_of(order)
    return [(m, impact.relying_items(relations, {i.pk for i in m.items.all()}) if m.items.all() else all_items)
            for m in found]


def settle_cancelled_items(order: ProductOrder, items, services_by_item, *, actor: str) -> None:
    """Items being cancelled end ``cancelled`` once nothing of theirs runs and no undo waits for an agent; a
    product a cancellation covers (whole order or items) is terminated once undone."""
    causes = None
    for item in items:
        services = services_by_item[item.pk]
        if any(s.state in LIVE_SOM_STATES for s in services) or _awaits_an_agent(item):
            continue
        if item.state == ItemState.PENDING_CANCELLATION:
            item.cancel()
            save_with_reason(item, "cancelled")
            record_event(order, OrderEvent.Type.ITEM_CANCELLED, actor=actor, item=item,
                         message=f"Item {item.item_id} cancelled")
        elif _to_terminate(item):
            causes = _causes(order) if causes is None else causes
            cause = next((m for m, covered in causes if item.pk in covered), None)
            if cause is not None:
                _terminate_product(order, item, cause, actor=actor)


_COMPENSATION_FALLOUTS = ("COMPENSATION_FAILED", failure.MANUAL_REVERT)


def _to_terminate(item) -> bool:
    """A product this order built (an add item, completed) that its cancellation undoes: terminated once undone.
    A modify or delete item changed the customer's existing product: an agent reverts that (``revert_by_hand``),
    COM never terminates the product."""
    return (item.state == ItemState.COMPLETED and item.action == ItemAction.ADD and bool(item.compensation_started_at)
            and bool(item.product_id) and item.product.is_live)


def _awaits_an_agent(item) -> bool:
    """An undo that failed, or one only a person can do, is still open for the item."""
    return item.fallouts.filter(resolved_at__isnull=True, reason_code__in=_COMPENSATION_FALLOUTS).exists()


def _terminate_product(order: ProductOrder, item, mutation: MutationRequest, *, actor: str) -> None:
    """A product built by an item that ``mutation`` then cancelled: terminated, its charges stopped, and its
    one-time charges credited (the customer never had the service they paid them for)."""
    product = inventory.terminate_product(product_id=item.product_id, order=order, item=item)
    item.product = product  # what finish_if_done reads next, in this same refresh
    common = dict(order=order, item=item, product=product, customer_id=order.customer_id,
                  billing_account_id=order.billing_account_id, quantity=item.quantity,
                  effective_date=timezone.now(), mutation=mutation)
    BillingIntent.objects.get_or_create(
        dedup_key=f"{item.pk}:deactivate:{mutation.pk}",
        defaults=dict(**common, action=BillingIntent.Action.DEACTIVATE,
                      prices=item_prices(item.item_prices, item.quantity),
                      reason=f"order {order.pk} cancelled: product {product.pk} terminated"))
    one_time = [p for p in item.item_prices if p.get("price_type") == "oneTime"]
    if one_time:
        BillingIntent.objects.get_or_create(
            dedup_key=f"{item.pk}:credit:{mutation.pk}",
            defaults=dict(**common, action=BillingIntent.Action.CREDIT, prices=item_prices(one_time, item.quantity),
                          reason=f"order {order.pk} cancelled: one-time charges of {product.pk} credited"))
    what = "the order was cancelled" if not mutation.items.exists() else f"item {item.item_id} was cancelled"
    record_event(order, OrderEvent.Type.PRODUCT_TERMINATED, actor=actor, item=item, mutation=mutation,
                 message=f"Product {product.pk} terminated: {what} ({mutation.pk}); billing deactivated"
                         + (", one-time charges credited" if one_time else ""))


def _settled(item) -> bool:
    """Nothing of the item is left to undo: it ended, its product (if its cancellation terminates it) is
    terminated, and no undo waits for an agent."""
    return item.is_terminal and not _to_terminate(item) and not _awaits_an_agent(item)


def finish_if_done(order: ProductOrder, items, *, actor: str) -> None:
    """A cancelled order once nothing of it is left (products terminated), and each cancellation applied once
    every item it covers (its targets and the items relying on them) is settled."""
    causes = _causes(order)
    if order.state == OrderState.PENDING_CANCELLATION:
        if not all(_settled(i) for i in items):
            return
        cause = causes[0][0] if causes else None
        order.cancel()
        order.cancellation_date = timezone.now()
        order.cancellation_reason = ((cause.reason or cause.reason_code) if cause else "cancelled")[:300]
        for fallout in order.fallouts.filter(resolved_at__isnull=True):  # order-level ones (stalled, checks)
            fallouts.close_fallout(fallout, resolution="cancelled", user=None, actor=actor,
                                   note=f"the order is cancelled ({cause.pk if cause else ''})")
    for mutation, covered in causes:
        if mutation.kind != MutationKind.CANCELLATION or mutation.state != MutationState.APPLYING:
            continue
        if order.state != OrderState.CANCELLED and not all(_settled(i) for i in items if i.pk in covered):
            continue
        mutation.finish()
        mutation.applied_at = timezone.now()
        mutation.save()
        record_event(order, OrderEvent.Type.MUTATION_APPLIED, actor=actor, mutation=mutation,
                     message=f"Cancellation {mutation.pk} done")


def overtake_open_mutations(order: ProductOrder, *, reason: str, actor: str) -> None:
    """The order ended while requests were open: they are overtaken (a cancellation returns nothing)."""
    for mutation in order.mutations.filter(state__in=[MutationState.REQUESTED, MutationState.ASSESSING,
                                                      MutationState.PENDING_APPROVAL, MutationState.APPROVED]):
        mutation.supersede()
        mutation.error = reason[:500]
        mutation.save()
        record_event(order, OrderEvent.Type.MUTATION_FAILED, actor=actor, mutation=mutation,
                     message=f"{mutation.pk} overtaken: {reason}"[:500])
