"""Shared fixtures: the demo catalog, channels with tokens, API clients for a channel and for staff."""
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from orders.services.channels import create_channel


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
    user = django_user_model.objects.create_user(username="agent1", password="pw", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client
