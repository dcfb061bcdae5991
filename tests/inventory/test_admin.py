"""Product admin: staff can look, nobody can add, change, revert or delete through it."""
import pytest
from django.urls import reverse

from inventory.models import Product


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    user = django_user_model.objects.create_superuser(username="root", password="pw", email="root@example.com")
    client.force_login(user)
    return client


@pytest.mark.django_db
class TestProductAdmin:
    def test_changelist_lists_and_searches(self, admin_client_logged_in, full_product):
        url = reverse("admin:inventory_product_changelist")

        assert full_product.pk in admin_client_logged_in.get(url).content.decode()
        assert full_product.pk in admin_client_logged_in.get(url, {"q": "CUST-1"}).content.decode()
        assert full_product.pk not in admin_client_logged_in.get(url, {"q": "CUST-NOBODY"}).content.decode()
        assert admin_client_logged_in.get(url, {"status__exact": "active"}).status_code == 200

    def test_detail_is_view_only(self, admin_client_logged_in, full_product):
        url = reverse("admin:inventory_product_change", args=[full_product.pk])

        response = admin_client_logged_in.get(url)
        posted = admin_client_logged_in.post(url, {"name": "renamed"})

        assert response.status_code == 200
        assert 'name="_save"' not in response.content.decode()
        assert posted.status_code == 403
        full_product.refresh_from_db()
        assert full_product.name == "Fibre 1 Gbit/s"

    def test_history_is_viewable(self, admin_client_logged_in, full_product):
        url = reverse("admin:inventory_product_history", args=[full_product.pk])

        assert admin_client_logged_in.get(url).status_code == 200

    def test_no_add_or_delete(self, admin_client_logged_in, full_product):
        assert admin_client_logged_in.get(reverse("admin:inventory_product_add")).status_code == 403
        delete_url = reverse("admin:inventory_product_delete", args=[full_product.pk])
        assert admin_client_logged_in.post(delete_url, {"post": "yes"}).status_code == 403
        assert Product.objects.filter(pk=full_product.pk).exists()
