"""A patient with an account and an active plan (08:00, 14:00, 20:00 in New York from
2027-03-01), and a second patient of the same clinic for own-data-only checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client

from planner import services
from planner.models import Clinic, Patient, TaperPlan
from planner.roles import Role
from reminders.models import Dose
from tests.planner.test_clinician_workflow import engine_input


def patient_account(django_user_model: Any, patient: Patient, username: str) -> Any:
    user = django_user_model.objects.create_user(username=username, password="pw-for-tests-1")
    user.groups.add(Group.objects.get_or_create(name=Role.PATIENT.value)[0])
    patient.user = user
    patient.email = f"{username}@example.org"
    patient.save()
    return user


def active_plan(patient: Patient, clinician: Any) -> TaperPlan:
    plan = services.plan_create(patient=patient, by=clinician, engine_input=engine_input(patient))
    with time_machine.travel(dt.datetime(2027, 2, 20, tzinfo=dt.UTC)):
        services.plan_activate(plan=plan, by=clinician)
    plan.refresh_from_db()
    return plan


@pytest.fixture(autouse=True)
def on_commit_runs_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transaction, "on_commit", lambda func, *a, **k: func())


@pytest.fixture
def sam(django_user_model: Any, patient: Patient) -> Any:
    """The patient's own account."""
    return patient_account(django_user_model, patient, "sam")


@pytest.fixture
def plan(alice: Any, patient: Patient, sam: Any) -> TaperPlan:
    return active_plan(patient, alice)


@pytest.fixture
def other_patient(clinic: Clinic) -> Patient:
    return Patient.objects.create(
        clinic=clinic,
        given_name="Bea",
        family_name="Other",
        date_of_birth=dt.date(1975, 5, 6),
        sex="female",
        home_timezone="America/New_York",
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


def dose_at(plan: TaperPlan, day: str, time: str) -> Dose:
    return Dose.objects.get(plan=plan, local_date=day, local_time=time)


def at_new_york(day: str, time: str) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.fromisoformat(f"{day}T{time}").replace(
        tzinfo=ZoneInfo("America/New_York")
    )
