"""Findings of the fault suite (tests/faults) that can be shown without processes, one test each.

- a broker that is down never fails a request whose order is stored: 201, and the sweep finds the work;
- a service order SOM ended without its items, while SOM cannot be read back: asked again before the items
  are taken to have ended as the order did (a SOM down for a minute must not make COM guess);
- a history reason longer than django-simple-history's 100-character column never fails the change.
"""
import json
import socket

import pytest

from orders.models import ProductOrder
from orders.selectors import orders_awaiting_checks
from orders.services import dispatch, reconciliation
from orders.tasks import read_back_service_order
from somsim import tmf as somtmf

from .flows import HttpSom, after_the_lease, plan, service_orders, submit, superfibre
from .test_stranding import minimal_event

pytestmark = pytest.mark.usefixtures("demo")
BASE = "/tmf-api/productOrderingManagement/v4"


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def broker_down():
    """The Celery app pointed at a Redis that is not running, for this test only. Celery takes the broker from
    the CELERY_BROKER_URL environment variable over its configuration: with it set (CI's Redis), the broker
    cannot be repointed here, and the fault suite stops a real Redis instead (tests/faults)."""
    import os

    from kombu import pools

    from comapp.celery import app

    if os.environ.get("CELERY_BROKER_URL"):
        pytest.skip("CELERY_BROKER_URL pins the broker: tests/faults::test_redis_killed_and_restarted_while_orders_flow")
    saved = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    app.conf.broker_transport_options = {"max_retries": 1}
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu's process-wide producer pools: none may hold a connection to the real broker
    yield app
    app.conf.broker_url, app.conf.broker_transport_options = saved
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()


# --- a broker that is down -------------------------------------------------------------------------------

def test_an_order_posted_while_the_broker_is_down_is_stored_answered_201_and_left_to_the_sweep(
        web, broker_down, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # the send runs, and fails, for real
        response = web.post(f"{BASE}/productOrder", data=json.dumps(superfibre("broker-down-1")),
                            content_type="application/json")

    assert response.status_code == 201, response.content
    assert len(callbacks) >= 1
    order = ProductOrder.objects.get(pk=response.json()["id"])
    assert order.state == "acknowledged" and order.checks_started_at is None
    # its checks task never reached the broker: once the lease of that send has run out, the sweep queues it
    assert not orders_awaiting_checks(older_than_seconds=0).exists()
    assert list(orders_awaiting_checks(older_than_seconds=0, at=after_the_lease()).values_list("pk", flat=True)) \
        == [order.pk]


def test_the_sweep_leaves_checks_already_queued_to_their_task(web):
    """Under a backlog (checks queued longer than the sweep's grace), the sweep queues no second checks task
    until the lease of the first has run out (then the task is taken to be lost)."""
    response = web.post(f"{BASE}/productOrder", data=json.dumps(superfibre("backlog-1")),
                        content_type="application/json")
    order = ProductOrder.objects.get(pk=response.json()["id"])
    assert order.checks_queued_until is not None and order.checks_started_at is None
    assert not orders_awaiting_checks(older_than_seconds=0).filter(pk=order.pk).exists()
    assert orders_awaiting_checks(older_than_seconds=0, at=after_the_lease()).filter(pk=order.pk).exists()

    ProductOrder.objects.filter(pk=order.pk).update(checks_queued_until=None)  # captured before the marker existed
    assert orders_awaiting_checks(older_than_seconds=0).filter(pk=order.pk).exists()


def test_work_queued_while_the_broker_is_down_is_reported_not_raised(broker_down):
    assert dispatch.send_now("run_order_checks", "no-such-order") is False


# --- read back before the items follow the order ---------------------------------------------------------

def _ended_without_items(web, som, ext, state):
    order = submit(web.channel, superfibre(ext, wifiManagement=False))
    [service_order] = service_orders(order)
    som_order = som.accept(service_order)
    som.start(service_order)
    return order, service_order, som_order


def test_som_unreadable_is_asked_again_before_the_items_follow_the_order(web, som, settings):
    order, service_order, som_order = _ended_without_items(web, som, "rb-1", "failed")
    # SOM built the first item and failed the second, but says only "failed" at the order level...
    first, second = sorted(som_order["serviceOrderItem"], key=somtmf.item_sort_key)
    somtmf.complete_item(som.orders[service_order.pk], first["id"])
    somtmf.fail_item(som.orders[service_order.pk], second["id"], "simulated", "no port", somtmf.utc_now())
    som.report(minimal_event(som_order["id"], "failed"))
    # ...and cannot be read back for now.
    settings.COM_SOM_ENDPOINTS = {"default": {"url": f"http://127.0.0.1:{closed_port()}/som",
                                              "secret": settings.COM_SOM_EVENT_SECRET}}
    settings.COM_HTTP_TIMEOUT = 1

    assert reconciliation.read_back(service_order_id=service_order.pk, last_try=False) == reconciliation.TRY_AGAIN
    assert [p[3] for p in plan(order)] == ["inProgress", "inProgress"]  # no guess made

    http_som = HttpSom(som)  # SOM is back: its items' real states are used, not the order's "failed"
    settings.COM_SOM_ENDPOINTS = {"default": {"url": http_som.url, "secret": settings.COM_SOM_EVENT_SECRET}}
    try:
        reconciliation.read_back(service_order_id=service_order.pk, last_try=False)
    finally:
        http_som.close()
    built, failed = [p[3] for p in plan(order)]
    assert built == "completed"  # following the order's "failed" would have thrown away a built service
    assert failed == "planned"  # the failed one, sent again by its CFS retry policy


def test_the_read_back_task_retries_then_the_items_follow_the_order(web, som, settings):
    order, service_order, som_order = _ended_without_items(web, som, "rb-2", "completed")
    som.report(minimal_event(som_order["id"], "completed"))
    settings.COM_SOM_ENDPOINTS = {"default": {"url": f"http://127.0.0.1:{closed_port()}/som",
                                              "secret": settings.COM_SOM_EVENT_SECRET}}
    settings.COM_HTTP_TIMEOUT = 1
    settings.COM_SOM_READBACK_ATTEMPTS = 3
    settings.COM_OUTBOX_BACKOFF = 0

    result = read_back_service_order.apply(args=[service_order.pk])  # eager: each retry runs at once

    assert "completed" in result.get()
    assert result.task_id and [p[3] for p in plan(order)] == ["completed", "completed"]
    order.refresh_from_db()
    assert order.state == "completed"


# --- history reasons --------------------------------------------------------------------------------------

def test_a_history_reason_over_100_characters_is_cut_not_an_error(web):
    order = submit(web.channel, superfibre("long-reason"))
    order._change_reason = "SOM said: " + "x" * 400
    order.save()

    reason = order.history.latest().history_change_reason
    assert len(reason) == 100 and reason.startswith("SOM said: x") and reason.endswith("…")


# --- a backlog of stored events does not make SOM look quiet -------------------------------------------------

def test_a_service_order_with_an_event_stored_not_yet_applied_is_not_read_back(web, som, settings):
    from orders.models import InboundEvent
    from orders.selectors import service_orders_to_read_back
    from orders.services import som_events

    from .flows import post_event

    order = submit(web.channel, superfibre("backlog-1", wifiManagement=False))
    [service_order] = service_orders(order)
    som.accept(service_order)
    somtmf.start(som.orders[service_order.pk], somtmf.utc_now())
    payload = som.event(service_order)
    assert post_event(payload).status_code == 201  # stored; its task still in the queue behind others
    settings.COM_SOM_POLL_AFTER_SECONDS = 0  # and SOM "quiet" by the clock

    assert not service_orders_to_read_back().filter(pk=service_order.pk).exists()

    som_events.apply_som_event(inbound_event_id=InboundEvent.objects.get(event_id=payload["eventId"]).pk)
    assert service_orders_to_read_back().filter(pk=service_order.pk).exists()  # applied, and quiet since
