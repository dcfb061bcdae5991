"""Changes that need a supervisor, in the browser: an agent asks for a cancellation of an order whose router
has left the warehouse, and a supervisor approves it with its impact (the router comes back by a return
process); an agent asks for a commercial amendment and sees its impact before confirming; the agent cannot approve it; a supervisor finds it in the approvals queue, reads it side by
side with its impact, is refused a rejection without a comment, and approves it. A supervisor cannot approve
their own request. Staff without a role get 403 on the desk."""
import pytest
from playwright.sync_api import expect

from orders.models import MutationRequest, ProductOrder
from tests.orders.flows import Som, service_orders, submit, superfibre
from tests.orders.test_mutations import line_of, milestone

pytestmark = pytest.mark.browser


def running_order(channel, ext: str) -> ProductOrder:
    order = submit(channel, superfibre(ext, customer="CUST-3003", place="ADDR-3003"))
    assert order.state == "inProgress"
    return order


def request_premium_router(person, order) -> MutationRequest:
    """A commercial change (the premium router costs more), asked for from the order page, previewed, confirmed."""
    page = person.page
    person.go(f"/admin/orders/productorder/{order.pk}/change/")
    page.locator("#command-change-item").click()
    page.locator("#id_item").select_option("1")
    page.get_by_label("Characteristic").select_option("routerModel")
    page.get_by_label("New value").fill("FritzBox 7590")
    page.get_by_label("Reason code").select_option("CUSTOMER_REQUEST")
    page.get_by_role("textbox", name="Reason:", exact=True).fill("Wants the premium router")
    page.get_by_label("Customer consent reference").fill("CALL-77")
    page.locator("#command-preview").click()

    expect(page.locator("#impact-decision")).to_contain_text("Needs a supervisor's approval")
    expect(page.locator("#impact-prices")).to_contain_text("Premium router")
    assert not MutationRequest.objects.filter(order=order).exists()  # a preview records nothing
    person.shot("amendment-impact", full_page=True)
    page.locator("#command-confirm").click()
    expect(page.locator(".messagelist")).to_contain_text("waits for a supervisor's approval")
    return MutationRequest.objects.get(order=order, state="pendingApproval")


def router_dispatched(channel, ext: str) -> ProductOrder:
    """SOM works on the order and reports the router dispatched: CPE-Management is past its point of no return."""
    order = running_order(channel, ext)
    som = Som()
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    milestone(som, service_order, line_of(som, service_order, "CPE-Management"), "dispatched")
    return order


def test_a_cancellation_past_a_point_of_no_return_is_approved_by_a_supervisor_with_its_impact(web, desk):
    order = router_dispatched(web, "cancel")
    agent = desk("agent")
    agent.log_in("agent")
    page = agent.page
    agent.go(f"/admin/orders/productorder/{order.pk}/change/")
    page.locator("#command-cancel").click()
    page.get_by_label("Reason code").select_option("CUSTOMER_REQUEST")
    page.get_by_role("textbox", name="Reason:", exact=True).fill("Moving abroad")
    page.locator("#command-preview").click()

    expect(page.locator("#impact-decision")).to_contain_text("Needs a supervisor's approval")
    router = page.locator("#impact-services tr", has_text="CPE-Management")
    expect(router).to_contain_text("dispatched")
    assert not MutationRequest.objects.filter(order=order).exists()  # a preview records nothing
    agent.shot("cancellation-impact", full_page=True)
    page.locator("#command-confirm").click()
    expect(page.locator(".messagelist")).to_contain_text("waits for a supervisor's approval")
    mutation = MutationRequest.objects.get(order=order, state="pendingApproval")
    assert mutation.kind == "cancellation"
    agent.go(f"/admin/orders/mutationrequest/{mutation.pk}/change/")
    expect(page.locator("#approve-button")).to_have_count(0)  # an agent cannot approve

    supervisor = desk("supervisor")
    supervisor.log_in("supervisor")
    page = supervisor.page
    page.get_by_role("link", name="Changes awaiting approval").first.click()
    row = page.locator("#result_list tbody tr", has=page.get_by_role("link", name=mutation.pk))
    expect(row).to_contain_text("Moving abroad")
    row.get_by_role("link", name=mutation.pk).click()
    router = page.locator("#impact-services tr", has_text="CPE-Management")
    expect(router).to_contain_text("dispatched")
    expect(router).to_contain_text("return process")
    supervisor.shot("cancellation-approval", full_page=True)
    page.get_by_label("Comment").fill("Customer confirmed by phone")
    page.locator("#approve-button").click()
    expect(page.locator(".messagelist")).to_contain_text(f"{mutation.pk} approved")

    mutation.refresh_from_db()
    assert (mutation.state, mutation.approver.username) in {("applying", "supervisor"), ("applied", "supervisor")}
    order.refresh_from_db()
    assert order.state in {"pendingCancellation", "cancelled"}, order.state  # SOM is told; the router returns
    router = mutation.assessment["impact"]["services"][2]
    assert (router["service"], router["point"], router["outcome"]) == ("CPE-Management", "pastPointOfNoReturn",
                                                                       "compensate")


def test_an_amendment_is_requested_by_an_agent_and_approved_by_a_supervisor(web, desk):
    order = running_order(web, "amend")
    agent = desk("agent")
    agent.log_in("agent")
    mutation = request_premium_router(agent, order)
    assert mutation.kind == "amendment"

    agent.go(f"/admin/orders/mutationrequest/{mutation.pk}/change/")
    expect(agent.page.locator("#decision-refusal")).to_have_attribute("data-why", "not-supervisor")
    expect(agent.page.locator("#approve-button")).to_have_count(0)
    agent.shot("agent-cannot-approve")

    supervisor = desk("supervisor")
    supervisor.log_in("supervisor")
    page = supervisor.page
    page.get_by_role("link", name="Changes awaiting approval").first.click()
    row = page.locator("#result_list tbody tr", has=page.get_by_role("link", name=mutation.pk))
    expect(row).to_contain_text("CALL-77")
    expect(row).to_contain_text("Wants the premium router")
    supervisor.shot("approvals-queue")
    row.get_by_role("link", name=mutation.pk).click()

    side = page.locator("#approval-side-by-side")
    expect(side).to_contain_text("Item 1 routerModel")
    expect(side.locator(".desk-now")).to_contain_text("Nokia Beacon 6")
    expect(side.locator(".desk-requested")).to_contain_text("FritzBox 7590")
    expect(page.locator("#impact-prices")).to_be_visible()
    supervisor.shot("approval-with-impact", full_page=True)

    page.locator("#reject-button").click()  # a rejection needs a comment
    expect(page.locator(".messagelist")).to_contain_text("Say why")
    assert MutationRequest.objects.get(pk=mutation.pk).state == "pendingApproval"

    page.get_by_label("Comment").fill("Consent on file")
    page.locator("#approve-button").click()
    expect(page.locator(".messagelist")).to_contain_text(f"{mutation.pk} approved: applied")
    expect(page.locator("#mutation-decision")).to_contain_text("by supervisor")
    page.locator("#mutation-order").click()
    expect(page.locator("#item-1")).to_contain_text("routerModel=FritzBox 7590")
    expect(page.locator("#section-timeline")).to_contain_text("approver supervisor")
    supervisor.shot("order-after-approval")
    mutation.refresh_from_db()
    assert (mutation.state, mutation.approver.username, mutation.decision_comment) == (
        "applied", "supervisor", "Consent on file")


def test_a_supervisor_cannot_approve_their_own_request(web, desk):
    order = running_order(web, "own")
    supervisor = desk("supervisor")
    supervisor.log_in("supervisor")
    mutation = request_premium_router(supervisor, order)

    supervisor.go(f"/admin/orders/mutationrequest/{mutation.pk}/change/")
    refusal = supervisor.page.locator("#decision-refusal")
    expect(refusal).to_have_attribute("data-why", "own-request")
    expect(refusal).to_contain_text("separation of duties")
    expect(supervisor.page.locator("#approve-button")).to_have_count(0)
    supervisor.shot("own-request")
    assert MutationRequest.objects.get(pk=mutation.pk).state == "pendingApproval"


def test_staff_without_a_role_gets_403_on_the_desk(web, desk, django_user_model):
    order = submit(web, superfibre("nobody", customer="CUST-3003", place="ADDR-3003"))
    django_user_model.objects.create_user(username="nobody", password="demo", is_staff=True)
    nobody = desk("nobody")
    nobody.log_in("nobody")
    page = nobody.page
    expect(page.locator("#content-main")).to_contain_text("You don’t have permission to view or edit anything")
    expect(page.locator("#desk-dashboard")).to_have_count(0)
    nobody.shot("home-without-role")

    for path in ("/admin/orders/heldorder/", "/admin/orders/fallout/", "/admin/orders/pendingapproval/",
                 f"/admin/orders/productorder/{order.pk}/change/",
                 f"/admin/orders/productorder/{order.pk}/do/release/"):
        desk.watch.expect(path, 403)
        response = nobody.go(path)
        assert response.status == 403, path
        expect(page.locator("body")).to_contain_text("403")
    nobody.shot("forbidden")
    assert ProductOrder.objects.get(pk=order.pk).state == "inProgress"
