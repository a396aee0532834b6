"""A patient with an account and an active plan (08:00, 14:00, 20:00 in New York from
2027-03-01), and a second patient of the same clinic for own-data-only checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client

from planner.models import Clinic, Patient, TaperPlan
from tests.support.factories import PatientFactory, patient_account
from tests.support.plans import active_plan


@pytest.fixture
def sam(django_user_model: Any, patient: Patient) -> Any:
    """The patient's own account."""
    return patient_account(django_user_model, patient, "sam")


@pytest.fixture
def plan(alice: Any, patient: Patient, sam: Any) -> TaperPlan:
    return active_plan(patient, alice)


@pytest.fixture
def other_patient(clinic: Clinic) -> Patient:
    return PatientFactory.create(
        clinic=clinic,
        given_name="Bea",
        family_name="Other",
        date_of_birth=dt.date(1975, 5, 6),
        sex="female",
    )


@pytest.fixture
def bea(django_user_model: Any, other_patient: Patient) -> Any:
    return patient_account(django_user_model, other_patient, "bea")


@pytest.fixture
def other_plan(alice: Any, other_patient: Patient, bea: Any) -> TaperPlan:
    return active_plan(other_patient, alice)


@pytest.fixture
def sam_client(client: Client, sam: Any) -> Client:
    # Logged in "during" the plan, so that the session is alive at every time a test
    # travels to (and now).
    with time_machine.travel(dt.datetime(2027, 3, 1, tzinfo=dt.UTC)):
        client.force_login(sam)
    return client
