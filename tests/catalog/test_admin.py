"""Catalog admin: editable by admins, a specification version frozen once in use, and its new-version action."""
import pytest
from django.urls import reverse

from catalog.models import ProductOffering, ProductSpecification


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
