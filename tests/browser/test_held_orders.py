"""Held orders, as an agent works them in the browser: find the order in the held queue, read why it is held,
release it (an empty reason is refused first and changes nothing), reject another with a reason code; the order
leaves the queue and its timeline shows the step. The same page worked with the keyboard alone."""
import pytest
from playwright.sync_api import expect

from orders.models import OrderEvent, ProductOrder
from tests.orders.flows import submit, superfibre

pytestmark = pytest.mark.browser


def held_for_credit(channel, ext: str, priority: str = "2") -> ProductOrder:
    """Carol's credit limit (20.00) is below SuperFibre's price: the credit check holds the order."""
    body = superfibre(ext, customer="CUST-4004")
    body["priority"] = priority
    order = submit(channel, body)
    assert (order.state, order.state_reason_code) == ("held", "CREDIT_LIMIT")
    return order


def state_of(order) -> str:
    return ProductOrder.objects.get(pk=order.pk).state


def held_as_duplicate(channel, ext: str, priority: str) -> ProductOrder:
    """The same products at the same place as an order still in flight: the duplicate check holds the later."""
    submit(channel, superfibre(f"{ext}-first", customer="CUST-3003", place="ADDR-3003"))
    body = superfibre(ext, customer="CUST-3003", place="ADDR-3003")
    body["priority"] = priority
    order = submit(channel, body)
    assert (order.state, order.state_reason_code) == ("held", "DUPLICATE_SUSPECTED")
    return order


def test_an_agent_finds_a_held_order_reads_why_and_releases_it(web, desk):
    order = held_for_credit(web, "held-release", priority="1")
    duplicate = held_as_duplicate(web, "held-duplicate", priority="0")
    agent = desk("agent")
    agent.log_in("agent")
    page = agent.page

    page.get_by_role("link", name="Held orders").first.click()
    row = page.locator("#result_list tbody tr", has=page.get_by_role("link", name=order.pk))
    expect(row).to_contain_text("CREDIT_LIMIT")
    expect(row).to_contain_text("exceed the credit limit")
    expect(row).to_contain_text("(CUST-4004)")
    # the most urgent first, each with its own reason: a duplicate does not look like a credit hold
    expect(page.locator("#result_list a.desk-order-link")).to_have_text([duplicate.pk, order.pk])
    expect(page.locator("#result_list tbody tr").first).to_contain_text("DUPLICATE_SUSPECTED")
    agent.shot("held-queue")

    row.get_by_role("link", name=order.pk).click()
    expect(page.locator("#order-state")).to_have_text("held: needs an agent")
    expect(page.locator("#order-failing-checks")).to_contain_text("CREDIT_LIMIT")
    expect(page.locator("#order-commands")).to_contain_text("Release the hold")
    agent.shot("held-order")

    page.locator("#command-release").click()
    page.locator("#command-submit").click()  # no reason given
    expect(page.locator(".field-reason .errorlist")).to_have_text("This field is required.")
    agent.shot("release-without-reason")
    assert state_of(order) == "held"
    assert not order.events.filter(type=OrderEvent.Type.HOLD_RELEASED).exists()

    page.get_by_label("Reason").fill("Customer paid a deposit")
    page.locator("#command-submit").click()
    expect(page.locator(".messagelist")).to_contain_text("Hold released: the order goes on")
    expect(page.locator("#order-state")).not_to_have_text("held: needs an agent")
    timeline = page.locator("#section-timeline")
    expect(timeline.locator("tr", has_text="Customer paid a deposit").first).to_contain_text("user:agent")
    agent.shot("released")
    assert state_of(order) == "inProgress"

    page.get_by_role("link", name="Home").click()
    page.get_by_role("link", name="Held orders").first.click()
    expect(page.locator("#result_list, .paginator").first).to_be_visible()
    expect(page.get_by_role("link", name=order.pk)).to_have_count(0)
    agent.shot("held-queue-after")


def test_an_agent_rejects_a_held_order_with_a_reason_code(web, desk):
    order = held_for_credit(web, "held-reject")
    agent = desk("agent")
    agent.log_in("agent")
    page = agent.page
    agent.go("/admin/orders/heldorder/")
    page.locator("#result_list").get_by_role("link", name=order.pk).click()

    page.locator("#command-reject").click()
    page.get_by_role("textbox", name="Reason").fill("Stolen card reported")
    page.locator("#command-submit").click()  # no reason code chosen
    expect(page.locator(".field-reason_code .errorlist")).to_have_text("This field is required.")
    agent.shot("reject-without-code")
    assert state_of(order) == "held"

    page.get_by_label("Reason code").select_option("FRAUD_CONFIRMED")
    page.locator("#command-submit").click()
    expect(page.locator(".messagelist")).to_contain_text("Order rejected")
    expect(page.locator("#order-state")).to_have_attribute("data-state", "rejected")
    expect(page.locator("#order-reason")).to_contain_text("FRAUD_CONFIRMED")
    expect(page.locator("#section-timeline tr", has_text="Stolen card reported").first).to_be_visible()
    agent.shot("rejected")
    order.refresh_from_db()
    assert (order.state, order.state_reason_code) == ("rejected", "FRAUD_CONFIRMED")


def test_the_held_queue_and_an_order_are_worked_with_the_keyboard_alone(web, desk):
    order = held_for_credit(web, "held-keyboard")
    agent = desk("agent")
    agent.log_in("agent")
    page = agent.page
    agent.go("/admin/orders/heldorder/")

    focused = tab_to(page, lambda el: el["text"] == order.pk)
    assert focused["tag"] == "A"
    page.keyboard.press("Enter")
    expect(page.locator("#order-id")).to_have_text(order.pk)

    tab_to(page, lambda el: el["id"] == "command-release")
    agent.shot("keyboard-focus-on-release")
    page.keyboard.press("Enter")
    expect(page.locator("#command-title")).to_have_text("Release the hold")
    tab_to(page, lambda el: el["name"] == "reason")
    page.keyboard.type("Credit raised by phone")
    tab_to(page, lambda el: el["id"] == "command-submit")
    page.keyboard.press("Enter")

    expect(page.locator(".messagelist")).to_contain_text("Hold released")
    assert state_of(order) == "inProgress"


def focused(page) -> dict:
    return page.evaluate("""() => { const el = document.activeElement;
        return {tag: el.tagName, id: el.id || '', name: el.name || '', text: (el.innerText || '').trim(),
                outline: getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).boxShadow}; }""")


def tab_to(page, wanted, limit: int = 80) -> dict:
    """Press Tab until the focused element is the one wanted: it is reachable with the keyboard."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        element = focused(page)
        if wanted(element):
            return element
        seen.append(element["id"] or element["name"] or element["text"][:20] or element["tag"])
    raise AssertionError(f"not reached with {limit} Tabs; focus went through: {seen}")

