"""Inventory fixtures built with the ORM: a catalog offering, orders of two channels, their products."""
from datetime import datetime, timezone

import pytest

from catalog.models import ProductOffering, ProductSpecification
from inventory.models import Product, ProductStatus
from orders.models import ProductOrder, ProductOrderItem

ORDER_DATE = datetime(2024, 3, 1, 9, 30, tzinfo=timezone.utc)
START_DATE = datetime(2024, 3, 5, 14, 0, tzinfo=timezone.utc)


@pytest.fixture
def offering(db):
    spec = ProductSpecification.objects.create(spec_id="SPEC-FIBRE", version=2, name="Fibre access")
    return ProductOffering.objects.create(offering_id="OFF-FIBRE-1G", name="Fibre 1 Gbit/s", specification=spec)


@pytest.fixture
def other_offering(db):
    spec = ProductSpecification.objects.create(spec_id="SPEC-TV", version=1, name="IPTV")
    return ProductOffering.objects.create(offering_id="OFF-TV", name="TV basic", specification=spec)


@pytest.fixture
def make_order():
    def make(client, customer_id="CUST-1"):
        return ProductOrder.objects.create(channel=client.channel, customer_id=customer_id)

    return make


@pytest.fixture
def make_product():
    def make(order, offering, *, status=ProductStatus.ACTIVE, last_order=None, **fields):
        return Product.objects.create(
            status=status,
            name=fields.pop("name", offering.name),
            customer_id=fields.pop("customer_id", order.customer_id),
            product_offering=offering,
            product_specification=offering.specification,
            created_by_order=order,
            last_order=last_order or order,
            order_date=fields.pop("order_date", ORDER_DATE),
            **fields,
        )

    return make


@pytest.fixture
def full_product(portal, offering, make_order, make_product):
    """A product of the portal channel with every optional part: place, prices, services, order item."""
    order = make_order(portal, "CUST-1")
    product = make_product(
        order, offering,
        start_date=START_DATE,
        characteristics={"downloadSpeed": 1000, "staticIp": True, "latencyMs": 4.5, "router": "FRITZ!Box"},
        place={"id": "ADDR-42", "role": "installationAddress", "name": "1 Main Street"},
        related_parties=[{"id": "CUST-1", "name": "Ada Lovelace", "role": "customer", "referred_type": "Individual"}],
        prices=[
            {"name": "Monthly fee", "price_type": "recurring", "amount": "39.90", "currency": "EUR",
             "recurring_period": "month"},
            {"name": "Installation", "price_type": "oneTime", "amount": "49.00", "currency": "EUR",
             "recurring_period": ""},
        ],
        realizing_services=[{"service_spec": "CFS-FIBRE-ACCESS", "service_id": "SVC-1001",
                             "inputs": {"downloadSpeed": 1000}}],
        billing_account_id="BA-77",
    )
    ProductOrderItem.objects.create(order=order, item_id="1", action="add", product_offering=offering,
                                    offering_version=offering.version,
                                    product_specification=offering.specification, product=product)
    return product
