"""Catalog admin: editable by admins, a product or service specification version frozen once in use (its history
included), and the new-version actions."""
import json
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from catalog.models import ProductOffering, ProductOfferingPrice, ProductSpecification, ServiceSpecification
from catalog.services import load_demo_catalog
from comapp.errors import ValidationFailed


@pytest.mark.django_db
class TestCatalogAdmin:
    @pytest.mark.parametrize("model", ["servicespecification", "productspecification", "productoffering"])
    def test_changelists_open(self, admin_client_logged_in, demo_catalog, model):
        assert admin_client_logged_in.get(reverse(f"admin:catalog_{model}_changelist")).status_code == 200

    def test_specification_add_page_has_both_inlines(self, admin_client_logged_in):
        page = admin_client_logged_in.get(reverse("admin:catalog_productspecification_add")).content.decode()

        assert 'name="characteristics-TOTAL_FORMS"' in page
        assert 'name="decomposition_rules-TOTAL_FORMS"' in page

    def test_offering_list_filters(self, admin_client_logged_in, demo_catalog):
        url = reverse("admin:catalog_productoffering_changelist")

        response = admin_client_logged_in.get(url, {"lifecycle_status": "retired", "category": "residential"})

        assert response.status_code == 200
        page = response.content.decode()
        assert "PO-ADSL-16" in page and "PO-INSTALL" not in page

    def test_offering_change_page_has_prices(self, admin_client_logged_in, demo_catalog):
        offering = ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200")

        response = admin_client_logged_in.get(reverse("admin:catalog_productoffering_change", args=[offering.pk]))

        assert response.status_code == 200
        assert "Activation fee" in response.content.decode()

    def test_unused_specification_is_editable(self, admin_client_logged_in, demo_catalog):
        spec = ProductSpecification.objects.get(spec_id="PS-RES-BB")

        page = admin_client_logged_in.get(reverse("admin:catalog_productspecification_change", args=[spec.pk]))

        assert page.status_code == 200
        content = page.content.decode()
        assert 'name="_save"' in content
        assert 'name="characteristics-0-name"' in content
        assert 'name="decomposition_rules-0-sequence"' in content

    def test_specification_in_use_is_read_only(self, admin_client_logged_in, demo_catalog, capture_item):
        offering = ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200")
        capture_item(offering)
        spec = offering.specification
        url = reverse("admin:catalog_productspecification_change", args=[spec.pk])

        page = admin_client_logged_in.get(url)
        posted = admin_client_logged_in.post(url, {"spec_id": "PS-RES-BB", "version": 1, "name": "renamed"})

        assert page.status_code == 200
        content = page.content.decode()
        assert 'name="_save"' not in content
        assert 'name="characteristics-0-name"' not in content
        assert 'name="decomposition_rules-0-sequence"' not in content
        assert "downloadSpeed" in content
        assert posted.status_code == 403
        spec.refresh_from_db()
        assert spec.name == "Residential Broadband Access"

    def test_create_a_new_version_action(self, admin_client_logged_in, demo_catalog, capture_item):
        offering = ProductOffering.objects.get(offering_id="PO-STATIC-IP")
        capture_item(offering)
        url = reverse("admin:catalog_productspecification_changelist")

        response = admin_client_logged_in.post(
            url, {"action": "create_new_version", "_selected_action": [offering.specification.pk]}, follow=True)

        assert response.status_code == 200
        assert "Created Static IP Address v2" in response.content.decode()
        offering.refresh_from_db()
        assert (offering.specification.version, offering.version) == (2, "2")
        assert ProductSpecification.objects.filter(spec_id="PS-STATIC-IP").count() == 2

    def test_specification_history_is_viewable(self, admin_client_logged_in, demo_catalog):
        spec = ProductSpecification.objects.get(spec_id="PS-RES-BB")

        url = reverse("admin:catalog_productspecification_history", args=[spec.pk])

        assert admin_client_logged_in.get(url).status_code == 200


def _service_form(service, **changes) -> dict:
    """The change form of a service specification as the browser posts it (with the hidden initial value Django
    adds for a field with a callable default)."""
    data = {"name": service.name, "description": service.description, "som": service.som,
            "max_retries": service.max_retries, "failure_policy": service.failure_policy,
            "milestones": json.dumps(service.milestones), "initial-milestones": json.dumps(service.milestones),
            "compensation_action": service.compensation_action,
            "point_of_no_return": service.point_of_no_return,
            "depends_on": [d.pk for d in service.depends_on.all()],
            **({"shareable": "on"} if service.shareable else {}),
            **({"reversible": "on"} if service.reversible else {})}
    return {**data, **changes}


@pytest.mark.django_db
class TestServiceSpecificationAdmin:
    def test_a_version_in_use_is_read_only_and_a_post_changes_nothing(self, admin_client_logged_in, demo_catalog,
                                                                     capture_item):
        capture_item(ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200"))
        internet = ServiceSpecification.objects.get(code="Internet-Access")
        url = reverse("admin:catalog_servicespecification_change", args=[internet.pk])

        page = admin_client_logged_in.get(url)
        posted = admin_client_logged_in.post(url, _service_form(internet, max_retries=9))

        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert posted.status_code == 403
        internet.refresh_from_db()
        assert internet.max_retries == 2

    def test_the_history_of_a_frozen_version_cannot_be_written_back(self, admin_client_logged_in, demo_catalog,
                                                                    capture_item):
        offering = ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200")
        capture_item(offering)
        internet = ServiceSpecification.objects.get(code="Internet-Access")
        spec = offering.specification
        service_url = reverse("admin:catalog_servicespecification_simple_history",
                              args=[internet.pk, internet.history.first().history_id])
        spec_url = reverse("admin:catalog_productspecification_simple_history",
                           args=[spec.pk, spec.history.first().history_id])

        assert admin_client_logged_in.get(service_url).status_code == 200
        assert admin_client_logged_in.post(service_url, _service_form(internet, max_retries=9)).status_code == 403
        assert admin_client_logged_in.post(spec_url, {"spec_id": "PS-RES-BB", "version": 1, "name": "renamed",
                                                      "lifecycle_status": "active",
                                                      "last_update_0": "2025-01-01", "last_update_1": "00:00:00",
                                                      }).status_code == 403
        internet.refresh_from_db()
        spec.refresh_from_db()
        assert (internet.max_retries, spec.name) == (2, "Residential Broadband Access")

    def test_a_version_not_in_use_is_edited_through_the_service(self, admin_client_logged_in, demo_catalog):
        static_ip = ServiceSpecification.objects.get(code="Static-IP")
        cpe = ServiceSpecification.objects.get(code="CPE-Management")
        url = reverse("admin:catalog_servicespecification_change", args=[static_ip.pk])

        response = admin_client_logged_in.post(url, _service_form(static_ip, max_retries=4, depends_on=[cpe.pk]))

        assert response.status_code == 302
        static_ip.refresh_from_db()
        assert (static_ip.version, static_ip.max_retries) == (1, 4)
        assert [d.code for d in static_ip.depends_on.all()] == ["CPE-Management"]
        assert static_ip.history.first().history_change_reason == "Changed by root: max_retries, depends_on"

    def test_a_service_cannot_depend_on_itself(self, admin_client_logged_in, demo_catalog):
        static_ip = ServiceSpecification.objects.get(code="Static-IP")
        url = reverse("admin:catalog_servicespecification_change", args=[static_ip.pk])

        response = admin_client_logged_in.post(url, _service_form(static_ip, depends_on=[static_ip.pk]))

        assert response.status_code == 200
        assert "Static-IP cannot depend on itself" in response.content.decode()
        assert [d.code for d in static_ip.depends_on.all()] == ["Internet-Access"]

    def test_adding_a_code_that_exists_is_refused(self, admin_client_logged_in, demo_catalog):
        internet = ServiceSpecification.objects.get(code="Internet-Access")

        response = admin_client_logged_in.post(reverse("admin:catalog_servicespecification_add"),
                                               _service_form(internet, code="Internet-Access", depends_on=[]))

        assert response.status_code == 200
        assert "Create a new version" in response.content.decode()
        assert ServiceSpecification.objects.filter(code="Internet-Access").count() == 1

    def test_adding_a_new_code_makes_its_version_1(self, admin_client_logged_in, demo_catalog):
        internet = ServiceSpecification.objects.get(code="Internet-Access")

        response = admin_client_logged_in.post(reverse("admin:catalog_servicespecification_add"),
                                               _service_form(internet, code="IPTV", name="IPTV",
                                                             depends_on=[internet.pk]))

        assert response.status_code == 302
        iptv = ServiceSpecification.objects.get(code="IPTV")
        assert iptv.version == 1 and [d.code for d in iptv.depends_on.all()] == ["Internet-Access"]

    def test_create_a_new_version_action(self, admin_client_logged_in, demo_catalog, capture_item):
        capture_item(ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200"))
        internet = ServiceSpecification.objects.get(code="Internet-Access")
        url = reverse("admin:catalog_servicespecification_changelist")

        response = admin_client_logged_in.post(
            url, {"action": "create_new_version", "_selected_action": [internet.pk]}, follow=True)

        assert response.status_code == 200
        assert ("Created Internet-Access v2 (named by ADSL Access v2, Business Fibre Access v2, Residential "
                "Broadband Access v2)") in response.content.decode()
        assert ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200").specification.version == 2
        v2 = ServiceSpecification.objects.get(code="Internet-Access", version=2)
        page = admin_client_logged_in.get(reverse("admin:catalog_servicespecification_change", args=[v2.pk]))
        assert 'name="_save"' in page.content.decode()  # nothing uses the new version yet: it can be set

    def test_the_new_version_action_needs_the_right_to_make_product_versions_too(self, client, django_user_model,
                                                                                  demo_catalog):
        from django.contrib.auth.models import Permission

        user = django_user_model.objects.create_user(username="cfs-only", password="pw", is_staff=True)
        user.user_permissions.set(Permission.objects.filter(codename__in=[
            "view_servicespecification", "add_servicespecification", "change_servicespecification"]))
        client.force_login(user)
        internet = ServiceSpecification.objects.get(code="Internet-Access")
        url = reverse("admin:catalog_servicespecification_changelist")

        page = client.get(url).content.decode()
        client.post(url, {"action": "create_new_version", "_selected_action": [internet.pk]})

        assert "create_new_version" not in page
        assert ServiceSpecification.objects.filter(code="Internet-Access").count() == 1


class _FormReader(HTMLParser):
    """The fields of the admin change form as a browser would post them (inputs, checked boxes, selected options,
    text areas), to change one field and post the rest as they are."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.data.setdefault(name, []).append(attrs.get("value") or ("on" if attrs.get("type") == "checkbox"
                                                                          else ""))
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select].append(attrs.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][0] += data.lstrip("\n") if not self.data[self._textarea][0] else data


def change_form(client, url) -> dict:
    reader = _FormReader()
    reader.feed(client.get(url).content.decode())
    return {name: values if len(values) > 1 else (values[0] if values else "") for name, values in reader.data.items()
            if name not in ("csrfmiddlewaretoken", "action", "select_across", "index")}


def _price_amounts(offering) -> list[Decimal]:
    return list(offering.prices.order_by("id").values_list("amount", flat=True))


@pytest.mark.django_db
class TestOfferingPrices:
    @pytest.mark.parametrize("amount", ["0", "0.00", "-500.00"])
    def test_a_price_of_zero_or_less_is_refused(self, admin_client_logged_in, demo_catalog, amount):
        offering = ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200")
        url = reverse("admin:catalog_productoffering_change", args=[offering.pk])
        before = _price_amounts(offering)

        response = admin_client_logged_in.post(url, {**change_form(admin_client_logged_in, url),
                                                     "prices-0-amount": amount})

        assert response.status_code == 200
        assert "Ensure this value is greater than or equal to 0.01" in response.content.decode()
        assert _price_amounts(offering) == before

    def test_a_positive_price_of_an_offering_version_not_in_use_is_changed(self, admin_client_logged_in,
                                                                          demo_catalog):
        offering = ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200")
        url = reverse("admin:catalog_productoffering_change", args=[offering.pk])

        response = admin_client_logged_in.post(url, {**change_form(admin_client_logged_in, url),
                                                     "prices-0-amount": "41.99"})

        assert response.status_code == 302, response.content.decode()[-3000:]
        assert _price_amounts(offering)[0] == Decimal("41.99")

    def test_the_prices_of_an_offering_version_in_use_are_read_only(self, admin_client_logged_in, demo_catalog,
                                                                   capture_item):
        offering = ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200")
        url = reverse("admin:catalog_productoffering_change", args=[offering.pk])
        form = change_form(admin_client_logged_in, url)
        capture_item(offering)
        before = _price_amounts(offering)

        page = admin_client_logged_in.get(url).content.decode()
        admin_client_logged_in.post(url, {**form, "prices-0-amount": "1.00", "prices-TOTAL_FORMS": "3",
                                          "prices-2-name": "Sneaky", "prices-2-price_type": "oneTime",
                                          "prices-2-amount": "-50", "prices-2-currency": "EUR"})

        assert 'name="prices-0-amount"' not in page and "39.99" in page
        assert _price_amounts(offering) == before

    def test_the_catalog_service_refuses_a_price_of_zero_or_less(self, monkeypatch):
        from catalog import demo

        free = [{**data, "prices": [{**price, "amount": Decimal("0.00")} for price in data["prices"]]}
                for data in demo.PRODUCT_OFFERINGS]
        monkeypatch.setattr(demo, "PRODUCT_OFFERINGS", free)

        with pytest.raises(ValidationFailed, match="amount"):
            load_demo_catalog()

        assert not ProductOfferingPrice.objects.exists() and not ProductOffering.objects.exists()


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


@pytest.mark.django_db
class TestCatalogRefusals:
    """What the catalog service refuses is a message on the page, never a server error, and changes nothing."""

    def test_a_new_product_specification_version_the_service_refuses_is_an_error_message(
            self, admin_client_logged_in, demo_catalog):
        offering = ProductOffering.objects.get(offering_id="PO-STATIC-IP")
        ProductOffering.objects.filter(pk=offering.pk).update(version="2025-a")
        before = ProductSpecification.objects.count()

        response = admin_client_logged_in.post(
            reverse("admin:catalog_productspecification_changelist"),
            {"action": "create_new_version", "_selected_action": [offering.specification.pk]}, follow=True)

        assert response.status_code == 200
        [(level, text)] = _messages(response)
        assert level == "error" and "2025-a" in text and "not a whole number" in text
        assert ProductSpecification.objects.count() == before

    def test_a_new_service_specification_version_the_service_refuses_is_an_error_message(
            self, admin_client_logged_in, demo_catalog):
        ProductOffering.objects.filter(offering_id="PO-SUPERFIBRE-200").update(version="2025-a")
        internet = ServiceSpecification.objects.get(code="Internet-Access")
        before = (ServiceSpecification.objects.count(), ProductSpecification.objects.count())

        response = admin_client_logged_in.post(
            reverse("admin:catalog_servicespecification_changelist"),
            {"action": "create_new_version", "_selected_action": [internet.pk]}, follow=True)

        assert response.status_code == 200
        [(level, text)] = _messages(response)
        assert level == "error" and "Internet-Access" in text and "2025-a" in text
        assert (ServiceSpecification.objects.count(), ProductSpecification.objects.count()) == before

    def test_an_edit_the_service_refuses_is_an_error_message_and_changes_nothing(
            self, admin_client_logged_in, demo_catalog, capture_item, monkeypatch):
        from catalog.admin import ServiceSpecificationForm

        static_ip = ServiceSpecification.objects.get(code="Static-IP")
        url = reverse("admin:catalog_servicespecification_change", args=[static_ip.pk])
        validated = ServiceSpecificationForm.clean

        def an_order_is_captured_meanwhile(form):
            # another process captures an order naming this version between the form's checks and the save
            capture_item(ProductOffering.objects.get(offering_id="PO-STATIC-IP"))
            return validated(form)

        monkeypatch.setattr(ServiceSpecificationForm, "clean", an_order_is_captured_meanwhile)
        response = admin_client_logged_in.post(url, _service_form(static_ip, max_retries=7), follow=True)

        assert response.status_code == 200
        messages = _messages(response)
        assert [level for level, _ in messages] == ["error"] and "frozen" in messages[0][1]
        static_ip.refresh_from_db()
        assert static_ip.max_retries != 7 and static_ip.history.count() == 1

    def test_both_new_version_actions_need_the_right_to_repoint_offerings(self, client, django_user_model,
                                                                          demo_catalog):
        from django.contrib.auth.models import Permission

        user = django_user_model.objects.create_user(username="specs", password="pw", is_staff=True)
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="catalog").exclude(
            codename="change_productoffering"))
        client.force_login(user)
        spec = ProductOffering.objects.get(offering_id="PO-STATIC-IP").specification
        before = ProductSpecification.objects.count()

        for model, pk in (("productspecification", spec.pk),
                          ("servicespecification", ServiceSpecification.objects.get(code="Static-IP").pk)):
            url = reverse(f"admin:catalog_{model}_changelist")
            assert "create_new_version" not in client.get(url).content.decode()
            client.post(url, {"action": "create_new_version", "_selected_action": [pk]})

        assert ProductSpecification.objects.count() == before
        assert ServiceSpecification.objects.filter(code="Static-IP").count() == 1


@pytest.mark.django_db
class TestServiceSpecificationChecks:
    def test_the_list_asks_the_same_number_of_queries_whatever_the_number_of_rows(self, admin_client_logged_in,
                                                                                 demo_catalog, capture_item):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        capture_item(ProductOffering.objects.get(offering_id="PO-SUPERFIBRE-200"))
        url = reverse("admin:catalog_servicespecification_changelist")

        def queries() -> int:
            with CaptureQueriesContext(connection) as context:
                page = admin_client_logged_in.get(url)
            assert page.status_code == 200
            return len(context)

        few = queries()
        for n in range(6):
            ServiceSpecification.objects.create(code=f"Extra-{n}", name=f"Extra {n}")
        page = admin_client_logged_in.get(url).content.decode()

        assert queries() == few
        # the column still says which versions are frozen: Internet-Access is named by the captured item's spec
        def frozen_cell(code):
            return page[page.index(f">{code}<"):].split("</tr>")[0].split("<td")[-1]

        assert "icon-yes" in frozen_cell("Internet-Access") and "icon-no" in frozen_cell("Extra-0")

    def test_the_som_must_be_one_that_is_configured(self, admin_client_logged_in, demo_catalog, settings):
        settings.COM_SOM_ENDPOINTS = {"default": {"url": "http://som.test", "secret": "s"},
                                      "mobile": {"url": "http://mobile.test", "secret": "m"}}
        static_ip = ServiceSpecification.objects.get(code="Static-IP")
        url = reverse("admin:catalog_servicespecification_change", args=[static_ip.pk])

        refused = admin_client_logged_in.post(url, _service_form(static_ip, som="nowhere"))
        assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
        static_ip.refresh_from_db()
        assert static_ip.som == "default"

        assert admin_client_logged_in.post(url, _service_form(static_ip, som="mobile")).status_code == 302
        static_ip.refresh_from_db()
        assert static_ip.som == "mobile"

    def test_a_dependency_cycle_through_other_services_is_refused(self, admin_client_logged_in, demo_catalog):
        # Static-IP depends on Internet-Access: Internet-Access depending on Static-IP closes a loop
        internet = ServiceSpecification.objects.get(code="Internet-Access")
        static_ip = ServiceSpecification.objects.get(code="Static-IP")
        url = reverse("admin:catalog_servicespecification_change", args=[internet.pk])
        before = sorted(d.code for d in internet.depends_on.all())

        response = admin_client_logged_in.post(url, _service_form(internet, depends_on=[static_ip.pk]))

        assert response.status_code == 200
        assert "Internet-Access → Static-IP → Internet-Access" in response.content.decode()
        assert sorted(d.code for d in internet.depends_on.all()) == before
