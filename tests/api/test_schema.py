"""The OpenAPI schema describes the API as it answers: schemathesis sends generated
requests (valid and invalid) to every operation and checks each answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from api import tokens
from planner import services
from planner.models import Patient
from planner.wsgi import application
from reminders.models import AbruptStopAlert
from tests.support.api import engine_input

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def load_schema() -> Any:
    # The schema as /api/v1/schema/ serves it (no database needed to build it); the
    # generated requests go to the site's WSGI application.
    generated = SchemaGenerator().get_schema(public=True)  # type: ignore[no-untyped-call]
    loaded = schemathesis.openapi.from_dict(generated)
    loaded.app = application
    return loaded


schema = load_schema()


@pytest.fixture
def open_connection() -> Iterator[None]:
    """The WSGI handler closes the database connection after each request; within a
    test's transaction it must stay open (Django's test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def records(alice: Any, patient: Patient) -> None:
    """Something to find at the first ids: a patient, a plan, a dose log, an alert."""
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    AbruptStopAlert.objects.create(
        plan=plan, reason="consecutive_missed", since=plan.created_at, raised_at=plan.created_at
    )


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_answer_matches_the_schema_and_none_is_a_500(
    case: Any, alice: Any, records: None, open_connection: None
) -> None:
    token = f"Token {tokens.token_issue(user=alice).key}"
    case.call_and_validate(headers={"Authorization": token}, checks=CHECKS)


def test_the_documentation_pages_use_no_inline_script_and_no_cdn(client: Any) -> None:
    for name in ("api:docs", "api:redoc"):
        page = client.get(reverse(name)).content.decode()
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
        assert scripts, name
        for attributes, body in scripts:
            assert body.strip() == "", f"inline script on {name}"
            source = re.search(r'src="([^"]+)"', attributes)
            assert source, attributes
            assert source.group(1).startswith("/"), attributes
            assert client.get(source.group(1)).status_code == 200, source.group(1)
        assert "https://" not in page.replace("https://github.com", ""), name
