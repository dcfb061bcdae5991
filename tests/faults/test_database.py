"""The fault suite's processes run on pytest-django's test database, never on the database DATABASE_URL names.

This test asks for a database (the fault tests do not: their processes must see committed data), so that
pytest-django creates the test database even when the fault suite runs alone (``pytest tests/faults``); the
suite's ``cluster`` fixture refuses any other database, since it flushes it when it ends.
"""
import pytest


@pytest.mark.django_db
def test_the_suite_runs_on_the_test_database():
    from django.db import connection

    assert connection.settings_dict["NAME"].startswith("test_")
