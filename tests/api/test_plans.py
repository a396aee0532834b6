"""Preview, patients and plans through the API: the same engine, forms and services as
the pages, and refusals that name their field."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from planner.models import Clinic, Patient, PlanStatus, TaperPlan
from tests.support.api import engine_input, regimen
from tests.support.clock import START

PATIENT = {
    "given_name": "Jo",
    "family_name": "Doe",
    "date_of_birth": "1950-01-01",
    "sex": "female",
    "home_timezone": "Europe/Paris",
    "weight_kg": 70.5,
    "cns_depressants": ["opioid"],
}


def taper_plan_json(tmp_path: Path, data: Any) -> Any:
    source = tmp_path / "input.json"
    source.write_text(json.dumps(data))
    out = StringIO()
    with contextlib.suppress(SystemExit):  # a refusal: the errors are on stdout
        call_command("taper_plan", "--input", str(source), "--format", "json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"pace": "slower", "revisions": [{"kind": "hold", "from_date": "2027-03-03", "days": 2}]},
        {"doses": [{"time": "08:00", "amount_mg": 7}], "colour": "blue"},
        {"product_options": {"strengths_mg": [10], "fewest_strengths": True}},
        {"product_options": {"strengths_mg": [20], "allow_halves": False}},
    ],
    ids=["plain", "revised", "refused", "tablets-at-hand", "tablets-refused"],
)
def test_preview_answers_exactly_what_taper_plan_prints(
    api: APIClient, patient: Patient, tmp_path: Path, overrides: dict[str, Any]
) -> None:
    data = engine_input(patient, **overrides)
    response = api.post(reverse("api:plan-preview"), data, format="json")
    expected = taper_plan_json(tmp_path, data)
    assert response.json() == expected
    assert response.status_code == (400 if "errors" in expected else 200)
    assert not TaperPlan.objects.exists()


def test_a_patient_is_created_and_read_back(api: APIClient, clinic: Clinic) -> None:
    response = api.post(reverse("api:patients"), PATIENT, format="json")
    assert response.status_code == 201, response.json()
    patient = Patient.objects.get()
    assert patient.clinic == clinic
    assert (patient.given_name, str(patient.weight_kg), patient.cns_depressants) == (
        "Jo", "70.5", ["opioid"]
    )
    read = api.get(reverse("api:patient", args=[patient.pk])).json()
    assert read == response.json()
    assert read["weight_kg"] == 70.5
    assert read["home_timezone"] == "Europe/Paris"


def test_a_patient_keeps_height_dialysis_and_delivery_date(api: APIClient, clinic: Clinic) -> None:
    facts = {"height_cm": 172.5, "dialysis": True, "expected_delivery_date": "2026-09-01"}
    response = api.post(reverse("api:patients"), {**PATIENT, **facts}, format="json")
    assert response.status_code == 201, response.json()
    patient = Patient.objects.get()
    assert (str(patient.height_cm), patient.dialysis, str(patient.expected_delivery_date)) == (
        "172.5", True, "2026-09-01"
    )
    read = api.get(reverse("api:patient", args=[patient.pk])).json()
    assert (read["height_cm"], read["dialysis"], read["expected_delivery_date"]) == (
        172.5, True, "2026-09-01"
    )


def test_a_patient_keeps_the_clinics_mrn_unique_within_the_clinic(
    api: APIClient, clinic: Clinic, other_clinic: Clinic
) -> None:
    response = api.post(reverse("api:patients"), {**PATIENT, "mrn": "MRN-0042/7"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["mrn"] == "MRN-0042/7"
    again = api.post(reverse("api:patients"), {**PATIENT, "mrn": "MRN-0042/7"}, format="json")
    assert again.status_code == 400
    assert again.json() == {
        "errors": {"mrn": ["MRN: another patient of this clinic has this MRN."]}
    }
    # Another clinic may record the same number; no MRN at all is never a clash.
    Patient.objects.create(
        clinic=other_clinic, given_name="Kim", family_name="Lee", mrn="MRN-0042/7",
        date_of_birth=dt.date(1970, 1, 1), sex="female", home_timezone="Europe/Paris",
    )
    for _ in range(2):
        assert api.post(reverse("api:patients"), PATIENT, format="json").status_code == 201
    assert Patient.objects.filter(clinic=clinic).count() == 3


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"date_of_birth": "2990-01-01"}, "date_of_birth"),  # PatientForm's rule
        ({"weight_kg": 900}, "weight_kg"),
        ({"home_timezone": "Europe/Londres"}, "home_timezone"),
        ({"creatinine_clearance_ml_min": 50, "serum_creatinine_mg_dl": 1.1},
         "serum_creatinine_mg_dl"),
        ({"given_name": 42}, "given_name"),  # a number is not a name
        ({"breastfeeding": "yes"}, "breastfeeding"),
        ({"weight_kg": "70"}, "weight_kg"),
        ({"pregnancy_trimester": 10**40}, "pregnancy_trimester"),
        ({"cns_depressants": ["caffeine"]}, "cns_depressants.0"),
        ({"height_cm": 900}, "height_cm"),  # beyond what the engine accepts
        ({"dialysis": "yes"}, "dialysis"),
        ({"expected_delivery_date": "soon"}, "expected_delivery_date"),
        ({"eye_colour": "brown"}, "eye_colour"),  # an unknown field
        ({"mrn": "A" * 33}, "mrn"),  # longer than an MRN may be
        ({"mrn": "12 34"}, "mrn"),  # a space is not an MRN character
        ({"mrn": "-1234"}, "mrn"),
        ({"mrn": 1234}, "mrn"),  # a JSON number is not an MRN
    ],
)
def test_patient_refusals_name_the_field(
    api: APIClient, overrides: dict[str, Any], field: str
) -> None:
    response = api.post(reverse("api:patients"), {**PATIENT, **overrides}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert not Patient.objects.exists()


def test_a_plan_is_created_from_the_patient_record_and_read_back(
    api: APIClient, patient: Patient, alice: Any
) -> None:
    response = api.post(
        reverse("api:patient-plans", args=[patient.pk]), regimen(), format="json"
    )
    assert response.status_code == 201, response.json()
    plan = TaperPlan.objects.get()
    revision = plan.current_revision
    assert (plan.patient, plan.created_by, plan.status) == (patient, alice, PlanStatus.DRAFT)
    # The zone and the patient facts come from the record, as on the plan page; the
    # stored input pins the protocol version it was planned with (planner/services.py).
    assert revision.engine_input == {**engine_input(patient), "protocol_version": "2"}
    body = response.json()
    assert body["plan"] == revision.engine_output
    assert body["start_date"] == START.isoformat()
    read = api.get(reverse("api:plan", args=[plan.pk])).json()
    assert read == body
    listed = api.get(reverse("api:patient-plans", args=[patient.pk])).json()["results"]
    assert [item["id"] for item in listed] == [plan.pk]


def test_the_same_submission_key_makes_one_plan(api: APIClient, patient: Patient) -> None:
    url = reverse("api:patient-plans", args=[patient.pk])
    first = api.post(url, regimen(submission_key="ehr-123"), format="json")
    again = api.post(url, regimen(submission_key="ehr-123"), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert TaperPlan.objects.count() == 1


def test_a_plan_that_needs_review_cannot_skip_it(api: APIClient, patient: Patient) -> None:
    fast = regimen(pace={"length_days": 10})  # faster than the protocol's 14 days
    response = api.post(reverse("api:patient-plans", args=[patient.pk]), fast, format="json")
    assert response.status_code == 201
    plan = TaperPlan.objects.get()
    assert plan.requires_review
    assert response.json()["requires_review"] is True
    assert "FASTER_THAN_PROTOCOL" in [flag["code"] for flag in response.json()["flags"]]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"doses": [{"time": "8pm", "amount_mg": 5}]}, "doses.0.time"),
        ({"doses": [{"time": "08:00", "amount_mg": 7}]}, "doses.0.amount_mg"),
        ({"months_on_therapy": -1}, "months_on_therapy"),
        ({"months_on_therapy": "three"}, "months_on_therapy"),
        ({"timezone": "Europe/London"}, "timezone"),
        ({"patient": {"age_years": 20}}, "patient"),
        ({"colour": "blue"}, "colour"),
        ({"submission_key": 12}, "submission_key"),
        ({"pace": {"length_days": 10**30}}, "pace.length_days"),
    ],
)
def test_plan_refusals_name_the_field(
    api: APIClient, patient: Patient, overrides: dict[str, Any], field: str
) -> None:
    response = api.post(
        reverse("api:patient-plans", args=[patient.pk]), regimen(**overrides), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not TaperPlan.objects.exists()
