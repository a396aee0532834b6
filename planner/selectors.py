"""Reads for the planner app, always scoped to what the user may see."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

import taper
from planner.chart import dose_chart, schedule_days
from planner.models import (
    Patient,
    PlanReview,
    PlanStatus,
    ReviewDecision,
    RevisionReview,
    StaffMember,
    TaperPlan,
)
from planner.roles import Role, has_role
from reminders.models import AbruptStopAlert, DoseStatus, Notice
from taper.missed_dose import GuidancePeriod, guidance_periods


def staff_clinic_id(user: User | AnonymousUser) -> int | None:
    if not user.is_authenticated:
        return None
    return StaffMember.objects.filter(user=user).values_list("clinic_id", flat=True).first()


def home_context_for(user: User | AnonymousUser) -> dict[str, Any]:
    clinic_id = staff_clinic_id(user)
    roles = [role for role in Role if has_role(user, role)]
    patients = (
        Patient.objects.filter(clinic_id=clinic_id).select_related("clinic")
        if clinic_id is not None
        else Patient.objects.none()
    )
    return {"roles": roles, "patients": patients, "clinic_id": clinic_id}


SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def sorted_flags(flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(flags, key=lambda flag: SEVERITY_ORDER.get(flag["severity"], 3))


# A revision's engine input and output (the whole day-by-day plan) are large; lists that
# show only its dates leave them in the database.
_REVISION_JSON = ("current_revision__engine_input", "current_revision__engine_output")


def dashboard(*, clinic_id: int) -> dict[str, Any]:
    """Active plans with today's adherence; the queries do not grow with the plans."""
    today_utc = timezone.now().date()
    window = (
        timezone.now() - dt.timedelta(hours=24),
        timezone.now(),
    )
    plans = (
        TaperPlan.objects.filter(patient__clinic_id=clinic_id, status=PlanStatus.ACTIVE)
        .select_related("patient", "current_revision")
        .defer(*_REVISION_JSON)
        .annotate(
            doses_due=Count(
                "doses",
                filter=Q(doses__due_at__range=window) & ~Q(doses__status=DoseStatus.CANCELLED),
            ),
            doses_taken=Count(
                "doses", filter=Q(doses__due_at__range=window, doses__status=DoseStatus.TAKEN)
            ),
            doses_missed=Count(
                "doses", filter=Q(doses__due_at__range=window, doses__status=DoseStatus.MISSED)
            ),
        )
        .order_by("-doses_missed", "patient__family_name")
    )
    drafts = (
        TaperPlan.objects.filter(
            patient__clinic_id=clinic_id,
            status__in=[PlanStatus.DRAFT, PlanStatus.PENDING_REVIEW, PlanStatus.APPROVED],
        )
        .select_related("patient", "current_revision")
        .defer(*_REVISION_JSON)
        .order_by("-updated_at")
    )
    alerts = (
        AbruptStopAlert.objects.filter(plan__patient__clinic_id=clinic_id, closed_at__isnull=True)
        .select_related("plan__patient")
        .order_by("raised_at")
    )
    return {"alerts": alerts, "active_plans": plans, "open_plans": drafts, "today": today_utc}


def patient_page(patient: Patient) -> dict[str, Any]:
    plans = (
        patient.plans.select_related("current_revision", "created_by")
        .prefetch_related("revisions")
        .order_by("-created_at", "-id")
    )
    regimen = patient.regimens.prefetch_related("doses").order_by("-created_at", "-id").first()
    return {"patient": patient, "plans": plans, "regimen": regimen}


def plan_form_initial(patient: Patient) -> dict[str, Any]:
    """Start from the last regimen entered for this patient, if any."""
    initial: dict[str, Any] = {"start_date": timezone.localdate() + dt.timedelta(days=1)}
    regimen = patient.regimens.prefetch_related("doses").order_by("-created_at", "-id").first()
    if regimen is None:
        return initial
    initial.update(product=regimen.product, months_on_therapy=regimen.months_on_therapy)
    for row, dose in enumerate(regimen.doses.all(), start=1):
        initial[f"dose_time_{row}"] = dose.time
        initial[f"dose_amount_{row}"] = dose.amount_mg
    return initial


def _current_daily_mg(engine_input: dict[str, Any]) -> Decimal:
    return sum((Decimal(str(d["amount_mg"])) for d in engine_input.get("doses", [])), Decimal(0))


def _final_daily_mg(engine_input: dict[str, Any]) -> Decimal:
    goal = engine_input.get("goal") or {}
    if goal.get("type") == "reduce":
        return Decimal(str(goal["target_daily_mg"]))
    return Decimal(0)


def schedule_context(engine_input: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    """What every view of a schedule shows: clinician, reviewer and handout alike."""
    chart_input = {
        **output,
        "current_daily_mg": _current_daily_mg(engine_input),
        "final_daily_mg": _final_daily_mg(engine_input),
    }
    return {
        "output": output,
        "flags": sorted_flags(output.get("flags", [])),
        "critical_flags": [f for f in output.get("flags", []) if f["severity"] == "critical"],
        "chart": dose_chart(chart_input),
        "days": schedule_days(output),
        "current_daily_mg": chart_input["current_daily_mg"],
        "missed_periods": missed_dose_periods(output),
    }


def missed_dose_periods(output: dict[str, Any]) -> list[GuidancePeriod]:
    """The missed-dose advice of each step in force on its days (a plan's JSON; steps
    with the same advice merged): pages and handouts show these, never only the first
    step's."""
    periods = guidance_periods(
        (
            dt.date.fromisoformat(step["start_date"]),
            dt.date.fromisoformat(step["end_date"]),
            step.get("missed_dose") or [],
        )
        for step in output.get("steps") or []
    )
    return [period for period in periods if period.rules]


def preview(form: Any) -> dict[str, Any]:
    if form.plan is None or form.engine_input is None:
        return {"preview": None}
    output = taper.plan_to_json(form.plan)
    return {"preview": schedule_context(form.engine_input, output)}


def plan_page(plan: TaperPlan, user: User | AnonymousUser | None = None) -> dict[str, Any]:
    revision = plan.current_revision
    assert revision is not None
    revisions = plan.revisions.select_related("created_by").prefetch_related("reviews__reviewer")
    pending = plan.revisions.filter(review_state=RevisionReview.PENDING).first()
    return {
        "plan": plan,
        "patient": plan.patient,
        "revision": revision,
        "revisions": revisions,
        "stored_flags": revision.flags.all(),
        "pending_revision": pending,
        "product_name": next(
            (p.name for p in taper.list_products() if p.id == revision.regimen.product),
            revision.regimen.product,
        ),
        "can_review": user is not None
        and has_role(user, Role.REVIEWER)
        and (plan.status == PlanStatus.PENDING_REVIEW or pending is not None),
        "is_reviewer": user is not None and has_role(user, Role.REVIEWER),
        "can_edit": user is not None and has_role(user, Role.CLINICIAN),
        "revisable": plan.revisable_on(
            timezone.now().astimezone(ZoneInfo(plan.patient.home_timezone)).date()
        ),
        "resumable_until": plan.resumable_until(),
        **schedule_context(revision.engine_input, revision.engine_output),
    }


def clinic_patient_list(*, clinic_id: int) -> Any:
    return Patient.objects.filter(clinic_id=clinic_id).annotate(plan_count=Count("plans"))


def open_rejections(plan: TaperPlan) -> Any:
    """The reviewer's comments on the version of a draft that is current: what to fix."""
    return PlanReview.objects.filter(
        revision_id=plan.current_revision_id, decision=ReviewDecision.REJECTED
    ).select_related("reviewer")


def staff_notices(user: User) -> Any:
    unread = Notice.objects.filter(user=user, read_at__isnull=True)
    return unread.order_by("-created_at", "-id")[:20]


def staff_notice(user: User, pk: int) -> Notice:
    return get_object_or_404(Notice, pk=pk, user=user)
