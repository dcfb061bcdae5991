"""The whole catalog version is pinned: an order is decomposed, and replanned, with the CFS versions named by the
rules of the product specification versions it was captured with, whatever the catalog says by then. A change
to a CFS setting is a new catalog version, which only orders captured after it use."""
import pytest

from catalog.models import ServiceSpecification
from catalog.services import revise_service_specification, update_service_specification
from comapp.errors import NotAllowed, ValidationFailed
from orders import planner
from orders.models import OutboxMessage, ServiceOrderItem
from orders.services.decomposition import pinned_service_specifications
from orders.services.holds import release_hold
from tests.tmf_schema import TMF641, assert_valid

from .flows import installation, service_orders, submit, superfibre
from .test_mutations import amend, cancel_at_som

pytestmark = pytest.mark.usefixtures("demo")
# Internet-Access as an operations manager would change it: no retries, an agent handles failures, and it can no
# longer be cancelled at SOM once the line is assigned.
STRICTER = {"max_retries": 0, "failure_policy": "fallout", "point_of_no_return": "assigned"}


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password="pw", email="root@example.com")


def internet_access(order) -> ServiceOrderItem:
    return ServiceOrderItem.objects.select_related("service_specification").get(
        order=order, service_specification__code="Internet-Access")


def requested_version(order, code: str) -> str:
    """The serviceSpecification version COM asked SOM to build ``code`` with."""
    for message in OutboxMessage.objects.filter(order=order, service_order__isnull=False):
        assert_valid(TMF641, "ServiceOrder_Create", message.payload)
        for line in message.payload["serviceOrderItem"]:
            reference = line["service"]["serviceSpecification"]
            if reference["id"] == code:
                return reference["version"]
    raise AssertionError(f"{code} was not requested")


def test_an_order_held_while_the_cfs_changes_is_built_with_the_cfs_as_captured(web, som, agent):
    held = submit(web.channel, superfibre("pin-held", customer="CUST-4004"))  # held by the credit check
    assert held.state == "held" and not ServiceOrderItem.objects.filter(order=held).exists()

    revision = revise_service_specification(code="Internet-Access", changes=STRICTER, actor_name="catalog-admin")
    release_hold(order=held, user=agent, reason="credit approved")

    row = internet_access(held)
    assert (row.service_specification.version, row.max_retries, row.failure_policy, row.point_of_no_return) == (
        1, 2, "compensate", "activated")
    assert requested_version(held, "Internet-Access") == "1"
    assert held.items.get().product_specification.version == 1
    # and it behaves as captured: a failure of the access line is retried, as version 1 says
    som.fail("Internet-Access", times=1)
    held = som.fulfil(held)
    assert held.state == "completed"
    assert [s.purpose for s in service_orders(held)] == ["fulfil", "retry"]

    fresh = submit(web.channel, superfibre("pin-new"))

    row = internet_access(fresh)
    assert row.service_specification == revision.service_specification
    assert (row.service_specification.version, row.max_retries, row.failure_policy, row.point_of_no_return) == (
        2, 0, "fallout", "assigned")
    assert requested_version(fresh, "Internet-Access") == "2"
    assert fresh.items.get().product_specification.version == 2
    # a failure now goes to an agent at once, as version 2 says
    som.fail("Internet-Access", times=1)
    fresh = som.fulfil(fresh)
    assert fresh.state == "held" and fresh.state_reason_code == "FALLOUT"


def test_the_versions_an_order_uses_are_frozen_from_capture_on(web):
    order = submit(web.channel, superfibre("pin-frozen", customer="CUST-4004"))
    internet = ServiceSpecification.objects.get(code="Internet-Access")

    with pytest.raises(NotAllowed, match="frozen"):
        update_service_specification(specification=internet, changes={"max_retries": 0}, actor_name="catalog-admin")

    internet.refresh_from_db()
    assert internet.max_retries == 2 and order.state == "held"


def _move_to_hfc(web, som, order) -> ServiceOrderItem:
    """Amend an installation in flight to ADDR-2002 (HFC): plan v2 ships a modem instead of installing an ONT."""
    [service_order] = service_orders(order)
    som.accept(service_order)
    som.start(service_order)
    response = amend(web, order.pk, productOrderItem=[{"id": "1", "product": {"place": [{"id": "ADDR-2002"}]}}])
    assert response.json()["state"] == "done", response.content
    cancel_at_som(som, service_order)
    return ServiceOrderItem.objects.select_related("service_specification", "plan").get(
        order=order, service_specification__code="Modem-Shipment")


def test_a_revised_plan_builds_new_services_with_the_cfs_as_captured(web, som):
    before = submit(web.channel, installation("pin-replan"))
    revise_service_specification(code="Modem-Shipment", actor_name="catalog-admin",
                                 changes={"max_retries": 3, "point_of_no_return": "delivered"})
    after = submit(web.channel, installation("pin-replan-2", customer="CUST-3003"))

    modem = _move_to_hfc(web, som, before)

    assert modem.plan.version == 2
    assert (modem.service_specification.version, modem.max_retries, modem.point_of_no_return) == (1, 0, "dispatched")
    assert som.fulfil(before).state == "completed"
    assert requested_version(before, "Modem-Shipment") == "1"

    modem = _move_to_hfc(web, som, after)

    assert modem.plan.version == 2
    assert (modem.service_specification.version, modem.max_retries, modem.point_of_no_return) == (2, 3, "delivered")
    assert som.fulfil(after).state == "completed"
    assert requested_version(after, "Modem-Shipment") == "2"


# --- which version a planned service is built with --------------------------------------------------------

def _delete(code: str, service_id: str) -> planner.PlannedService:
    return planner.PlannedService(f"delete:{service_id}", code, "delete", 1, {}, None, True, service_id=service_id)


def test_a_service_no_rule_names_is_deleted_with_the_version_it_was_built_with(web, som):
    built = som.fulfil(submit(web.channel, superfibre("pin-built")))
    service_id = internet_access(built).service_id
    assert built.state == "completed" and service_id
    revise_service_specification(code="Internet-Access", changes=STRICTER, actor_name="catalog-admin")

    pinned = pinned_service_specifications(built, [_delete("Internet-Access", service_id)])

    assert pinned[f"delete:{service_id}"].version == 1


def test_a_service_com_never_built_and_no_rule_names_takes_the_latest_version(web):
    order = submit(web.channel, superfibre("pin-foreign"))
    revise_service_specification(code="Internet-Access", actor_name="catalog-admin")

    pinned = pinned_service_specifications(order, [_delete("Internet-Access", "SVC-FROM-ELSEWHERE")])

    assert pinned["delete:SVC-FROM-ELSEWHERE"].version == 2


def test_a_service_the_catalog_does_not_know_is_refused(web):
    order = submit(web.channel, superfibre("pin-unknown"))

    with pytest.raises(ValidationFailed, match="No service specification IPTV"):
        pinned_service_specifications(order, [_delete("IPTV", "SVC-1")])
