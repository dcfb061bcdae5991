"""The order desk's commands as services: roles, information requests, notes, rejections with a reason code,
skipping an optional service, retrying a root cause's group, correcting then resubmitting, and the manual
completion (a mutation a supervisor approves). Unhappy paths first; each refusal changes nothing."""
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from comapp.errors import NotAllowed, ValidationFailed
from inventory.models import Product
from orders import policy, roles
from orders.models import (
    Fallout,
    HubSubscription,
    MutationRequest,
    Notification,
    OrderEvent,
    ProductOrder,
    ServiceOrderItem,
)
from orders.services import holds, mutations, notes, repairs
from orders.services.mutations import MutationDraft
from orders.services.submission import service_order_refused

from .flows import in_data_fallout, installation, plan, service_orders, submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.get(username="agent")


@pytest.fixture
def supervisor(django_user_model):
    return django_user_model.objects.get(username="supervisor")


@pytest.fixture
def supervisor2(django_user_model):
    user = django_user_model.objects.create_user(username="supervisor2", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.SUPERVISOR))
    return django_user_model.objects.get(pk=user.pk)


def snapshot(order):
    order = ProductOrder.objects.get(pk=order.pk)
    return (order.state, order.version, order.state_reason_code, list(order.notes), order.events.count(),
            list(order.items.values_list("state", flat=True)))


def held_for_credit(web, ext="held-1"):
    order = submit(web.channel, superfibre(ext, customer="CUST-4004"))
    assert order.state == "held" and order.state_reason_code == "CREDIT_LIMIT"
    return order


def in_fallout(web, som, ext="inst-1", customer="CUST-1001"):
    som.fail("ONT-Installation", times=1)
    order = som.fulfil(submit(web.channel, installation(ext, customer=customer)))
    assert order.state == "held" and order.state_reason_code == "FALLOUT"
    return order, Fallout.objects.get(order=order)


def codes(group_name):
    return {(p.content_type.app_label, p.codename)
            for p in Group.objects.get(name=group_name).permissions.select_related("content_type")}


# --- roles ----------------------------------------------------------------------------------------------

def test_each_role_has_exactly_the_permissions_it_needs():
    agent, supervisor, catalog = codes(roles.AGENT), codes(roles.SUPERVISOR), codes(roles.CATALOG_MANAGER)

    assert ("orders", "approve_mutationrequest") not in agent
    assert {("orders", "change_productorder"), ("orders", "change_fallout"), ("orders", "add_mutationrequest"),
            ("orders", "view_productorder"), ("orders", "view_fallout"), ("orders", "view_billingintent"),
            ("inventory", "view_product"), ("catalog", "view_productoffering")} <= agent
    assert not {p for p in agent if p[1].startswith(("delete_", "add_productorder", "change_customer"))}
    assert supervisor - agent == {("orders", "approve_mutationrequest"), ("orders", "view_customerprofile"),
                                  ("orders", "change_customerprofile")}
    assert {app for app, _ in catalog} == {"catalog"}
    assert {code.split("_")[0] for _, code in catalog} == {"view", "add", "change"}
    assert ("catalog", "change_productoffering") in catalog and ("catalog", "add_servicespecification") in catalog


def test_load_demo_puts_the_demo_users_in_their_roles_again_and_again(django_user_model):
    Group.objects.create(name="Order desk agents")  # the name an earlier demo used

    call_command("load_demo", verbosity=0)
    call_command("load_demo", verbosity=0)

    def groups(name):
        return list(django_user_model.objects.get(username=name).groups.values_list("name", flat=True))

    assert groups("agent") == [roles.AGENT] and groups("supervisor") == [roles.SUPERVISOR]
    assert groups("catalog") == [roles.CATALOG_MANAGER] and groups("admin") == []
    assert not Group.objects.filter(name__in=["Order desk agents", "Supervisors", "Catalog managers"]).exists()
    assert django_user_model.objects.get(username="agent").has_perm("orders.change_productorder")
    assert not django_user_model.objects.get(username="agent").has_perm("orders.approve_mutationrequest")
    assert django_user_model.objects.get(username="supervisor").has_perm("orders.approve_mutationrequest")


def test_the_policy_asks_a_supervisor_for_every_manual_completion():
    for state in ("acknowledged", "pending", "held", "inProgress"):
        row = policy.decide("manualCompletion", state, "none")
        assert (row.id, row.decision) == ("M1", "approval")
    assert policy.decide("manualCompletion", "completed", "none").decision == "refuse"


# --- held orders: information, notes, rejection ----------------------------------------------------------

def test_information_is_asked_only_of_a_held_order_and_only_with_a_question(web, agent):
    running = submit(web.channel, superfibre("run", customer="CUST-3003", place="ADDR-3003"))
    held = held_for_credit(web)
    for order, text, error in ((running, "Which floor?", NotAllowed), (held, "  ", ValidationFailed)):
        before = snapshot(order)
        with pytest.raises(error):
            holds.request_information(order=order, user=agent, reason=text)
        assert snapshot(order) == before


def test_requesting_information_tells_the_channel_what_is_needed(web, agent):
    HubSubscription.objects.create(channel=web.channel, callback="https://listener.example/hub")
    order = held_for_credit(web)
    before = Notification.objects.filter(order=order).count()

    holds.request_information(order=order, user=agent, reason="Proof of income for the credit check")

    order.refresh_from_db()
    assert order.state == "held"  # still held: the answer comes back as a note or a change
    assert order.notes[-1]["author"] == "user:agent"
    assert order.notes[-1]["text"] == "Information required: Proof of income for the credit check"
    event = order.events.get(type=OrderEvent.Type.INFORMATION_REQUESTED)
    assert event.actor == "user:agent" and event.payload == {"heldFor": "CREDIT_LIMIT"}
    sent = Notification.objects.filter(order=order).order_by("id")[before:]
    assert [n.event_type for n in sent] == ["ProductOrderInformationRequiredEvent"]
    assert sent[0].payload["fieldPath"] == "note"
    assert sent[0].payload["event"]["productOrder"]["note"][-1]["text"].startswith("Information required")


def test_a_rejection_carries_its_reason_code_and_an_unknown_code_is_refused(web, agent):
    order = held_for_credit(web)
    before = snapshot(order)
    with pytest.raises(ValidationFailed):
        holds.reject_held(order=order, user=agent, reason="", reason_code="BECAUSE")
    assert snapshot(order) == before

    holds.reject_held(order=order, user=agent, reason="", reason_code="FRAUD_CONFIRMED")

    order.refresh_from_db()
    assert (order.state, order.state_reason_code, order.state_reason) == ("rejected", "FRAUD_CONFIRMED",
                                                                         "fraud confirmed")
    assert order.events.get(type=OrderEvent.Type.REJECTED).payload == {"reasonCode": "FRAUD_CONFIRMED"}


def test_a_note_is_appended_with_its_author_and_an_empty_one_refused(web, agent):
    order = submit(web.channel, superfibre("done", customer="CUST-3003", place="ADDR-3003"))
    before = snapshot(order)
    with pytest.raises(ValidationFailed):
        notes.add_note(order=order, user=agent, text="   ")
    assert snapshot(order) == before

    notes.add_note(order=order, user=agent, text="Customer called: prefers mornings")

    order.refresh_from_db()
    assert order.notes[-1]["author"] == "user:agent" and order.notes[-1]["text"] == "Customer called: prefers mornings"
    assert order.events.get(type=OrderEvent.Type.NOTE_ADDED).actor == "user:agent"


# --- fallout repairs --------------------------------------------------------------------------------------

def refused_by_som(web):
    order = submit(web.channel, superfibre("refused"))  # Internet-Access, WiFi-Management (optional), CPE-Management
    [service_order] = service_orders(order)
    service_order_refused(service_order_id=service_order.pk,
                          error={"code": "SOM_REFUSED", "status": 400, "attempts": 1, "detail": {"message": "no"}})
    return order, {f.service_order_item.service_specification.code: f for f in Fallout.objects.filter(order=order)}


def test_only_an_optional_service_can_be_skipped(web, agent, som):
    order, fallouts = refused_by_som(web)
    before = snapshot(order)
    with pytest.raises(NotAllowed, match="mandatory"):
        repairs.skip_optional_service(fallout=fallouts["Internet-Access"], user=agent, reason="")
    assert snapshot(order) == before

    done = repairs.skip_optional_service(fallout=fallouts["WiFi-Management"], user=agent, reason="no WiFi today")

    assert done == "going on without WiFi-Management (optional)"
    skipped = Fallout.objects.get(pk=fallouts["WiFi-Management"].pk)
    assert (skipped.resolution, skipped.resolved_by, skipped.resolution_note) == ("skipped", agent, "no WiFi today")
    assert order.events.filter(type=OrderEvent.Type.PARTIAL_ACCEPTED, actor="user:agent").count() == 1
    with pytest.raises(NotAllowed):
        repairs.skip_optional_service(fallout=skipped, user=agent, reason="")  # resolved already

    for code in ("Internet-Access", "CPE-Management"):
        repairs.retry_fallout(fallout=fallouts[code], user=agent, reason="SOM fixed its validation")
    order = som.fulfil(order)
    assert order.state == "partial"  # built without the optional WiFi
    assert order.items.get().state == "completed"


def test_a_group_retry_refuses_a_root_cause_whose_fallouts_need_a_correction_each(web, som, agent):
    found = [in_data_fallout(web, som, f"inst-{n}", customer) for n, customer in enumerate(["CUST-1001", "CUST-3003"])]
    root = found[0][1].root_cause
    assert {f.root_cause for _, f in found} == {root}
    before = [snapshot(order) for order, _ in found]

    with pytest.raises(NotAllowed, match="data"):
        repairs.retry_fallout_group(root_cause=root, user=agent, reason="all at once")

    assert [snapshot(order) for order, _ in found] == before
    assert all(Fallout.objects.get(pk=f.pk).is_open for _, f in found)


def test_a_fallout_selected_among_others_is_not_retried_when_its_class_needs_a_correction(web, som, agent):
    order, fallout = in_data_fallout(web, som, "inst-1", "CUST-1001")
    before = snapshot(order)
    with pytest.raises(NotAllowed, match="one by one"):
        repairs.retry_fallout_in_bulk(fallout=fallout, user=agent, reason="all at once")
    assert snapshot(order) == before and Fallout.objects.get(pk=fallout.pk).is_open
    # from its own page, after the agent looked at it, the retry stays possible
    repairs.retry_fallout(fallout=fallout, user=agent, reason="SOM fixed its address book")
    assert not Fallout.objects.get(pk=fallout.pk).is_open


def test_a_group_retry_repairs_each_fallout_of_a_root_cause_on_its_own(web, som, agent):
    found = [in_fallout(web, som, ext=f"inst-{n}", customer=customer)  # not duplicates: three customers
             for n, customer in enumerate(["CUST-1001", "CUST-3003", "CUST-4004"])]
    root = found[0][1].root_cause
    assert {f.root_cause for _, f in found} == {root}

    outcomes = repairs.retry_fallout_group(root_cause=root, user=agent, reason="the technicians are back")

    assert [(pk, ok) for pk, _, ok in outcomes] == [(f.pk, True) for _, f in found]
    for order, fallout in found:
        fallout.refresh_from_db()
        assert fallout.resolution == "retried" and fallout.resolved_by == agent
        assert order.events.filter(type=OrderEvent.Type.FALLOUT_RESOLVED, actor="user:agent").count() == 1
        assert ProductOrder.objects.get(pk=order.pk).state == "inProgress"
    assert repairs.retry_fallout_group(root_cause=root, user=agent) == []  # nothing left open


def test_a_correction_of_a_failed_service_sends_the_corrected_one_when_the_fallout_is_retried(web, som, agent):
    order, fallout = in_fallout(web, som)
    draft = MutationDraft(kind="change", item_ids=("1",), reason_code="FALLOUT_REPAIR", reason="wrong type",
                          changes={"items": {"1": {"characteristics": {"installationType": "premium"}}}})

    mutation, created = mutations.request_mutation(order_id=order.pk, draft=draft, actor="user:agent", user=agent)

    assert created and (mutation.kind, mutation.state, mutation.policy_rule) == ("correction", "applied", "K1")
    # the failed row is superseded by a corrected one that replaces it; nothing is sent before the repair
    assert plan(order) == [("1", "ONT-Installation", "add", "failed"), ("2", "ONT-Installation", "add", "planned")]
    failed, corrected = ServiceOrderItem.objects.filter(order=order).order_by("sequence")
    assert failed.superseded_by is not None and corrected.replaces == failed
    assert corrected.characteristics["installationType"] == "premium"
    assert Fallout.objects.get(pk=fallout.pk).is_open

    done = repairs.retry_fallout(fallout=fallout, user=agent, reason="resubmitted")

    assert done == "sent as corrected: 2 replaces 1"
    retry = service_orders(order)[-1]
    [line] = retry.outbox_message.payload["serviceOrderItem"]
    sent = {c["name"]: c["value"] for c in line["service"]["serviceCharacteristic"]}
    assert sent["installationType"] == "premium"
    order = som.fulfil(order)
    assert order.state == "completed"


# --- manual completion: requested with evidence, approved by another supervisor ---------------------------

def completion_draft(fallout, evidence="Technician J. Doe installed the ONT, job sheet JS-881"):
    return MutationDraft(kind="manualCompletion", item_ids=("1",), reason_code="FALLOUT_REPAIR",
                         reason="done by the field team", changes={"fallout": fallout.pk, "evidence": evidence})


def test_a_manual_completion_needs_evidence_and_a_service_fallout(web, som, agent):
    order, fallout = in_fallout(web, som)
    before = snapshot(order)
    with pytest.raises(ValidationFailed, match="evidence"):
        mutations.request_mutation(order_id=order.pk, draft=completion_draft(fallout, evidence=" "),
                                   actor="user:agent", user=agent)
    with pytest.raises(ValidationFailed):
        mutations.request_mutation(order_id=order.pk, draft=MutationDraft(
            kind="manualCompletion", changes={"fallout": 99999, "evidence": "x"}), actor="user:agent", user=agent)
    assert snapshot(order) == before and not MutationRequest.objects.exists()


def test_a_manual_completion_waits_for_another_supervisor_then_completes_the_order(web, som, agent, supervisor,
                                                                                   supervisor2):
    order, fallout = in_fallout(web, som)
    preview, _ = mutations.request_mutation(order_id=order.pk, draft=completion_draft(fallout), actor="user:agent",
                                            user=agent, dry_run=True)
    assert preview.decision == "approval" and preview.policy_rule == "M1"
    assert preview.impact["services"][0]["outcome"] == "completeByHand" and not MutationRequest.objects.exists()

    mutation, _ = mutations.request_mutation(order_id=order.pk, draft=completion_draft(fallout), actor="user:agent",
                                             user=agent)
    assert (mutation.kind, mutation.state) == ("manualCompletion", "pendingApproval")
    assert Fallout.objects.get(pk=fallout.pk).is_open

    with pytest.raises(NotAllowed, match="Only a supervisor"):
        mutations.approve_mutation(mutation_id=mutation.pk, user=agent)
    own, _ = mutations.request_mutation(order_id=order.pk, draft=completion_draft(fallout, "done, ticket T-2"),
                                        actor="user:supervisor2", user=supervisor2)
    with pytest.raises(NotAllowed, match="separation of duties"):
        mutations.approve_mutation(mutation_id=own.pk, user=supervisor2)
    assert MutationRequest.objects.get(pk=own.pk).state == "pendingApproval"

    mutations.approve_mutation(mutation_id=mutation.pk, user=supervisor, comment="job sheet checked")

    mutation.refresh_from_db()
    assert (mutation.state, mutation.approver) == ("applied", supervisor)
    fallout.refresh_from_db()
    assert fallout.resolution == "completedByHand" and "JS-881" in fallout.resolution_note
    service = ServiceOrderItem.objects.get(order=order)
    assert service.state == "completed"
    order.refresh_from_db()
    assert order.state == "completed"
    assert Product.objects.get(created_by_order=order).status == "active"
    by_hand = order.events.get(type=OrderEvent.Type.SERVICE_STATE_CHANGED, mutation=mutation)
    assert by_hand.actor == "user:supervisor" and by_hand.payload["evidence"].endswith("JS-881")
    assert by_hand.payload["requestedBy"] == "user:agent"
    # the second request is overtaken by the order's end: it leaves the supervisors' queue, nothing changes
    own.refresh_from_db()
    assert own.state == "superseded" and "completed" in own.error
    with pytest.raises(NotAllowed, match="nothing to decide"):
        mutations.approve_mutation(mutation_id=own.pk, user=supervisor)
    assert ProductOrder.objects.get(pk=order.pk).state == "completed"


def test_a_manual_completion_approved_after_the_fallout_was_repaired_is_not_applied(web, som, agent, supervisor):
    order, fallout = in_fallout(web, som)
    mutation, _ = mutations.request_mutation(order_id=order.pk, draft=completion_draft(fallout), actor="user:agent",
                                             user=agent)
    repairs.retry_fallout(fallout=fallout, user=agent, reason="tried again meanwhile")

    mutations.approve_mutation(mutation_id=mutation.pk, user=supervisor)

    mutation.refresh_from_db()
    assert mutation.state == "failed" and mutation.error.startswith("STALE")
    assert ServiceOrderItem.objects.get(order=order).state == "planned"  # the retry stands
    assert Fallout.objects.get(pk=fallout.pk).resolution == "retried"
