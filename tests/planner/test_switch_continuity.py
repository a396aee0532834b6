"""Continuity across a switch to diazepam (issues #15 and #22): a plan that switches a
benzodiazepine to diazepam and a diazepam plan give the same drug, so one replaces the
other (never both running: two diazepam schedules at once), and since their milligrams
cannot be compared overnight, only after a reviewer approved it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from planner import continuity, services
from planner.models import Patient, PlanStatus, TaperPlan
from planner.roles import Role
from tests.support.clock import START
from tests.support.factories import make_staff
from tests.support.plans import engine_input


def _plan(patient: Patient, by: Any, product: str, mg: float, **more: Any) -> TaperPlan:
    data = engine_input(
        patient,
        product=product,
        doses=[{"time": t, "amount_mg": mg} for t in ("08:00", "14:00", "20:00")],
        **more,
    )
    return services.plan_create(patient=patient, by=by, engine_input=data)


def _started(plan: TaperPlan, clinician: Any, reviewer: Any) -> TaperPlan:
    if plan.requires_review:
        services.plan_submit(plan=plan, by=clinician)
        services.plan_approve(plan=plan, by=reviewer)
    services.plan_activate(plan=plan, by=clinician)
    plan.refresh_from_db()
    return plan


@pytest.fixture
def rita(django_user_model: Any, clinic: Any) -> Any:
    return make_staff(django_user_model, "rita", clinic, Role.REVIEWER)


def test_a_diazepam_plan_replaces_a_running_switch_to_diazepam_only_once_reviewed(
    alice: Any, rita: Any, patient: Patient
) -> None:
    switch = _started(
        _plan(patient, alice, "alprazolam-oral-tablet", 1, switch_to="diazepam-oral-tablet"),
        alice, rita,
    )  # fmt: skip
    assert continuity.plan_medicines(switch) == {"alprazolam", "diazepam"}
    diazepam = _plan(
        patient, alice, "diazepam-oral-tablet", 10,
        start_date=(START + dt.timedelta(days=7)).isoformat(),
    )  # fmt: skip

    assert continuity.running_plans(diazepam) == [switch]
    replacement = continuity.replacement_for(diazepam)
    assert replacement is not None
    assert not replacement.same_medicine
    assert replacement.cut_too_large
    summary = " ".join(continuity.activation_summary(diazepam, timezone.now()))
    assert "another drug" in summary
    refusal = continuity.activation_refusal(diazepam, timezone.now(), replacement)
    assert refusal is not None
    assert "another drug" in refusal
    with pytest.raises(services.PlanStateError):
        services.plan_activate(plan=diazepam, by=alice)
    assert TaperPlan.objects.get(pk=switch.pk).replaced_by is None

    services.plan_submit(plan=diazepam, by=alice)  # the replacement alone sends it
    services.plan_approve(plan=diazepam, by=rita)
    services.plan_activate(plan=diazepam, by=alice)
    assert TaperPlan.objects.get(pk=switch.pk).replaced_by == diazepam


def test_a_gabapentin_plan_runs_beside_a_baclofen_plan(
    alice: Any, rita: Any, patient: Patient
) -> None:
    baclofen = _started(_plan(patient, alice, "baclofen-oral-tablet", 10), alice, rita)
    gabapentin = _plan(patient, alice, "gabapentin-oral-capsule", 300)
    assert continuity.running_plans(gabapentin) == []
    _started(gabapentin, alice, rita)
    baclofen.refresh_from_db()
    assert (baclofen.status, baclofen.replaced_by) == (PlanStatus.ACTIVE, None)
