"""Catalog fixtures: an admin logged in, and an order item that freezes a specification version."""
import pytest

from orders.models import ProductOrder, ProductOrderItem


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    user = django_user_model.objects.create_superuser(username="root", password="pw", email="root@example.com")
    client.force_login(user)
    return client


@pytest.fixture
def capture_item(portal):
    """Capture an order item against an offering's current specification version, which freezes that version."""
    def capture(offering):
        order = ProductOrder.objects.create(channel=portal.channel, customer_id="CUST-1")
        return ProductOrderItem.objects.create(
            order=order, item_id="1", action="add", product_offering=offering, offering_version=offering.version,
            product_specification=offering.specification,
        )

    return capture
