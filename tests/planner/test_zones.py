"""Home time zones are real places (issue #16): offered with friendly names grouped by
region, and nothing else accepted, on the clinician's patient form and the API (the
patient's own settings: tests/portal/test_accounts_and_settings.py)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from django.forms import ChoiceField
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from api import tokens
from planner.forms import PatientForm
from planner.models import Patient
from planner.zones import home_zones, zone_choices

NOT_PLACES = ["localtime", "Factory", "Etc/GMT+5", "Etc/UTC", "UTC", "GMT", "US/Eastern",
              "GB", "posixrules", "EST5EDT"]
PATIENT = {
    "given_name": "Jo", "family_name": "Doe", "date_of_birth": "1980-01-01", "sex": "female",
    "pregnancy_trimester": 0,
}


def test_the_offered_zones_are_real_places_with_friendly_names() -> None:
    zones = home_zones()
    assert not set(NOT_PLACES) & set(zones)
    assert all(name.split("/")[0] not in ("Etc", "US", "SystemV") for name in zones)
    assert {"Europe/London", "America/Denver", "Europe/Oslo", "Asia/Kolkata"} <= set(zones)
    assert zones["America/Denver"].label == "Denver — United States (Mountain, most areas)"
    assert zones["America/Argentina/Buenos_Aires"].label.startswith("Buenos Aires — Argentina")
    assert all("_" not in zone.label for zone in zones.values())
    for name in zones:
        assert name in available_timezones()
        ZoneInfo(name)


def test_the_patient_form_groups_them_by_region() -> None:
    field = PatientForm().fields["home_timezone"]
    assert isinstance(field, ChoiceField)
    choices: list[Any] = list(field.choices)  # type: ignore[arg-type]
    assert choices[0] == ("", "Choose the patient's home time zone")
    groups = dict(choices[1:])
    assert list(groups) == [region for region, _ in zone_choices()]
    europe, pacific = dict(groups["Europe"]), dict(groups["Pacific Ocean"])
    assert europe["Europe/Madrid"].startswith("Madrid — Spain")
    assert pacific["Pacific/Auckland"].startswith("Auckland — New Zealand")
    assert "America/Denver" not in europe


@pytest.fixture
def page(client: Client, alice: Any) -> Client:
    client.force_login(alice)
    return client


@pytest.mark.parametrize("zone", NOT_PLACES)
def test_the_patient_page_refuses_a_zone_that_is_no_place(page: Client, zone: str) -> None:
    response = page.post(reverse("patient_new"), {**PATIENT, "home_timezone": zone})
    assert "home_timezone" in response.context["form"].errors
    assert not Patient.objects.exists()


@pytest.mark.parametrize("zone", NOT_PLACES)
def test_the_api_refuses_a_zone_that_is_no_place(alice: Any, zone: str) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens.token_issue(user=alice).key}")
    response = api.post(reverse("api:patients"), {**PATIENT, "home_timezone": zone},
                        format="json")
    assert response.status_code == 400
    assert "home_timezone" in response.json()["errors"]
    assert not Patient.objects.exists()


def test_the_api_needs_a_home_zone_and_takes_a_real_place(alice: Any) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens.token_issue(user=alice).key}")
    missing = api.post(reverse("api:patients"), PATIENT, format="json")
    assert missing.status_code == 400
    assert "home_timezone" in missing.json()["errors"]
    made = api.post(reverse("api:patients"), {**PATIENT, "home_timezone": "Europe/Oslo"},
                    format="json")
    assert made.status_code == 201
    assert Patient.objects.get().home_timezone == "Europe/Oslo"


@pytest.mark.parametrize("zone", NOT_PLACES)
def test_the_api_preview_refuses_a_zone_that_is_no_place(alice: Any, zone: str) -> None:
    from tests.support.taper import oral_input

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens.token_issue(user=alice).key}")
    response = api.post(reverse("api:plan-preview"), oral_input(timezone=zone), format="json")
    assert response.status_code == 400
    assert "real place" in response.json()["errors"]["timezone"][0]
    good = api.post(reverse("api:plan-preview"), oral_input(timezone="Europe/Oslo"),
                    format="json")
    assert good.status_code == 200
