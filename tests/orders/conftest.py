"""Fixtures of the order flow tests: the demo data, a channel of its own, the SOM side."""
import pytest
from django.core.management import call_command

from .flows import Som


@pytest.fixture
def demo(db, settings):
    """``load_demo``: catalog, customers, serviceability and the demo channels (portal, cpq, retail, b2b)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the demo users, quickly
    call_command("load_demo", verbosity=0)


@pytest.fixture
def web(demo, make_channel):
    """An API client of a channel named 'web' (the demo already has a 'portal')."""
    return make_channel("web")


@pytest.fixture
def som(db):
    return Som()
