"""Height, dialysis and the expected delivery date: entered on the patient record, used
by the engine (docs/plan-json.md), shown on the plan page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from planner import services
from planner.engine_input import patient_facts
from planner.models import Patient, PlanStatus, TaperPlan
from planner.roles import Role
from reminders.models import Dose
from tests.support.clock import START
from tests.support.factories import make_staff
from tests.support.plans import plan_post


@pytest.fixture
def logged_in(client: Client, alice: Any) -> Client:
    client.force_login(alice)
    return client


def test_the_patient_form_stores_height_dialysis_and_delivery_date(logged_in: Client) -> None:
    response = logged_in.post(
        reverse("patient_new"),
        {
            "given_name": "Jo",
            "family_name": "Doe",
            "date_of_birth": "1990-01-01",
            "sex": "female",
            "home_timezone": "Europe/Paris",
            "pregnancy_trimester": "3",
            "height_cm": "165",
            "dialysis": "on",
            "expected_delivery_date": "2027-03-05",
        },
    )
    patient = Patient.objects.get()
    assert response["Location"] == reverse("patient", args=[patient.pk])
    assert (patient.height_cm, patient.dialysis, patient.expected_delivery_date) == (
        Decimal(165), True, dt.date(2027, 3, 5)
    )
    facts = patient_facts(patient, START, months_on_therapy=3)
    assert (facts["height_cm"], facts["dialysis"], facts["expected_delivery_date"]) == (
        165, True, "2027-03-05"
    )


def test_the_patient_form_refuses_a_height_the_engine_would_refuse(logged_in: Client) -> None:
    response = logged_in.post(
        reverse("patient_new"),
        {
            "given_name": "Jo",
            "family_name": "Doe",
            "date_of_birth": "1990-01-01",
            "sex": "female",
            "home_timezone": "Europe/Paris",
            "pregnancy_trimester": "0",
            "height_cm": "20",
        },
    )
    assert response.status_code == 200
    assert "height_cm" in response.context["form"].errors
    assert not Patient.objects.exists()


def test_a_plan_for_a_patient_on_dialysis_due_before_the_end_needs_review(
    logged_in: Client, patient: Patient
) -> None:
    patient.dialysis = True
    patient.sex = "female"  # the engine refuses a pregnancy recorded for a male patient
    patient.pregnancy_trimester = 3
    patient.expected_delivery_date = START + dt.timedelta(days=5)
    patient.save()
    logged_in.post(reverse("plan_new", args=[patient.pk]), plan_post())
    revision = TaperPlan.objects.get().current_revision
    assert revision is not None
    codes = {flag["code"] for flag in revision.engine_output["flags"]}
    assert {"DIALYSIS", "DELIVERY_BEFORE_END"} <= codes
    assert revision.engine_output["requires_review"]
    page = logged_in.get(reverse("plan", args=[revision.plan.pk])).content.decode()
    assert "DIALYSIS" in page
    # Dose roles on the plan page.
    assert "(morning)" in page
    assert "(bedtime)" in page


def test_the_plan_form_sends_dose_roles_and_a_percentage_to_the_engine(
    logged_in: Client, patient: Patient
) -> None:
    logged_in.post(
        reverse("plan_new", args=[patient.pk]),
        plan_post(
            dose_time_1="10:00",
            dose_role_1="bedtime",
            dose_time_3="18:00",
            dose_role_3="morning",
            pace="custom",
            shape="proportional",
            percent_per_step="20",
        ),
    )
    revision = TaperPlan.objects.get().current_revision
    assert revision is not None
    sent = revision.engine_input
    assert [dose.get("role") for dose in sent["doses"]] == ["bedtime", None, "morning"]
    assert sent["pace"] == {"shape": "proportional", "percent_per_step": 20}
    output = revision.engine_output
    assert output["percent_per_step"] == 20
    # The 10:00 "bedtime" dose is cut last: it is the only dose of the last step.
    assert [dose["time"] for dose in output["steps"][-1]["doses"]] == ["10:00"]
    edit = logged_in.get(reverse("plan_edit", args=[revision.plan.pk]))
    assert edit.context["form"].initial["dose_role_1"] == "bedtime"


def test_the_plan_form_puts_a_wrong_percentage_next_to_its_field(
    logged_in: Client, patient: Patient
) -> None:
    response = logged_in.post(
        reverse("plan_new", args=[patient.pk]),
        plan_post(pace="custom", shape="proportional", percent_per_step="80"),
    )
    assert response.status_code == 200
    assert "percent_per_step" in response.context["form"].errors
    assert not TaperPlan.objects.exists()


def test_a_stop_now_plan_is_saved_and_its_pages_show_it(
    logged_in: Client, patient: Patient, alice: Any, django_user_model: Any
) -> None:
    logged_in.post(
        reverse("plan_new", args=[patient.pk]),
        plan_post(pace="custom", length_days="0", abrupt_stop_reason="severe encephalopathy"),
    )
    plan = TaperPlan.objects.get()
    revision = plan.current_revision
    assert revision is not None
    output = revision.engine_output
    assert (output["steps"], output["dose_events"], output["duration_days"]) == ([], [], 0)
    assert output["requires_review"]
    page = logged_in.get(reverse("plan", args=[plan.pk]))
    assert page.status_code == 200
    assert "stops baclofen now, with no further doses" in page.content.decode()
    assert logged_in.get(reverse("plan_handout", args=[plan.pk])).status_code == 200
    # Approved by a reviewer, it starts with no doses to remind of.
    bob = make_staff(django_user_model, "bob", patient.clinic, Role.REVIEWER)
    services.plan_submit(plan=plan, by=alice)
    services.plan_approve(plan=plan, by=bob, seen_revision_id=revision.pk)
    services.plan_activate(plan=plan, by=alice)
    assert TaperPlan.objects.get().status == PlanStatus.ACTIVE
    assert not Dose.objects.filter(plan=plan).exists()
