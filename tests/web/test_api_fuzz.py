"""Schemathesis over the OpenAPI schema, bounded: generated requests from a signed-in member with a history
and an active (tiny) model must never get a server error, and every status must be one the schema documents."""

import base64

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from hikmax_site.wsgi import application

EXAMPLES_PER_OPERATION = 15
PASSWORD = "fuzzing-password-long"


schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """Like Django's test client: keep the test's database connection open across the WSGI requests."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def fuzzing_member(trained):
    _, _, alice = trained
    alice.set_password(PASSWORD)
    alice.save()
    return alice


def test_the_api_never_fails_with_a_server_error_and_keeps_to_its_schema(fuzzing_member,
                                                                       wsgi_keeps_the_test_connection):
    """One tiny model for all operations (a model per operation would cost a training each)."""
    token = base64.b64encode(f"{fuzzing_member.username}:{PASSWORD}".encode()).decode()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case):
            response = case.call(headers={"Authorization": f"Basic {token}"})
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance])

        call()
