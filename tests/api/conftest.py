from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from planner import services
from planner.models import Clinic, Patient, TaperPlan
from planner.roles import Role
from tests.support.api import engine_input, token_client
from tests.support.factories import make_staff, patient_account


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
    return patient_account(django_user_model, patient, "sam")


@pytest.fixture
def plan(alice: Any, patient: Patient) -> TaperPlan:
    return services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
