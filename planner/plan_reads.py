"""Reads of the plan record that the forms and every page layer share (the clinic's
pages, the patient's portal): planner imports nothing above it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import taper
from planner.models import Patient, PlanStatus, TaperPlan
from taper.missed_dose import guidance_periods

# Plans a new plan may not silently repeat: one identical to any of them is refused.
OPEN_PLAN_STATUSES = (
    PlanStatus.DRAFT,
    PlanStatus.PENDING_REVIEW,
    PlanStatus.APPROVED,
    PlanStatus.ACTIVE,
)


def plan_same_as(
    patient: Patient,
    engine_input: dict[str, Any],
    *,
    exclude_plan_id: int | None = None,
    submission_key: str | None = None,
) -> TaperPlan | None:
    """An open plan of this patient whose current version was made from exactly this
    engine input: saving the form again would only duplicate it. A form sent twice (its
    one-time key already used) is not a duplicate: the service returns the first plan."""
    if submission_key and TaperPlan.objects.filter(submission_key=submission_key).exists():
        return None
    plans = (
        patient.plans.filter(status__in=OPEN_PLAN_STATUSES)
        .exclude(pk=exclude_plan_id or 0)
        .select_related("current_revision")
        .defer("current_revision__engine_output")
        .order_by("-created_at", "-id")
    )
    # Compared as the engine reads them, so that a default left out ("pace" absent or
    # "standard") or 10 against 10.0 is the same plan.
    wanted = taper.parse_request(engine_input)
    for plan in plans:
        if plan.current_revision is None:
            continue
        try:
            same = taper.parse_request(plan.current_revision.engine_input) == wanted
        except taper.InvalidPlanInput:
            continue  # an input an older engine accepted: not comparable, not the same
        if same:
            return plan
    return None


def missed_dose_by_step(output: dict[str, Any]) -> list[dict[str, Any]]:
    """Each step's own missed-dose guidance for its days (taper.missed_dose
    .guidance_periods: neighbouring steps with the same advice run together), with the
    step numbers: a step that no longer has a 14:00 dose never says "take the 14:00
    dose as usual". Plans saved before steps carried their own advice fall back to the
    plan-wide list."""
    steps = output.get("steps") or []
    if steps and all(step.get("missed_dose") is not None for step in steps):
        number_from = {step["start_date"]: n for n, step in enumerate(steps, start=1)}
        number_to = {step["end_date"]: n for n, step in enumerate(steps, start=1)}
        periods = guidance_periods(
            (
                dt.date.fromisoformat(step["start_date"]),
                dt.date.fromisoformat(step["end_date"]),
                step["missed_dose"],
            )
            for step in steps
        )
        return [
            {
                "first_step": number_from[period.start_date.isoformat()],
                "last_step": number_to[period.end_date.isoformat()],
                "start_date": period.start_date.isoformat(),
                "end_date": period.end_date.isoformat(),
                "rules": list(period.rules),
            }
            for period in periods
            if period.rules
        ]
    rules = output.get("missed_dose") or []
    return [{"first_step": None, "rules": rules}] if rules else []
