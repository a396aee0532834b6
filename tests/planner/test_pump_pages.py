"""Pump plans on the clinician's pages (issue 21): a form that asks only for a pump,
wean visits added one by one, the settings and dates on every page, no oral Revise."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from planner import services
from planner.models import Patient, PlanStatus, RevisionKind, TaperPlan
from planner.roles import Role
from tests.support import plans
from tests.support.clock import START
from tests.support.factories import make_staff
from tests.support.plans import plan_post, pump_engine_input


@pytest.fixture
def logged_in(client: Client, alice: Any) -> Client:
    client.force_login(alice)
    return client


def pump_post(**overrides: Any) -> dict[str, Any]:
    """The form for a 2000 mcg/mL pump, 40 mL, alarm at 2 mL, 800 mcg a day, filled on
    START: (40 − 2) × 2000 / 800 = 95 days to the alarm."""
    oral = {
        "dose_time_1": None,
        "dose_amount_1": None,
        "dose_time_2": None,
        "dose_amount_2": None,
        "dose_time_3": None,
        "dose_amount_3": None,
    }
    pump = {
        "product": "baclofen-intrathecal",
        "pump_concentration_mcg_per_ml": "2000",
        "pump_daily_dose_mcg": "800",
        "pump_reservoir_ml": "40",
        "pump_alarm_volume_ml": "2",
        "pump_last_refill_date": START.isoformat(),
    }
    return plan_post(**{**oral, **pump, **overrides})


def active_pump_plan(
    patient: Patient, alice: Any, django_user_model: Any, clinic: Any
) -> TaperPlan:
    reviewer = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    return plans.active_pump_plan(patient, alice, reviewer)


def test_the_pump_form_saves_wean_visits_with_and_without_a_refill(
    logged_in: Client, patient: Patient
) -> None:
    """Visits 04-12 → 640 refilling 40 mL, 05-10 → 560 reprogram only (cuts 20 % and
    12.5 %: no STEP_TOO_LARGE). From 04-12: 28 days × 640 = 17920 of 76000; 58080 / 560 =
    103.7 → 103 days after 05-10: alarm 2027-08-21; 04-12 + 180 = 2027-10-09 is later."""
    response = logged_in.post(
        reverse("plan_new", args=[patient.pk]),
        pump_post(
            wean_date_1="2027-04-12",
            wean_dose_1="640",
            wean_refilled_1="on",
            wean_volume_1="40",
            wean_date_2="2027-05-10",
            wean_dose_2="560",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    plan = TaperPlan.objects.get(patient=patient)
    assert plan.current_revision is not None
    pump = plan.current_revision.engine_input["pump"]
    assert pump["wean_steps"] == [
        {
            "visit_date": "2027-04-12",
            "daily_dose_mcg": 640,
            "refilled": True,
            "refill_volume_ml": 40,
        },
        {"visit_date": "2027-05-10", "daily_dose_mcg": 560},
    ]
    (refill,) = plan.current_revision.engine_output["refills"]
    assert refill["alarm_date"] == "2027-08-21"
    assert refill["due_date"] == "2027-08-21"
    codes = [flag["code"] for flag in plan.current_revision.engine_output["flags"]]
    assert "STEP_TOO_LARGE" not in codes


def test_adding_a_wean_visit_opens_one_more_row_and_saves_nothing(
    logged_in: Client, patient: Patient
) -> None:
    url = reverse("plan_new", args=[patient.pk])
    body = logged_in.post(url, pump_post(add_visit="1")).content.decode()
    assert 'name="wean_date_1"' in body
    assert 'name="wean_date_2"' not in body
    body = logged_in.post(
        url, pump_post(add_visit="1", wean_rows="1", wean_date_1="2027-04-12", wean_dose_1="640")
    ).content.decode()
    assert 'name="wean_date_2"' in body
    assert not TaperPlan.objects.exists()
    # The preview already shows the pump's arithmetic.
    assert "Pump settings" in body
    assert "Refill due by" in body


def test_a_refilling_visit_without_a_volume_is_refused_on_its_row(
    logged_in: Client, patient: Patient
) -> None:
    response = logged_in.post(
        reverse("plan_new", args=[patient.pk]),
        pump_post(wean_rows="1", wean_date_1="2027-04-12", wean_dose_1="640", wean_refilled_1="on"),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["wean_volume_1"] == ["Enter the refill volume."]
    assert not TaperPlan.objects.exists()


def test_a_wean_cut_above_the_limit_is_flagged_in_the_preview(
    logged_in: Client, patient: Patient
) -> None:
    body = logged_in.post(
        reverse("plan_preview", args=[patient.pk]),
        pump_post(pump_daily_dose_mcg="400", wean_date_1="2027-04-12", wean_dose_1="50"),
    ).content.decode()
    assert "STEP_TOO_LARGE" in body
    assert "400 → 50 mcg a day on 2027-04-12 (87.5 %)" in body


def test_the_pump_plan_page_shows_settings_and_dates_and_offers_no_oral_revise(
    logged_in: Client, alice: Any, patient: Patient, django_user_model: Any, clinic: Any
) -> None:
    plan = active_pump_plan(patient, alice, django_user_model, clinic)
    body = logged_in.get(reverse("plan", args=[plan.pk])).content.decode()
    assert "500 mcg/mL" in body
    assert "250 mcg a day" in body
    assert "at 2 mL" in body
    assert "Next refill due by 2027-04-06" in body
    assert "Record refill" in body
    assert "Revise…" not in body
    assert not plan.revisable_on(START)
    with pytest.raises(ValidationError):
        services.plan_revise(
            plan=plan, by=alice, kind=RevisionKind.SLOW_DOWN, from_date=START + dt.timedelta(days=2)
        )
    assert plan.status == PlanStatus.ACTIVE


def test_the_patient_record_says_what_the_pump_is_set_to(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    services.plan_create(patient=patient, by=alice, engine_input=pump_engine_input(patient))
    body = logged_in.get(reverse("patient", args=[patient.pk])).content.decode()
    assert (
        "24 months on therapy: pump 500 mcg/mL at 250 mcg a day, reservoir 20 mL, alarm at "
        "2 mL, last refilled 2027-03-01" in body
    )


def test_the_pump_handout_gives_refill_dates_alarm_signs_and_emergency_words(
    logged_in: Client, alice: Any, patient: Patient, django_user_model: Any, clinic: Any
) -> None:
    plan = active_pump_plan(patient, alice, django_user_model, clinic)
    body = logged_in.get(reverse("plan_handout", args=[plan.pk])).content.decode()
    assert "Get your pump refilled by 2027-04-06" in body
    assert "single beep" in body
    assert "return of baseline spasticity, pruritus, hypotension, and paresthesias" in body
    assert "Call emergency services now" in body
    assert "Tick each dose" not in body
    assert "(0 days)" not in body


def test_the_patient_sees_their_pump_refill_dates_and_signs_in_their_language(
    client: Client, alice: Any, patient: Patient, django_user_model: Any, clinic: Any
) -> None:
    from reminders.models import PatientPreferences
    from tests.support.factories import patient_account

    sam = patient_account(django_user_model, patient, "sam")
    active_pump_plan(patient, alice, django_user_model, clinic)
    client.force_login(sam)
    body = client.get(reverse("patient_plan")).content.decode()
    assert "Your pump gives you 250 micrograms of baclofen a day." in body
    assert "Get your pump refilled by 2027-04-06." in body
    assert "(0 days)" not in body
    PatientPreferences.objects.update_or_create(patient=patient, defaults={"language": "es"})
    spanish = client.get(reverse("patient_plan")).content.decode()
    assert "Haga recargar su bomba a más tardar el 2027-04-06." in spanish
    assert "Llame ahora a los servicios de emergencia" in spanish
