from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from api import tokens
from planner import services
from planner.engine_input import patient_facts
from planner.models import Clinic, Patient, TaperPlan
from planner.roles import Role
from tests.conftest import make_staff

START = dt.date(2027, 3, 1)


def regimen(**overrides: Any) -> dict[str, Any]:
    """A plan request of the API: the regimen, without the zone and the patient facts."""
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


@pytest.fixture
def api(alice: Any) -> APIClient:
    """Alice, a clinician of the first clinic, through a system token."""
    return token_client(alice)


@pytest.fixture
def bob(django_user_model: Any, clinic: Clinic) -> Any:
    """A reviewer of the first clinic."""
    return make_staff(django_user_model, "bob", clinic, Role.REVIEWER)


@pytest.fixture
def patient_user(django_user_model: Any, patient: Patient) -> Any:
    user = django_user_model.objects.create_user(username="sam", password="pw-for-tests-1")
    user.groups.add(Group.objects.get_or_create(name=Role.PATIENT.value)[0])
    patient.user = user
    patient.save(update_fields=["user"])
    return user


@pytest.fixture
def plan(alice: Any, patient: Patient) -> TaperPlan:
    return services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
