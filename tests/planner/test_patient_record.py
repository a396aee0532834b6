"""The patient record refuses what the engine would refuse (issue #16), on the field,
with the engine's own limits (taper.limits), from the clinician's page and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

import taper
from api import tokens
from planner.models import Patient
from taper import limits

TODAY = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)

VALID = {
    "given_name": "Jo",
    "family_name": "Doe",
    "date_of_birth": "1980-01-01",
    "sex": "female",
    "home_timezone": "Europe/Paris",
    "pregnancy_trimester": 0,
}

# (what changes, the field that must name the refusal)
REFUSED = [
    ({"creatinine_clearance_ml_min": -10}, "creatinine_clearance_ml_min"),
    ({"creatinine_clearance_ml_min": 0}, "creatinine_clearance_ml_min"),
    ({"creatinine_clearance_ml_min": 900}, "creatinine_clearance_ml_min"),
    ({"serum_creatinine_mg_dl": 0}, "serum_creatinine_mg_dl"),
    ({"serum_creatinine_mg_dl": 150}, "serum_creatinine_mg_dl"),
    ({"height_cm": 20}, "height_cm"),
    ({"sex": "male", "pregnancy_trimester": 2}, "pregnancy_trimester"),
    ({"date_of_birth": "1957-01-01", "pregnancy_trimester": 1}, "pregnancy_trimester"),
]
IDS = ["crcl-minus-10", "crcl-0", "crcl-900", "scr-0", "scr-150", "height-20", "male-pregnant",
       "pregnant-at-70"]


@pytest.fixture(autouse=True)
def today() -> Any:
    """Ages are counted from this day."""
    with time_machine.travel(TODAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def page(client: Client, alice: Any) -> Client:
    client.force_login(alice)
    return client


@pytest.mark.parametrize(("change", "field"), REFUSED, ids=IDS)
def test_the_patient_page_refuses_it_on_the_field(
    page: Client, change: dict[str, Any], field: str
) -> None:
    response = page.post(reverse("patient_new"), {**VALID, **change})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Patient.objects.exists()


@pytest.mark.parametrize(("change", "field"), REFUSED, ids=IDS)
def test_the_api_refuses_it_on_the_field(
    alice: Any, change: dict[str, Any], field: str
) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens.token_issue(user=alice).key}")
    response = api.post(reverse("api:patients"), {**VALID, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not Patient.objects.exists()


def test_editing_a_patient_is_held_to_the_same_limits(page: Client, patient: Patient) -> None:
    edit = reverse("patient_edit", args=[patient.pk])
    data = {**VALID, "creatinine_clearance_ml_min": 0}
    response = page.post(edit, data)
    assert "creatinine_clearance_ml_min" in response.context["form"].errors
    patient.refresh_from_db()
    assert patient.creatinine_clearance_ml_min is None


@pytest.mark.parametrize(
    ("engine_field", "fact", "outside"),
    [
        ("creatinine_clearance_ml_min", limits.CREATININE_CLEARANCE_ML_MIN, 900),
        ("serum_creatinine_mg_dl", limits.SERUM_CREATININE_MG_DL, 150),
        ("weight_kg", limits.WEIGHT_KG, 900),
        ("height_cm", limits.HEIGHT_CM, 20),
    ],
)
def test_the_page_says_what_the_engine_says(
    page: Client, engine_field: str, fact: limits.FactRange, outside: int
) -> None:
    """One rule, one place: the record's message is the engine's, word for word."""
    facts: dict[str, Any] = {"age_years": 40, engine_field: outside}
    with pytest.raises(taper.InvalidPlanInput) as refusal:
        taper.parse_request({"product": "baclofen-intrathecal", "patient": facts})
    engine_message = refusal.value.errors[f"patient.{engine_field}"][0]
    response = page.post(reverse("patient_new"), {**VALID, engine_field: outside})
    assert response.context["form"].errors[engine_field] == [engine_message] == [fact.message]


def test_a_pregnancy_at_the_age_limit_is_recorded(page: Client) -> None:
    response = page.post(
        reverse("patient_new"),
        {**VALID, "date_of_birth": "1967-01-01", "pregnancy_trimester": 1},
    )
    assert response.status_code == 302, response.context["form"].errors
    assert Patient.objects.get().pregnancy_trimester == 1
