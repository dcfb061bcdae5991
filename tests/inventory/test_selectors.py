"""Inventory selectors: visibility and filters, without the API."""
import pytest

from comapp.errors import NotFound, ValidationFailed
from inventory.models import ProductStatus
from inventory.selectors import product_detail, product_list, products_visible_to


@pytest.mark.django_db
class TestSelectors:
    def test_visibility_by_creating_or_last_order(self, portal, make_channel, staff_client, offering, make_order,
                                                  make_product):
        retail = make_channel("retail")
        mine = make_product(make_order(portal), offering)
        changed_by_me = make_product(make_order(retail), offering, last_order=make_order(portal))
        theirs = make_product(make_order(retail), offering)

        assert set(products_visible_to(portal.channel.user)) == {mine, changed_by_me}
        assert set(products_visible_to(retail.channel.user)) == {changed_by_me, theirs}
        assert set(products_visible_to(staff_client.user)) == {mine, changed_by_me, theirs}

    def test_product_list_filters(self, portal, offering, other_offering, make_order, make_product):
        wanted = make_product(make_order(portal, "CUST-A"), offering, status=ProductStatus.SUSPENDED)
        make_product(make_order(portal, "CUST-A"), other_offering, status=ProductStatus.SUSPENDED)
        make_product(make_order(portal, "CUST-B"), offering, status=ProductStatus.SUSPENDED)
        make_product(make_order(portal, "CUST-A"), offering, status=ProductStatus.ACTIVE)

        found = product_list(user=portal.channel.user, filters={
            "relatedParty.id": "CUST-A", "status": "suspended", "productOffering.id": offering.offering_id})

        assert list(found) == [wanted]

    def test_product_list_rejects_unknown_filter(self, portal):
        with pytest.raises(ValidationFailed):
            product_list(user=portal.channel.user, filters={"name": "x"})

    def test_product_detail_not_visible_is_not_found(self, portal, make_channel, offering, make_order, make_product):
        theirs = make_product(make_order(make_channel("retail")), offering)

        assert product_detail(user=theirs.created_by_order.channel.user, product_id=theirs.pk) == theirs
        with pytest.raises(NotFound):
            product_detail(user=portal.channel.user, product_id=theirs.pk)
        with pytest.raises(NotFound):
            product_detail(user=portal.channel.user, product_id="PR-MISSING")
