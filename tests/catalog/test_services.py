"""Catalog writes: the demo catalog loader, product and service specification revision, and the freeze of a
version in use."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from django.core.management import call_command

from catalog.models import (
    DecompositionRule,
    LifecycleStatus,
    ProductOffering,
    ProductOfferingPrice,
    ProductSpecCharacteristic,
    ProductSpecification,
    ServiceSpecification,
)
from catalog.selectors import latest_specification, orderable_offering
from catalog.services import (
    load_demo_catalog, revise_service_specification, revise_specification, update_service_specification,
)
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
                             "DecompositionRule": 12, "ProductOffering": 6, "ProductOfferingPrice": 10}

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
            ("Speed 500 Mbps", "recurring", Decimal("10.00"), "month"),
            ("Premium router", "recurring", Decimal("4.00"), "month"),
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


def _offering_specs() -> dict:
    return {o.offering_id: (o.specification.spec_id, o.specification.version, o.version)
            for o in ProductOffering.objects.select_related("specification")}


def _settings(service) -> tuple:
    return (service.name, service.som, service.max_retries, service.failure_policy, service.shareable,
            service.reversible, service.milestones, service.point_of_no_return, service.compensation_action)


@pytest.mark.django_db
class TestUpdateServiceSpecification:
    def test_a_version_in_use_is_frozen_and_nothing_changes(self, demo_catalog, capture_item):
        capture_item(ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200"))
        internet = ServiceSpecification.objects.get(code="Internet-Access")
        before = _settings(internet)
        assert internet.in_use

        with pytest.raises(NotAllowed) as refused:
            update_service_specification(specification=internet, changes={"max_retries": 9}, actor_name="admin")

        assert refused.value.code == "SPECIFICATION_FROZEN"
        assert "Internet-Access v1 is frozen" in refused.value.message
        assert "Create a new version of Internet-Access" in refused.value.message
        internet.refresh_from_db()
        assert _settings(internet) == before and internet.history.count() == 1

    def test_dependencies_of_a_frozen_version_cannot_change_either(self, demo_catalog, capture_item):
        capture_item(ProductOffering.objects.get(offering_id="PO-STATIC-IP"))
        static_ip = ServiceSpecification.objects.get(code="Static-IP")

        with pytest.raises(NotAllowed):
            update_service_specification(specification=static_ip, changes={}, depends_on=[], actor_name="admin")

        assert [s.code for s in static_ip.depends_on.all()] == ["Internet-Access"]

    def test_an_unknown_setting_is_refused(self, demo_catalog):
        internet = ServiceSpecification.objects.get(code="Internet-Access")

        with pytest.raises(ValidationFailed) as refused:
            update_service_specification(specification=internet, changes={"code": "X", "colour": "red"},
                                         actor_name="admin")

        assert "colour, code" in refused.value.message or "code, colour" in refused.value.message
        internet.refresh_from_db()
        assert internet.code == "Internet-Access"

    def test_an_invalid_value_is_refused_and_nothing_changes(self, demo_catalog):
        internet = ServiceSpecification.objects.get(code="Internet-Access")

        with pytest.raises(ValidationFailed) as refused:
            update_service_specification(specification=internet, changes={"failure_policy": "pray", "max_retries": 1},
                                         actor_name="admin")

        assert [p.field for p in refused.value.problems] == ["failure_policy"]
        internet.refresh_from_db()
        assert (internet.failure_policy, internet.max_retries) == ("compensate", 2)

    @pytest.mark.parametrize("depends_on, message", [(["Nope"], "No service specification Nope"),
                                                     (["Static-IP"], "Static-IP cannot depend on itself")])
    def test_a_bad_dependency_is_refused(self, demo_catalog, depends_on, message):
        static_ip = ServiceSpecification.objects.get(code="Static-IP")

        with pytest.raises(ValidationFailed, match=message):
            update_service_specification(specification=static_ip, changes={"max_retries": 4}, depends_on=depends_on,
                                         actor_name="admin")

        static_ip.refresh_from_db()
        assert static_ip.max_retries == 1 and [s.code for s in static_ip.depends_on.all()] == ["Internet-Access"]

    def test_a_dependency_loop_through_another_service_is_refused(self, demo_catalog):
        internet = ServiceSpecification.objects.get(code="Internet-Access")  # Static-IP depends on it
        before = [s.code for s in internet.depends_on.all()]

        with pytest.raises(ValidationFailed, match="a dependency loop: Internet-Access → Static-IP → Internet-Access"):
            update_service_specification(specification=internet, changes={}, depends_on=["Static-IP"],
                                         actor_name="admin")
        with pytest.raises(ValidationFailed, match="a dependency loop"):
            revise_service_specification(code="Internet-Access", depends_on=["Static-IP"], actor_name="admin")

        assert [s.code for s in internet.depends_on.all()] == before
        assert ServiceSpecification.objects.filter(code="Internet-Access").count() == 1

    def test_a_version_not_in_use_is_edited_in_place(self, demo_catalog, capture_item):
        # An order for Static IP freezes Static-IP, not the WiFi service its specification does not name.
        capture_item(ProductOffering.objects.get(offering_id="PO-STATIC-IP"))
        wifi = ServiceSpecification.objects.get(code="WiFi-Management")
        assert not wifi.in_use

        updated = update_service_specification(specification=wifi, changes={"max_retries": 3, "som": "wifi"},
                                               depends_on=["CPE-Management"], actor_name="admin")

        assert (updated.pk, updated.version, updated.max_retries, updated.som) == (wifi.pk, 1, 3, "wifi")
        assert [s.code for s in updated.depends_on.all()] == ["CPE-Management"]
        assert updated.history.first().history_change_reason == "Changed by admin: max_retries, som, depends_on"

    def test_a_long_reason_is_cut_to_what_the_history_holds(self, demo_catalog):
        wifi = ServiceSpecification.objects.get(code="WiFi-Management")

        update_service_specification(specification=wifi, changes={"max_retries": 1}, actor_name="a" * 150)

        reason = wifi.history.first().history_change_reason
        assert len(reason) == 100 and reason.startswith("Changed by aaa") and reason.endswith("…")


@pytest.mark.django_db
class TestReviseServiceSpecification:
    def test_an_unknown_code_is_not_found(self, demo_catalog):
        with pytest.raises(NotFound):
            revise_service_specification(code="Nope", actor_name="admin")

    def test_a_bad_change_creates_nothing(self, demo_catalog):
        before = _counts()

        with pytest.raises(ValidationFailed):
            revise_service_specification(code="Internet-Access", changes={"max_retries": -1}, actor_name="admin")

        assert _counts() == before

    def test_an_offering_version_that_is_not_a_number_undoes_the_whole_revision(self, demo_catalog):
        ProductOffering.objects.filter(offering_id="PO-BIZ-FIBRE-1G").update(version="1.0")
        before = _counts()

        with pytest.raises(ValidationFailed):
            revise_service_specification(code="Internet-Access", changes={"max_retries": 5}, actor_name="admin")

        assert _counts() == before
        assert ServiceSpecification.objects.get(code="Internet-Access").version == 1

    def test_creates_the_next_version_and_revises_the_product_specifications_naming_it(self, demo_catalog,
                                                                                       capture_item):
        capture_item(ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200"))
        v1 = ServiceSpecification.objects.get(code="Internet-Access")
        offerings_before = _offering_specs()

        revision = revise_service_specification(
            code="Internet-Access", actor_name="admin",
            changes={"max_retries": 0, "failure_policy": "fallout", "point_of_no_return": "assigned"})

        v2 = revision.service_specification
        assert (v2.code, v2.version, v2.pk != v1.pk) == ("Internet-Access", 2, True)
        assert (v2.max_retries, v2.failure_policy, v2.point_of_no_return) == (0, "fallout", "assigned")
        assert (v2.name, v2.som, v2.shareable, v2.reversible, v2.milestones, v2.compensation_action) == (
            v1.name, v1.som, v1.shareable, v1.reversible, v1.milestones, v1.compensation_action)
        assert not v2.in_use
        v1.refresh_from_db()
        assert (v1.version, v1.max_retries, v1.failure_policy, v1.point_of_no_return) == (1, 2, "compensate",
                                                                                          "activated")
        # Every active product specification whose rules named it, ADSL's too (its offering is retired, not it).
        assert sorted((s.spec_id, s.version) for s in revision.product_specifications) == [
            ("PS-ADSL", 2), ("PS-BIZ-FIBRE", 2), ("PS-RES-BB", 2)]
        for spec in revision.product_specifications:
            old = ProductSpecification.objects.get(spec_id=spec.spec_id, version=1)
            assert [(code, version) for code, version, *_ in _rule_versions(spec)] == [
                (code, 2 if code == "Internet-Access" else 1) for code, *_ in _rule_versions(old)]
            assert [rest for _, _, *rest in _rule_versions(spec)] == [rest for _, _, *rest in _rule_versions(old)]
            assert _characteristics(spec) == _characteristics(old)
            assert all(r.service_specification.version == 1 for r in old.decomposition_rules.all())
        assert _offering_specs() == {
            **offerings_before,
            "PO-SUPERFIBRE-200": ("PS-RES-BB", 2, "2"), "PO-BIZ-FIBRE-1G": ("PS-BIZ-FIBRE", 2, "2"),
            "PO-ADSL-16": ("PS-ADSL", 2, "2")}
        assert v2.history.first().history_change_reason == (
            "Version 2 of Internet-Access by admin, copied from version 1 with changes")
        superfibre = ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200")
        assert superfibre.history.first().history_change_reason == (
            "Version 2 of PS-RES-BB by admin: Internet-Access v2 replaces v1")

    def test_copies_the_dependencies_by_code(self, demo_catalog):
        internet_v2 = revise_service_specification(code="Internet-Access", actor_name="admin").service_specification

        static_ip_v2 = revise_service_specification(code="Static-IP", actor_name="admin").service_specification

        assert [(s.code, s.version) for s in static_ip_v2.depends_on.all()] == [("Internet-Access", 2)]
        assert internet_v2.depends_on.count() == 0
        static_ip_v3 = revise_service_specification(code="Static-IP", actor_name="admin",
                                                    depends_on=[]).service_specification
        assert static_ip_v3.depends_on.count() == 0
        assert ProductOffering.objects.get(offering_id="PO-STATIC-IP").specification.version == 3

    def test_revising_again_numbers_after_the_latest_and_leaves_retired_specifications(self, demo_catalog):
        revise_service_specification(code="Internet-Access", actor_name="admin")
        ProductSpecification.objects.filter(spec_id="PS-ADSL").update(lifecycle_status=LifecycleStatus.RETIRED)

        revision = revise_service_specification(code="Internet-Access", actor_name="admin")

        assert revision.service_specification.version == 3
        assert sorted((s.spec_id, s.version) for s in revision.product_specifications) == [
            ("PS-BIZ-FIBRE", 3), ("PS-RES-BB", 3)]
        assert ProductSpecification.objects.filter(spec_id="PS-ADSL").count() == 2
        assert str(revision) == ("Internet-Access v3 (named by Business Fibre Access v3, "
                                 "Residential Broadband Access v3)")

    def test_the_demo_catalog_loads_nothing_more_after_a_revision(self, demo_catalog):
        revise_service_specification(code="Internet-Access", actor_name="admin")
        before = _counts()

        result = load_demo_catalog()

        assert (result.service_specifications, result.product_specifications, result.product_offerings) == (0, 0, 0)
        assert _counts() == before

    def test_a_demo_specification_loaded_after_a_revision_names_the_latest_version(self, demo_catalog):
        revise_service_specification(code="Static-IP", actor_name="admin")
        ProductOffering.objects.filter(offering_id="PO-STATIC-IP").delete()
        ProductSpecification.objects.filter(spec_id="PS-STATIC-IP").delete()

        load_demo_catalog()

        [rule] = ProductSpecification.objects.get(spec_id="PS-STATIC-IP").decomposition_rules.all()
        assert (rule.service_specification.code, rule.service_specification.version) == ("Static-IP", 2)


def _rule_versions(specification) -> list[tuple]:
    return [(r.service_specification.code, r.service_specification.version, r.sequence, r.mandatory,
             r.condition_characteristic, r.technology, r.input_characteristics)
            for r in specification.decomposition_rules.all()]
