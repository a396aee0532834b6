"""The API sees what the pages see: the caller's clinic only; patients and anonymous
callers are refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from planner.models import AccessAction, AccessLogEntry, Patient, TaperPlan
from reminders.models import AbruptStopAlert
from tests.support.api import regimen, token_client


def object_urls(patient: Patient, plan: TaperPlan) -> list[str]:
    return [
        reverse("api:patient", args=[patient.pk]),
        reverse("api:patient-plans", args=[patient.pk]),
        reverse("api:plan", args=[plan.pk]),
        reverse("api:plan-doses", args=[plan.pk]),
        reverse("api:plan-fhir", args=[plan.pk]),
    ]


def test_staff_of_another_clinic_get_404_for_every_object(
    charlie: Any, patient: Patient, plan: TaperPlan
) -> None:
    client = token_client(charlie)
    for url in object_urls(patient, plan):
        assert client.get(url).status_code == 404, url
    response = client.post(
        reverse("api:patient-plans", args=[patient.pk]), regimen(), format="json"
    )
    assert response.status_code == 404
    assert TaperPlan.objects.count() == 1
    assert not AccessLogEntry.objects.exists()


def test_lists_hold_only_the_callers_clinic(
    charlie: Any, api: APIClient, patient: Patient, plan: TaperPlan
) -> None:
    AbruptStopAlert.objects.create(
        plan=plan, reason="consecutive_missed", since=plan.created_at, raised_at=plan.created_at
    )
    other = token_client(charlie)
    for name in ("api:patients", "api:plans", "api:alerts"):
        assert other.get(reverse(name)).json()["results"] == [], name
        assert len(api.get(reverse(name)).json()["results"]) == 1, name


def test_a_patient_is_refused_with_403(
    patient_user: Any, patient: Patient, plan: TaperPlan
) -> None:
    client = APIClient()
    client.force_login(patient_user)
    for url in [*object_urls(patient, plan), reverse("api:patients"), reverse("api:alerts")]:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("api:plan-preview"), {}, format="json").status_code == 403


def test_an_anonymous_caller_gets_401_and_a_bad_token_too(
    patient: Patient, plan: TaperPlan
) -> None:
    anonymous = APIClient()
    for url in [*object_urls(patient, plan), reverse("api:patients")]:
        response = anonymous.get(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Token"
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert forged.get(reverse("api:patients")).status_code == 401


def test_a_reviewer_reads_and_previews_but_cannot_create(
    bob: Any, patient: Patient, plan: TaperPlan
) -> None:
    client = token_client(bob)
    assert client.get(reverse("api:plan", args=[plan.pk])).status_code == 200
    preview = client.post(reverse("api:plan-preview"), {"product": "x"}, format="json")
    assert preview.status_code == 400
    response = client.post(
        reverse("api:patient-plans", args=[patient.pk]), regimen(), format="json"
    )
    assert response.status_code == 403
    assert TaperPlan.objects.count() == 1


def test_the_site_session_works_and_needs_csrf_for_writes(
    alice: Any, patient: Patient
) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(reverse("api:patients")).status_code == 200
    response = client.post(
        reverse("api:patient-plans", args=[patient.pk]), regimen(), format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


@pytest.mark.parametrize(
    ("name", "action"),
    [("api:plan", AccessAction.API_READ), ("api:plan-fhir", AccessAction.FHIR_EXPORT)],
)
def test_reading_a_plan_leaves_an_access_log_entry(
    api: APIClient, alice: Any, plan: TaperPlan, name: str, action: AccessAction
) -> None:
    assert api.get(reverse(name, args=[plan.pk])).status_code == 200
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.patient, entry.plan, entry.action) == (
        alice, plan.patient, plan, action
    )


@pytest.mark.parametrize("name", ["api:patient", "api:patient-plans"])
def test_reading_a_patients_records_leaves_an_access_log_entry(
    api: APIClient, alice: Any, patient: Patient, name: str
) -> None:
    assert api.get(reverse(name, args=[patient.pk])).status_code == 200
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.patient, entry.action) == (alice, patient, AccessAction.API_READ)
