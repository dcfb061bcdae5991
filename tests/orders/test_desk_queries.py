"""Screens that stay fast: every queue and list of the desk makes the same number of SQL queries with 3 rows as
with 30 (no query per row), pages, and never counts a whole table (a bounded count)."""
import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.desk.paging import BoundedPaginator
from orders.models import Fallout, MutationRequest, ProductOrder
from orders.services import fallouts
from orders.services.common import lock_order
from orders.services.mutations import MutationDraft, request_mutation

from .flows import installation, submit, superfibre

pytestmark = pytest.mark.usefixtures("demo")

PAGES = [
    "admin:index",  # the dashboard
    "admin:orders_heldorder_changelist",
    "admin:orders_fallout_changelist",
    "admin:orders_fallout_changelist?status=all",
    "admin:orders_fallout_groups",
    "admin:orders_pendingapproval_changelist",
    "admin:orders_mutationrequest_changelist",
    "admin:orders_productorder_changelist",
    "admin:orders_productorder_changelist?state__exact=held",
    "admin:orders_serviceorder_changelist",
    "admin:orders_serviceorderitem_changelist",
    "admin:orders_orderevent_changelist",
]


def add_rows(web, agent, first: int, count: int) -> None:
    """Held orders, each with an order-level fallout (a few root causes) and a change waiting for approval."""
    for n in range(first, first + count):
        order = submit(web.channel, superfibre(f"q-{n}", customer="CUST-4004"))
        assert order.state == "held"
        with transaction.atomic():
            fallouts.open_order_fallout(lock_order(order.pk), stage="watchdog", reason_code="STALLED",
                                        message="nothing in flight", actor="system",
                                        context={"error": f"cause {n % 4}"})
        mutation, _ = request_mutation(order_id=order.pk, actor="user:agent", user=agent, draft=MutationDraft(
            kind="change", item_ids=("1",), changes={"items": {"1": {"quantity": 2}}}, reason="two lines",
            customer_consent_ref=f"CALL-{n}"))
        assert mutation.state == "pendingApproval"


def queries_of(client, page: str) -> int:
    name, _, query = page.partition("?")
    url = reverse(name) + (f"?{query}" if query else "")
    client.get(url)  # warm: sessions, content types
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (page, response.status_code)
    return len(captured)


def test_every_desk_list_makes_the_same_number_of_queries_for_3_rows_as_for_30(client, web, som,
                                                                                django_assert_max_num_queries):
    agent = get_user_model().objects.get(username="agent")
    som.fail("ONT-Installation", times=1)
    som.fulfil(submit(web.channel, installation("inst-q")))  # a service fallout too
    add_rows(web, agent, 0, 2)
    client.force_login(agent)
    assert ProductOrder.objects.count() == 3
    with_3 = {page: queries_of(client, page) for page in PAGES}

    add_rows(web, agent, 2, 27)
    assert Fallout.objects.filter(resolved_at__isnull=True).count() == 30
    assert MutationRequest.objects.filter(state="pendingApproval").count() == 29

    for page in PAGES:
        name, _, query = page.partition("?")
        with django_assert_max_num_queries(with_3[page]):
            response = client.get(reverse(name) + (f"?{query}" if query else ""))
        assert response.status_code == 200
        assert queries_of(client, page) == with_3[page], page


def test_a_list_is_counted_only_up_to_a_bound(client, web, settings):
    agent = get_user_model().objects.get(username="agent")
    for n in range(4):
        submit(web.channel, superfibre(f"b-{n}", customer="CUST-4004"))
    paginator = BoundedPaginator(ProductOrder.objects.order_by("pk"), 2)
    paginator.cap = 3

    assert (paginator.count, paginator.capped, paginator.num_pages) == (3, True, 2)
    with CaptureQueriesContext(connection) as captured:
        BoundedPaginator(ProductOrder.objects.order_by("pk"), 2).count
    assert "LIMIT" in captured[0]["sql"].upper()  # COUNT over at most cap + 1 rows, never the whole table

    client.force_login(agent)
    import orders.desk.paging as paging

    original = paging.BoundedPaginator.cap
    paging.BoundedPaginator.cap = 3
    try:
        page = client.get(reverse("admin:orders_productorder_changelist"))
    finally:
        paging.BoundedPaginator.cap = original
    assert "3+ product orders" in page.content.decode()


def test_the_order_page_costs_the_same_for_a_bigger_order(client, web, som):
    """No query per item, service, check, event or history row: a bigger order is not a slower page."""
    from .bodies import item, order_body

    small = som.fulfil(submit(web.channel, superfibre("small", customer="CUST-3003", place="ADDR-3003",
                                                      wifiManagement=False)))
    big = som.fulfil(submit(web.channel, order_body("big", customer="CUST-3003", productOrderItem=[
        item("1", place="ADDR-3003", downloadSpeed=500),
        item("2", offering="PO-STATIC-IP", place="ADDR-3003", relationships=["1"], ipVersion="IPv4"),
        item("3", offering="PO-MANAGED-ROUTER", place="ADDR-3003", routerModel="Cisco C1111")])))
    assert big.items.count() == 3 and big.service_items.count() > small.service_items.count()
    assert big.events.count() > small.events.count() + 10
    client.force_login(get_user_model().objects.get(username="agent"))

    def queries(order):
        url = reverse("admin:orders_productorder_change", args=[order.pk])
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    assert queries(big) <= queries(small)
