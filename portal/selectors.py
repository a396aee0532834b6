"""Reads for the patient portal, always scoped to one patient's own records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from planner.chart import dose_chart
from planner.models import Patient, PlanStatus, TaperPlan
from planner.plan_reads import missed_dose_by_step
from reminders.models import CheckIn, Dose, DoseState, DoseStatus, Notice

HISTORY_STATUSES = (DoseStatus.TAKEN, DoseStatus.SKIPPED, DoseStatus.MISSED)


def patient_of(user: AbstractBaseUser | AnonymousUser) -> Patient | None:
    if not user.is_authenticated:
        return None
    return Patient.objects.filter(user_id=user.pk).select_related("clinic").first()


def patient_doses(patient: Patient) -> QuerySet[Dose]:
    """Every live dose of the patient's plans; the one way portal pages reach doses."""
    return Dose.objects.filter(plan__patient=patient).exclude(status=DoseStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class DoseLine:
    dose: Dose
    # Dose.state_at: "missed" also covers a dose whose catch-up window has closed
    # before the minute sweep marked it.
    state: str
    can_take: bool
    can_skip: bool
    until: str  # end of the catch-up window, "HH:MM" in the dose's own zone
    offer_missed_help: bool  # the "I missed it — what now?" link


def dose_line(dose: Dose, now: dt.datetime) -> DoseLine:
    """A dose as the Today page shows it: its buttons are exactly the answers
    planner.doses.dose_record accepts now (Dose.answers_at)."""
    state = dose.state_at(now)
    answers = dose.answers_at(now)
    return DoseLine(
        dose=dose,
        state=str(state),
        can_take=DoseStatus.TAKEN in answers,
        can_skip=DoseStatus.SKIPPED in answers,
        until=f"{dose.catch_up_until.astimezone(ZoneInfo(dose.timezone)):%H:%M}",
        offer_missed_help=state in {DoseState.DUE, DoseState.CATCH_UP, DoseState.MISSED},
    )


def active_plan(patient: Patient) -> TaperPlan | None:
    return (
        TaperPlan.objects.filter(patient=patient, status=PlanStatus.ACTIVE)
        .select_related("current_revision")
        .order_by("-activated_at", "-id")
        .first()
    )


@dataclass(frozen=True, slots=True)
class Progress:
    day: int
    days: int


def plan_progress(plan: TaperPlan, today: dt.date) -> Progress | None:
    revision = plan.current_revision
    if revision is None:
        return None
    first = plan.revisions.order_by("number").values_list("start_date", flat=True).first()
    start = first or revision.start_date
    days = (revision.end_date - start).days + 1
    day = min(max((today - start).days + 1, 0), days)
    return Progress(day=day, days=days)


@dataclass(frozen=True, slots=True)
class DoseChange:
    date: dt.date
    from_mg: Decimal
    to_mg: Decimal


def next_dose_change(plan: TaperPlan, today: dt.date) -> DoseChange | None:
    revision = plan.current_revision
    if revision is None:
        return None
    steps = revision.engine_output.get("steps") or []
    previous: Decimal | None = None
    for step in steps:
        start = dt.date.fromisoformat(step["start_date"])
        total = Decimal(str(step["daily_total_mg"]))
        if start > today and previous is not None:
            return DoseChange(date=start, from_mg=previous, to_mg=total)
        previous = total
    if steps and dt.date.fromisoformat(steps[-1]["end_date"]) >= today:
        end = dt.date.fromisoformat(steps[-1]["end_date"]) + dt.timedelta(days=1)
        final = Decimal(str((revision.engine_input.get("goal") or {}).get("target_daily_mg", 0)))
        return DoseChange(date=end, from_mg=previous or Decimal(0), to_mg=final)
    return None


def today_context(patient: Patient, now: dt.datetime) -> dict[str, Any]:
    zone = ZoneInfo(patient.home_timezone)
    today = now.astimezone(zone).date()
    doses = patient_doses(patient).filter(local_date=today).order_by("due_at")
    lines = [dose_line(dose, now) for dose in doses]
    upcoming = (
        patient_doses(patient)
        .filter(status=DoseStatus.SCHEDULED, catch_up_until__gte=now)
        .order_by("due_at")
        .first()
    )
    plan = active_plan(patient)
    return {
        "patient": patient,
        "today": today,
        "now_local": now.astimezone(zone),
        "lines": lines,
        "next_line": dose_line(upcoming, now) if upcoming else None,
        "plan": plan,
        "progress": plan_progress(plan, today) if plan else None,
        "change": next_dose_change(plan, today) if plan else None,
        "notices": Notice.objects.filter(user_id=patient.user_id)[:10]
        if patient.user_id
        else [],
        "unread": Notice.objects.filter(user_id=patient.user_id, read_at__isnull=True).exists()
        if patient.user_id
        else False,
    }


def missed_candidates(patient: Patient, now: dt.datetime) -> list[Dose]:
    """Doses of the last day that were not taken, newest first: the ones a patient
    who says "I missed a dose" can mean."""
    return list(
        patient_doses(patient)
        .filter(
            status__in=[DoseStatus.SCHEDULED, DoseStatus.MISSED],
            due_at__lte=now,
            due_at__gte=now - dt.timedelta(hours=24),
        )
        .order_by("-due_at")
    )


def plan_context(patient: Patient) -> dict[str, Any]:
    plan = active_plan(patient)
    if plan is None or plan.current_revision is None:
        return {"patient": patient, "plan": None}
    revision = plan.current_revision
    output = revision.engine_output
    engine_input = revision.engine_input
    current = sum(
        (Decimal(str(d["amount_mg"])) for d in engine_input.get("doses", [])), Decimal(0)
    )
    final = Decimal(str((engine_input.get("goal") or {}).get("target_daily_mg", 0)))
    chart = dose_chart({**output, "current_daily_mg": current, "final_daily_mg": final})
    steps = output.get("steps") or []
    return {
        "patient": patient,
        "plan": plan,
        "output": output,
        "steps": steps,
        "chart": chart,
        "current_daily_mg": current,
        "final_daily_mg": final,
        # Each step's own windows (issues #15, #18): a later step's 08:00 dose may be
        # taken until 14:00, not the first step's 11:00.
        "missed_groups": [_dated(group) for group in missed_dose_by_step(output)],
        "intrathecal": bool(output.get("refills")) or "intrathecal" in plan.drug,
    }


def _dated(group: dict[str, Any]) -> dict[str, Any]:
    if not group["first_step"]:
        return {**group, "start": None, "end": None}
    return {
        **group,
        "start": dt.date.fromisoformat(group["start_date"]),
        "end": dt.date.fromisoformat(group["end_date"]),
    }


def dose_history(patient: Patient) -> QuerySet[Dose]:
    return (
        Dose.objects.filter(plan__patient=patient, status__in=HISTORY_STATUSES)
        .select_related("plan")
        .order_by("-due_at", "-id")
    )


def checkins_of(patient: Patient) -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(plan__patient=patient).order_by("-answered_at")


CSV_HEADER = (
    "plan",
    "date",
    "time",
    "time_zone",
    "amount_mg",
    "units",
    "status",
    "answered_at_utc",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """Spreadsheets run a cell that starts with = + - @ (or a tab or CR before one) as a
    formula; a leading apostrophe makes it text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def dose_history_rows(patient: Patient) -> list[list[str]]:
    rows = [list(CSV_HEADER)]
    for dose in dose_history(patient).order_by("due_at", "id"):
        answered = dose.answered_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if (
            dose.answered_at
        ) else ""
        rows.append(
            [
                csv_cell(value)
                for value in (
                    dose.plan_id,
                    dose.local_date.isoformat(),
                    f"{dose.local_time:%H:%M}",
                    dose.timezone,
                    dose.amount_mg,
                    dose.units_text,
                    dose.status,
                    answered,
                )
            ]
        )
    return rows
