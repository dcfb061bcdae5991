"""Shared fixtures: the demo catalog, channels with tokens, API clients for a channel and for staff."""
import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

from orders.services.channels import create_channel


@pytest.fixture(scope="session", autouse=True)
def fresh_redis_cache():
    """A Redis cache (CACHE_URL) outlives a run: start without the last run's throttle counts. The database
    cache lives in the test database and starts empty anyway."""
    if settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
        from django.core.cache import cache

        cache.clear()


@pytest.fixture
def demo_catalog(db):
    call_command("load_demo_catalog", verbosity=0)


@pytest.fixture
def make_channel(db):
    def make(name="portal"):
        channel, token = create_channel(name=name)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        client.channel = channel
        client.token = token
        return client

    return make


@pytest.fixture
def portal(make_channel):
    """An API client authenticated as the 'portal' channel."""
    return make_channel("portal")


@pytest.fixture
def staff_client(db, django_user_model):
    """Staff with the view permissions of orders and products (is_staff alone reads nothing)."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(username="agent1", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label__in=["orders", "inventory"], codename__in=["view_productorder", "view_product"]))
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client
