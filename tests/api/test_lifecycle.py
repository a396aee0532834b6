"""Submit, activate and cancel through the API: the same planner.services functions as
the plan page's buttons, their refusals as JSON (400 naming the field, 409 for a plan in
the wrong state, 403, and 404 for another clinic's plan)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from planner import services
from planner.models import Patient, PlanFlag, PlanStatus, TaperPlan
from reminders.models import Dose, DoseStatus
from tests.support.api import engine_input, token_client

ACTIONS = ["submit", "activate", "cancel"]


def url(action: str, plan: TaperPlan | int) -> str:
    return reverse(f"api:plan-{action}", args=[plan if isinstance(plan, int) else plan.pk])


@pytest.fixture
def reviewed_plan(alice: Any, patient: Patient) -> TaperPlan:
    """A plan faster than the protocol: it needs a reviewer before it starts."""
    return services.plan_create(
        patient=patient, by=alice, engine_input=engine_input(patient, pace={"length_days": 10})
    )


def test_submit_sends_a_plan_that_needs_review_to_the_queue(
    api: APIClient, reviewed_plan: TaperPlan
) -> None:
    response = api.post(url("submit", reviewed_plan))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == PlanStatus.PENDING_REVIEW
    reviewed_plan.refresh_from_db()
    assert reviewed_plan.status == PlanStatus.PENDING_REVIEW
    assert reviewed_plan.submitted_at is not None


def test_submit_refuses_a_plan_that_needs_no_review_with_409(
    api: APIClient, plan: TaperPlan
) -> None:
    response = api.post(url("submit", plan))
    assert response.status_code == 409
    assert "needs no review" in response.json()["detail"]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT


def test_activate_starts_a_plan_and_schedules_its_doses(api: APIClient, plan: TaperPlan) -> None:
    response = api.post(url("activate", plan))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == PlanStatus.ACTIVE
    assert response.json()["activated_at"]
    assert Dose.objects.filter(plan=plan, status=DoseStatus.SCHEDULED).exists()


def test_activate_refuses_a_plan_not_yet_approved_with_409(
    api: APIClient, reviewed_plan: TaperPlan
) -> None:
    response = api.post(url("activate", reviewed_plan))
    assert response.status_code == 409
    assert "approved" in response.json()["detail"]
    assert not Dose.objects.filter(plan=reviewed_plan).exists()


def test_activate_starts_a_plan_once_a_reviewer_approved_it(
    api: APIClient, bob: Any, reviewed_plan: TaperPlan
) -> None:
    assert api.post(url("submit", reviewed_plan)).status_code == 200
    services.plan_approve(plan=reviewed_plan, by=bob)
    response = api.post(url("activate", reviewed_plan))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == PlanStatus.ACTIVE


def test_activate_twice_is_a_409(api: APIClient, plan: TaperPlan) -> None:
    assert api.post(url("activate", plan)).status_code == 200
    again = api.post(url("activate", plan))
    assert again.status_code == 409
    assert "active" in again.json()["detail"]


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_cancel_without_a_reason_is_a_400_naming_the_field(
    api: APIClient, plan: TaperPlan, body: dict[str, Any]
) -> None:
    response = api.post(url("cancel", plan), body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["reason"]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT


def test_cancel_refuses_unknown_fields_by_name(api: APIClient, plan: TaperPlan) -> None:
    response = api.post(url("cancel", plan), {"reason": "x", "why": "y"}, format="json")
    assert response.status_code == 400
    assert "why" in response.json()["errors"]


def test_cancel_of_a_draft_records_the_reason(api: APIClient, plan: TaperPlan) -> None:
    response = api.post(url("cancel", plan), {"reason": "  Duplicate order  "}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == PlanStatus.CANCELLED
    plan.refresh_from_db()
    assert plan.cancel_reason == "Duplicate order"
    assert not PlanFlag.objects.filter(code="ABRUPT_STOP").exists()


def test_cancel_of_an_active_plan_is_flagged_as_an_abrupt_stop(
    api: APIClient, plan: TaperPlan
) -> None:
    assert api.post(url("activate", plan)).status_code == 200
    response = api.post(url("cancel", plan), {"reason": "Patient admitted"}, format="json")
    assert response.status_code == 200, response.json()
    assert "ABRUPT_STOP" in [flag["code"] for flag in response.json()["flags"]]
    assert not Dose.objects.filter(plan=plan, status=DoseStatus.SCHEDULED).exists()


def test_cancel_of_a_cancelled_plan_is_a_409(api: APIClient, plan: TaperPlan) -> None:
    assert api.post(url("cancel", plan), {"reason": "x"}, format="json").status_code == 200
    again = api.post(url("cancel", plan), {"reason": "x"}, format="json")
    assert again.status_code == 409
    assert "cancelled" in again.json()["detail"]


@pytest.mark.parametrize("action", ACTIONS)
def test_another_clinics_plan_is_not_found(
    charlie: Any, plan: TaperPlan, action: str
) -> None:
    response = token_client(charlie).post(url(action, plan), {"reason": "x"}, format="json")
    assert response.status_code == 404
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT


@pytest.mark.parametrize("action", ACTIONS)
def test_an_unknown_plan_is_not_found(api: APIClient, action: str) -> None:
    assert api.post(url(action, 999_999), {"reason": "x"}, format="json").status_code == 404


@pytest.mark.parametrize("action", ACTIONS)
def test_a_reviewer_may_not_change_a_plan(bob: Any, plan: TaperPlan, action: str) -> None:
    response = token_client(bob).post(url(action, plan), {"reason": "x"}, format="json")
    assert response.status_code == 403
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT


@pytest.mark.parametrize("action", ACTIONS)
def test_without_a_token_nothing_happens(plan: TaperPlan, action: str) -> None:
    response = APIClient().post(url(action, plan), {"reason": "x"}, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("refusal", "status", "key"),
    [
        (services.PlanStateError("Not now."), 409, "detail"),
        (ValidationError({"start_date": "The first day is in the past."}), 400, "errors"),
        (ValidationError("No."), 400, "errors"),
        (PermissionDenied("Not yours."), 403, "detail"),
    ],
    ids=["state", "field", "no-field", "permission"],
)
@pytest.mark.parametrize("action", ACTIONS)
def test_each_refusal_of_the_service_is_mapped(
    api: APIClient,
    plan: TaperPlan,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    refusal: Exception,
    status: int,
    key: str,
) -> None:
    """Whatever the service refuses (its rules may grow), the API answers it alike."""
    calls: list[dict[str, Any]] = []

    def refuse(**kwargs: Any) -> None:
        calls.append(kwargs)
        raise refusal

    monkeypatch.setattr(services, f"plan_{action}", refuse)
    response = api.post(url(action, plan), {"reason": "Stop"}, format="json")
    assert response.status_code == status
    assert key in response.json()
    assert [call["plan"].pk for call in calls] == [plan.pk]
    if action == "cancel":
        assert calls[0]["reason"] == "Stop"
    if status == 400 and isinstance(refusal, ValidationError) and hasattr(refusal, "error_dict"):
        assert list(response.json()["errors"]) == ["start_date"]
    elif status == 400:
        assert list(response.json()["errors"]) == ["__all__"]
