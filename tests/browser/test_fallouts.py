"""Fallouts, as an agent works them in the browser: from the dashboard to the fallout queue, the class and the
repair it calls for; retry (an empty reason refused first), skip an optional service then retry the others
(the queue's bulk retry refuses data errors: each from its page), correct a characteristic and resubmit (a value the catalog refuses is shown
as an error first), and the manual completion a supervisor approves; each time the order moves."""
import pytest
from django.db import transaction
from playwright.sync_api import expect

from orders.models import Fallout, MutationRequest, ProductOrder
from orders.services.submission import service_order_refused
from tests.orders.flows import Som, installation, service_orders, submit, superfibre

pytestmark = pytest.mark.browser


def in_fallout(channel, ext: str, customer: str = "CUST-1001") -> tuple[ProductOrder, Fallout]:
    """The ONT installation fails once at SOM (no port free): a resource-shortage fallout holds the order."""
    som = Som()
    som.fail("ONT-Installation", times=1)
    order = som.fulfil(submit(channel, installation(ext, customer=customer)))
    assert order.state == "held"
    return order, Fallout.objects.get(order=order)


def refused_by_som(channel, body: dict) -> tuple[ProductOrder, dict[str, Fallout]]:
    """SOM refuses the whole service order (a 400): a data-error fallout per service, as the outbox relay
    records SOM's answer (in one transaction)."""
    order = submit(channel, body)
    [service_order] = service_orders(order)
    with transaction.atomic():
        service_order_refused(service_order_id=service_order.pk, error={
            "code": "SOM_REFUSED", "status": 400, "attempts": 1, "detail": {"message": "validation failed at SOM"}})
    return order, {f.service_order_item.service_specification.code: f for f in Fallout.objects.filter(order=order)}


def state_of(order) -> str:
    return ProductOrder.objects.get(pk=order.pk).state


def test_an_agent_goes_from_the_dashboard_to_a_fallout_and_retries_it(web, desk):
    order, fallout = in_fallout(web, "fallout-retry")
    agent = desk("agent")
    agent.log_in("agent")
    page = agent.page
    expect(page.locator("#desk-dashboard")).to_be_visible()
    agent.shot("dashboard", full_page=True)

    page.locator("#chart-fallout-backlog a.desk-bar").first.click()
    row = page.locator("#result_list tbody tr", has=page.get_by_role("link", name=f"Fallout {fallout.pk}"))
    expect(row).to_contain_text("resource shortage")
    expect(row).to_contain_text("Retry now")
    expect(row).to_contain_text("ONT-Installation")
    agent.shot("fallout-queue")

    row.get_by_role("link", name=f"Fallout {fallout.pk}").click()
    expect(page.locator("#fallout-class")).to_have_attribute("data-category", "resource")
    expect(page.locator("#repair-retry")).to_have_text("Proposed: Retry now")
    agent.shot("fallout-page")

    page.locator("#repair-retry").click()
    page.locator("#command-submit").click()
    expect(page.locator(".field-reason .errorlist")).to_have_text("This field is required.")
    assert Fallout.objects.get(pk=fallout.pk).is_open and state_of(order) == "held"

    page.get_by_label("Reason").fill("A port was freed at the exchange")
    page.locator("#command-submit").click()
    expect(page.locator(".messagelist")).to_contain_text("Retried: ")
    expect(page.locator("#fallout-status")).to_contain_text("retried by agent")
    page.locator("#fallout-order").click()
    expect(page.locator("#order-state")).to_have_attribute("data-state", "inProgress")
    agent.shot("order-after-retry")
    assert state_of(order) == "inProgress"


def test_an_agent_skips_an_optional_service_then_retries_the_others_from_the_queue(web, desk):
    order, fallouts = refused_by_som(web, superfibre("fallout-skip", customer="CUST-3003", place="ADDR-3003"))
    # Internet-Access, WiFi-Management (optional), CPE-Management
    agent = desk("agent")
    agent.log_in("agent")
    page = agent.page

    agent.go(f"/admin/orders/fallout/{fallouts['Internet-Access'].pk}/change/")
    expect(page.locator("#fallout-repairs")).to_be_visible()
    expect(page.locator("#repair-skip")).to_have_count(0)  # a mandatory service cannot be skipped

    agent.go(f"/admin/orders/fallout/{fallouts['WiFi-Management'].pk}/change/")
    page.locator("#repair-skip").click()
    expect(page.locator("#command-title")).to_have_text("Skip the optional service")
    page.get_by_label("Reason").fill("Customer brings their own WiFi")
    page.locator("#command-submit").click()
    expect(page.locator(".messagelist")).to_contain_text("Skipped: going on without WiFi-Management (optional)")
    assert Fallout.objects.get(pk=fallouts["WiFi-Management"].pk).resolution == "skipped"
    assert state_of(order) == "held"  # the two mandatory services are still stopped

    # the two mandatory services: SOM refused their data, so the queue's bulk retry refuses them (sent again
    # unchanged they would fail the same way) ...
    page.get_by_role("link", name="Fallouts", exact=True).first.click()
    for code in ("Internet-Access", "CPE-Management"):
        page.locator(f'#result_list input[name="_selected_action"][value="{fallouts[code].pk}"]').check()
    page.get_by_role("combobox", name="Action").select_option(label="Retry now")
    page.get_by_role("textbox", name="Reason").fill("SOM fixed its validation")
    agent.shot("fallout-queue-bulk-retry")
    page.get_by_role("button", name="Go").click()
    for code in ("Internet-Access", "CPE-Management"):
        expect(page.locator(".messagelist")).to_contain_text(f"Fallout {fallouts[code].pk}: Its class is data error")
    assert state_of(order) == "held"
    # ... and the agent retries each from its own page, having looked at it
    for code in ("Internet-Access", "CPE-Management"):
        agent.go(f"/admin/orders/fallout/{fallouts[code].pk}/change/")
        page.locator("#repair-retry").click()
        page.get_by_label("Reason").fill("SOM fixed its validation")
        page.locator("#command-submit").click()
        expect(page.locator(".messagelist")).to_contain_text("Retried: ")
    assert state_of(order) == "inProgress"
    assert not Fallout.objects.filter(order=order, resolved_at__isnull=True).exists()

def test_an_agent_corrects_a_characteristic_and_resubmits(web, desk):
    order, fallouts = refused_by_som(web, installation("fallout-correct"))
    fallout = fallouts["ONT-Installation"]
    agent = desk("agent")
    agent.log_in("agent")
    page = agent.page
    agent.go(f"/admin/orders/fallout/{fallout.pk}/change/")

    page.locator("#repair-correct").click()
    page.get_by_label("Characteristic").select_option("installationType")
    page.get_by_label("New value").fill("deluxe")
    page.get_by_role("textbox", name="Reason").fill("The building needs the premium installation")
    page.locator("#command-preview").click()
    expect(page.locator("#command-errors")).to_contain_text("nothing was changed")
    expect(page.locator(".field-value .errorlist")).to_contain_text("installationType takes one of standard, premium")
    agent.shot("correction-refused")
    assert not MutationRequest.objects.filter(order=order).exists()

    page.get_by_label("New value").fill("premium")
    page.locator("#command-preview").click()
    expect(page.locator("#impact-preview")).to_be_visible()
    expect(page.locator("#impact-decision")).to_contain_text("Applies at once")
    agent.shot("correction-impact", full_page=True)
    page.locator("#command-confirm").click()

    expect(page.locator(".messagelist")).to_contain_text("applied")
    expect(page.locator(".messagelist")).to_contain_text("Retried: sent as corrected")
    assert Fallout.objects.get(pk=fallout.pk).resolution == "retried"
    assert order.items.get().characteristics["installationType"] == "premium"
    assert state_of(order) == "inProgress"


def test_a_manual_completion_is_requested_by_an_agent_and_approved_by_a_supervisor(web, desk):
    order, fallout = in_fallout(web, "fallout-by-hand")
    agent = desk("agent")
    agent.log_in("agent")
    page = agent.page
    agent.go(f"/admin/orders/fallout/{fallout.pk}/change/")

    page.locator("#repair-complete-by-hand").click()
    page.get_by_label("Evidence").fill("Installed by the field team, job sheet JS-42")
    page.get_by_label("Reason").fill("SOM could not record it")
    page.locator("#command-preview").click()
    expect(page.locator("#impact-decision")).to_contain_text("Needs a supervisor's approval")
    page.locator("#command-confirm").click()
    expect(page.locator(".messagelist")).to_contain_text("waits for a supervisor's approval")
    [mutation] = MutationRequest.objects.filter(order=order)
    assert state_of(order) == "held"

    supervisor = desk("supervisor")
    supervisor.log_in("supervisor")
    sp = supervisor.page
    sp.get_by_role("link", name="Changes awaiting approval").first.click()
    sp.locator("#result_list").get_by_role("link", name=mutation.pk).click()
    expect(sp.locator("#approval-side-by-side")).to_contain_text("completed (by hand)")
    expect(sp.locator("#approval-side-by-side")).to_contain_text("JS-42")
    supervisor.shot("manual-completion-approval", full_page=True)
    sp.get_by_label("Comment").fill("Job sheet checked")
    sp.locator("#approve-button").click()
    expect(sp.locator(".messagelist")).to_contain_text(f"{mutation.pk} approved")
    assert state_of(order) == "completed"
    assert Fallout.objects.get(pk=fallout.pk).resolution == "completedByHand"
