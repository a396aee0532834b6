"""API requests as another system sends them: a regimen without zone or patient facts,
and a client with a system token."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from api import tokens
from planner.engine_input import patient_facts
from planner.models import Patient
from tests.support.clock import START


def regimen(**overrides: Any) -> dict[str, Any]:
    """A plan request of the API: 5 mg at 08:00 and 20:00 from ``START``."""
    data: dict[str, Any] = {
        "product": "baclofen-oral-tablet",
        "doses": [{"time": "08:00", "amount_mg": 5}, {"time": "20:00", "amount_mg": 5}],
        "start_date": START.isoformat(),
        "goal": {"type": "discontinue"},
        "months_on_therapy": 3,
    }
    data.update(overrides)
    return data


def engine_input(patient: Patient, **overrides: Any) -> dict[str, Any]:
    """The engine input the API builds from ``regimen`` for ``patient``."""
    data = regimen(**overrides)
    months = data.pop("months_on_therapy")
    return {
        **data,
        "timezone": patient.home_timezone,
        "patient": patient_facts(patient, START, months_on_therapy=months),
    }


def token_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {tokens.token_issue(user=user).key}")
    return client
