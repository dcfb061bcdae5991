"""Milestones SOM reports (TMF641 v4.1: on the service order, naming their items), as COM records them.

Found on PostgreSQL by the end-to-end mutation tests: an event listing every milestone an item had reached
wrote a history reason longer than its column (the event failed, the order stalled), and an older event
could move a milestone back (and a service past its point of no return would look cancellable again).
"""
import copy

import pytest

from orders.models import ServiceOrderItem
from orders.services.common import touch
from somsim import tmf as somtmf

from .flows import service_orders, submit, superfibre
from .test_mutations import line_of, milestone

pytestmark = pytest.mark.usefixtures("demo")


def cpe(order) -> ServiceOrderItem:
    return ServiceOrderItem.objects.get(order=order, service_specification__code="CPE-Management")


def test_a_service_completed_after_its_milestones_keeps_a_history_reason_that_fits_its_column(web, som):
    order = submit(web.channel, superfibre("m-1", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    line = line_of(som, service_order, "CPE-Management")
    for name in ("reserved", "dispatched", "delivered"):
        milestone(som, service_order, line, name)

    som.complete(service_order, line)  # the event lists the three milestones again, and a new service id

    row = cpe(order)
    assert (row.milestone, row.state) == ("delivered", "completed")
    reasons = list(row.history.values_list("history_change_reason", flat=True))
    assert all(len(reason or "") <= 100 for reason in reasons), reasons
    assert reasons[0].endswith("inProgress -> completed") and "reserved" not in reasons[0]


def test_an_older_event_does_not_move_a_milestone_back(web, som):
    order = submit(web.channel, superfibre("m-2", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    line = line_of(som, service_order, "CPE-Management")
    milestone(som, service_order, line, "reserved")
    old = copy.deepcopy(som.orders[service_order.pk])  # SOM's order when the router was only reserved
    milestone(som, service_order, line, "dispatched")
    assert cpe(order).past_point_of_no_return

    som.report(somtmf.make_event("ServiceOrderMilestoneEvent", old))  # delivered late

    assert cpe(order).milestone == "dispatched" and cpe(order).past_point_of_no_return


def test_a_long_reason_is_cut_to_the_history_column(web):
    order = submit(web.channel, superfibre("m-3"))
    touch(order, reason="x" * 300)
    assert len(order.history.first().history_change_reason) == 100
