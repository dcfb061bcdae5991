"""Fuzzing: schemathesis over the OpenAPI schema COM serves, called as a channel with its bearer token.

Every operation of TMF622, TMF620 and TMF637 gets generated requests, valid and invalid by the schema; none may
answer 5xx, and every answer must be documented: its status, its content type and its body's schema. The
TMF641 listener is fuzzed unsigned: every request is refused. Bounded (``MAX_EXAMPLES`` per operation and
mode) so the run stays under a minute on SQLite.
"""
import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from orders.api.throttling import ChannelRateThrottle
from tests.orders.bodies import order_body

MAX_EXAMPLES = 25
LISTENER = "/tmf-api/serviceOrdering/v4/listener/"
EVENT_TYPES = {"serviceOrderStateChangeEvent", "serviceOrderAttributeValueChangeEvent"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
FUZZ_SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))


@pytest.fixture
def keep_test_connection():
    """Django's test client does the same: a request served in the test must not close the test's connection
    (on PostgreSQL that would end the test's transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_channel(db, make_channel, monkeypatch, django_settings):
    """A channel of the demo, with a few orders of its own, and no throttling in the way of the fuzzer."""
    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("load_demo", verbosity=0)
    monkeypatch.setattr(ChannelRateThrottle, "rate", "1000000/minute", raising=False)
    client = make_channel("fuzzer")
    for n in range(3):
        response = client.post("/tmf-api/productOrderingManagement/v4/productOrder",
                               data=order_body(f"fuzz-{n}"), format="json")
        assert response.status_code == 201, response.content
    return client


@pytest.fixture
def django_settings(settings):
    return settings


@pytest.fixture
def api_schema(fuzz_channel, keep_test_connection):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(),
                                            headers={"Authorization": f"Bearer {fuzz_channel.token}"})
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                    max_examples=MAX_EXAMPLES, database="none", deterministic=True)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.exclude(path_regex=LISTENER).parametrize()
@FUZZ_SETTINGS
def test_tmf_apis_answer_every_request_as_documented(case, fuzz_channel):
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_channel.token}"}, checks=CHECKS)


@schema.include(path_regex=LISTENER).parametrize()
@FUZZ_SETTINGS
def test_listener_refuses_every_unsigned_event(case):
    response = case.call()
    if case.method.upper() == "OPTIONS":
        return  # DRF's description of the view: reads nothing, changes nothing
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if case.method.upper() == "POST" and case.path_parameters.get("event_type") in EVENT_TYPES:
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "BAD_SIGNATURE"
    case.validate_response(response, checks=[not_a_server_error, content_type_conformance])
