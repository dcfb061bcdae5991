"""Catalog writes: the demo catalog loader and specification revision."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from django.core.management import call_command

from catalog.models import (
    DecompositionRule, LifecycleStatus, ProductOffering, ProductOfferingPrice, ProductSpecCharacteristic,
    ProductSpecification, ServiceSpecification,
)
from catalog.selectors import latest_specification, orderable_offering
from catalog.services import load_demo_catalog, revise_specification
from comapp.errors import NotAllowed, NotFound, ValidationFailed

CATALOG_MODELS = [ServiceSpecification, ProductSpecification, ProductSpecCharacteristic, DecompositionRule,
                  ProductOffering, ProductOfferingPrice]


def _counts() -> dict:
    return {model.__name__: model.objects.count() for model in CATALOG_MODELS}


def _rules(specification) -> list[tuple]:
    return [(r.service_specification.code, r.sequence, r.mandatory, r.condition_characteristic, r.condition_operator,
             r.condition_value, r.technology, r.input_characteristics)
            for r in specification.decomposition_rules.all()]


def _characteristics(specification) -> list[tuple]:
    return [(c.name, c.description, c.value_type, c.mandatory, c.configurable, c.allowed_values, c.default_value,
             c.unit) for c in specification.characteristics.all()]


@pytest.mark.django_db
class TestLoadDemoCatalog:
    def test_creates_the_demo_catalog(self):
        result = load_demo_catalog()

        assert (result.service_specifications, result.product_specifications, result.product_offerings) == (8, 6, 6)
        assert _counts() == {"ServiceSpecification": 8, "ProductSpecification": 6, "ProductSpecCharacteristic": 10,
                             "DecompositionRule": 12, "ProductOffering": 6, "ProductOfferingPrice": 8}

    def test_running_twice_changes_nothing(self, capsys):
        call_command("load_demo_catalog")
        before = _counts()
        first_output = capsys.readouterr().out

        call_command("load_demo_catalog")

        assert _counts() == before
        assert "created 8 service specification(s), 6 product specification(s), 6 product offering(s)" in first_output
        assert "created 0 service specification(s), 0 product specification(s), 0 product offering(s)" in (
            capsys.readouterr().out)

    def test_quiet_at_verbosity_0(self, capsys):
        call_command("load_demo_catalog", verbosity=0)

        assert capsys.readouterr().out == ""

    def test_leaves_existing_rows_alone_and_fills_in_what_is_missing(self):
        ServiceSpecification.objects.create(code="Static-IP", name="Renamed by an admin", max_retries=5)
        load_demo_catalog()
        ProductOffering.objects.filter(offering_id="PO-STATIC-IP").delete()
        ProductOffering.objects.filter(offering_id="PO-INSTALL").update(name="Kept")

        result = load_demo_catalog()

        assert result.product_offerings == 1
        static_ip = ServiceSpecification.objects.get(code="Static-IP")
        assert (static_ip.name, static_ip.max_retries, list(static_ip.depends_on.all())) == (
            "Renamed by an admin", 5, [])
        assert ProductOffering.objects.get(offering_id="PO-INSTALL").name == "Kept"
        assert ProductOffering.objects.get(offering_id="PO-STATIC-IP").prices.get().amount == Decimal("5.00")

    def test_demo_data(self, demo_catalog):
        static_ip = ServiceSpecification.objects.get(code="Static-IP")
        assert [s.code for s in static_ip.depends_on.all()] == ["Internet-Access"]
        assert [s.code for s in ServiceSpecification.objects.get(code="Router-Configuration").depends_on.all()] == [
            "CPE-Management"]
        internet = ServiceSpecification.objects.get(code="Internet-Access")
        assert (internet.max_retries, internet.failure_policy, internet.shareable, internet.reversible) == (
            2, "compensate", True, True)
        assert ServiceSpecification.objects.get(code="ONT-Installation").reversible is False

        broadband = ProductSpecification.objects.get(spec_id="PS-RES-BB")
        assert _rules(broadband) == [
            ("Internet-Access", 10, True, "", "", None, "", ["downloadSpeed"]),
            ("WiFi-Management", 20, False, "wifiManagement", "eq", True, "", ["wifiManagement"]),
            ("CPE-Management", 30, True, "", "", None, "", ["routerModel"]),
        ]
        install = ProductSpecification.objects.get(spec_id="PS-INSTALL")
        assert (install.requires_place, install.requires_appointment) == (True, True)
        assert [(r.service_specification.code, r.technology) for r in install.decomposition_rules.all()] == [
            ("ONT-Installation", "GPON"), ("Modem-Shipment", "HFC")]

        superfibre = ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200")
        assert superfibre.valid_from == datetime(2025, 1, 1, tzinfo=timezone.utc)
        assert [(p.name, p.price_type, p.amount, p.recurring_period) for p in superfibre.prices.all()] == [
            ("Monthly fee", "recurring", Decimal("39.99"), "month"),
            ("Activation fee", "oneTime", Decimal("49.00"), ""),
        ]
        adsl = ProductOffering.objects.get(offering_id="PO-ADSL-16")
        assert (adsl.lifecycle_status, adsl.valid_to) == ("retired", datetime(2024, 1, 1, tzinfo=timezone.utc))


@pytest.mark.django_db
class TestReviseSpecification:
    def test_creates_the_next_version_and_repoints_the_offering(self, demo_catalog):
        v1 = ProductSpecification.objects.get(spec_id="PS-RES-BB", version=1)
        offering = ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200")
        v1_updated = v1.last_update

        v2 = revise_specification(specification=v1, actor_name="admin")

        assert (v2.spec_id, v2.version, v2.name, v2.lifecycle_status) == ("PS-RES-BB", 2, v1.name, "active")
        assert (v2.requires_place, v2.requires_appointment) == (v1.requires_place, v1.requires_appointment)
        assert _characteristics(v2) == _characteristics(v1)
        assert _rules(v2) == _rules(v1)
        assert len(_rules(v2)) == 3
        offering.refresh_from_db()
        assert (offering.specification, offering.version) == (v2, "2")
        assert offering.last_update >= v2.last_update
        v1.refresh_from_db()
        assert (v1.version, v1.lifecycle_status, v1.last_update) == (1, LifecycleStatus.ACTIVE, v1_updated)
        assert len(_rules(v1)) == 3 and len(_characteristics(v1)) == 3
        assert latest_specification(spec_id="PS-RES-BB") == v2
        assert offering.history.first().history_change_reason == "Version 2 of PS-RES-BB by admin"

    def test_order_items_keep_the_version_they_were_captured_with(self, demo_catalog, capture_item):
        offering = ProductOffering.objects.get(offering_id="PO-STATIC-IP")
        item = capture_item(offering)
        v1 = offering.specification
        assert v1.in_use

        v2 = revise_specification(specification=v1, actor_name="admin")

        item.refresh_from_db()
        assert (item.product_specification, item.offering_version) == (v1, "1")
        assert not v2.in_use

    def test_revising_an_older_version_numbers_after_the_latest(self, demo_catalog):
        v1 = ProductSpecification.objects.get(spec_id="PS-ADSL", version=1)
        revise_specification(specification=v1, actor_name="admin")

        v3 = revise_specification(specification=v1, actor_name="admin")

        assert v3.version == 3
        # The offering already moved to v2, so nothing sells v1 any more.
        assert ProductOffering.objects.get(offering_id="PO-ADSL-16").version == "2"

    def test_an_offering_version_that_is_not_a_number_is_refused_and_nothing_changes(self, demo_catalog):
        ProductOffering.objects.filter(offering_id="PO-INSTALL").update(version="1.0")
        v1 = ProductSpecification.objects.get(spec_id="PS-INSTALL")

        with pytest.raises(ValidationFailed):
            revise_specification(specification=v1, actor_name="admin")

        assert ProductSpecification.objects.filter(spec_id="PS-INSTALL").count() == 1


@pytest.mark.django_db
class TestOrderableOffering:
    def test_active_offering_is_orderable(self, demo_catalog):
        assert orderable_offering(offering_id="PO-INSTALL").offering_id == "PO-INSTALL"

    def test_retired_offering_is_not(self, demo_catalog):
        with pytest.raises(NotAllowed):
            orderable_offering(offering_id="PO-ADSL-16", when=datetime(2020, 1, 1, tzinfo=timezone.utc))

    def test_unknown_offering(self, demo_catalog):
        with pytest.raises(NotFound):
            orderable_offering(offering_id="PO-NOPE")
