"""Issue #22 through the API: a clonazepam plan switched to diazepam, a gabapentin and a
zolpidem plan are previewed, created, submitted, approved (on the site: the API does not
approve) and activated; `switch_to` is taken and given back, with the equivalence."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from planner import services
from planner.models import Patient, PlanStatus, TaperPlan
from tests.support.api import engine_input, regimen

REQUESTS = {
    "clonazepam": regimen(
        product="clonazepam-oral-tablet", switch_to="diazepam-oral-tablet",
        doses=[{"time": "08:00", "amount_mg": 1}, {"time": "20:00", "amount_mg": 1}],
        months_on_therapy=60,
    ),
    "gabapentin": regimen(
        product="gabapentin-oral-capsule",
        doses=[{"time": t, "amount_mg": 300} for t in ("08:00", "14:00", "20:00")],
        months_on_therapy=12,
    ),
    "zolpidem": regimen(
        product="zolpidem-oral-tablet",
        doses=[{"time": "22:00", "amount_mg": 10, "role": "bedtime"}], months_on_therapy=12,
    ),
}  # fmt: skip


@pytest.mark.parametrize("drug", sorted(REQUESTS))
def test_a_plan_of_each_drug_class_is_previewed_created_reviewed_and_activated(
    drug: str, api: APIClient, bob: Any, patient: Patient
) -> None:
    body = REQUESTS[drug]
    preview_input = engine_input(patient, **body)
    preview = api.post(reverse("api:plan-preview"), preview_input, format="json")
    assert preview.status_code == 200, preview.json()
    created = api.post(reverse("api:patient-plans", args=[patient.pk]), body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["drug"] == drug
    assert created.json()["switch_to"] == body.get("switch_to")
    plan = TaperPlan.objects.get(pk=created.json()["id"])
    if plan.requires_review:
        submitted = api.post(reverse("api:plan-submit", args=[plan.pk]))
        assert submitted.json()["status"] == PlanStatus.PENDING_REVIEW
        services.plan_approve(plan=plan, by=bob)
    activated = api.post(reverse("api:plan-activate", args=[plan.pk]))
    assert activated.status_code == 200, activated.json()
    assert activated.json()["status"] == PlanStatus.ACTIVE


def test_switch_to_is_stored_and_read_back_with_the_plans_equivalence(
    api: APIClient, patient: Patient
) -> None:
    created = api.post(
        reverse("api:patient-plans", args=[patient.pk]), REQUESTS["clonazepam"], format="json"
    ).json()
    read = api.get(reverse("api:plan", args=[created["id"]])).json()
    assert read["switch_to"] == "diazepam-oral-tablet"
    assert read["product"] == "clonazepam-oral-tablet"
    equivalence = read["plan"]["equivalence"]
    assert equivalence["from_product"] == "clonazepam-oral-tablet"
    assert equivalence["to_product"] == "diazepam-oral-tablet"
    assert {"factor", "source", "range"} <= set(equivalence)
    assert "EQUIVALENCE_SWITCH" in {flag["code"] for flag in read["flags"]}
    listed = api.get(reverse("api:patient-plans", args=[patient.pk])).json()["results"]
    assert [plan["switch_to"] for plan in listed] == ["diazepam-oral-tablet"]


def test_a_switch_the_equivalence_table_cannot_make_is_refused_naming_switch_to(
    api: APIClient, patient: Patient
) -> None:
    response = api.post(
        reverse("api:patient-plans", args=[patient.pk]),
        {**REQUESTS["gabapentin"], "switch_to": "diazepam-oral-tablet"},
        format="json",
    )
    assert response.status_code == 400
    assert "switch_to" in response.json()["errors"]
    assert not TaperPlan.objects.exists()
