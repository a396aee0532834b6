"""Revisions of a running oral plan: hold, step back, slow down.

A clinician revises an active plan from a chosen date; the revisions are part of the
request (`revisions`), so every stored revision is rebuilt from its JSON alone. Each
revision works on the steps of the plan as it stands, in order, and changes nothing
before its from_date: the steps (and doses) of earlier days stay as they were, and the
dose events, dispensing and guidance are then made from the revised steps by the same
code as any plan (taper/plan.py).

A revision only ever lengthens the plan. A step back is the one change that raises
the daily dose: the clinician puts the patient back on a dose already tolerated (the
step before, or the starting regimen), never above the starting regimen, and with that
regimen's own dose times.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from taper.flags import Flag, revised_flag
from taper.missed_dose import MissedDoseGuidance, missed_dose_guidance
from taper.pace import stretch_days
from taper.request import Errors, InvalidPlanInput, PlanRequest, Revision
from taper.rounding import format_amount
from taper.schedule import ScheduledDose, Step, dose_roles, scheduled_dose


@dataclass(frozen=True, slots=True)
class Rung:
    """A dose level the patient has been on: the starting regimen or one planned step."""

    daily_total_mg: Decimal
    doses: tuple[ScheduledDose, ...]
    missed_dose: tuple[MissedDoseGuidance, ...]


@dataclass(frozen=True, slots=True)
class RevisedSteps:
    steps: tuple[Step, ...]
    flags: tuple[Flag, ...]  # one REVISED flag per revision, in order


def revise_steps(
    request: PlanRequest,
    steps: tuple[Step, ...],
    *,
    step_days: int,
    slower_factor: Decimal,
    catch_up_fraction: Decimal,
    after_end_days: int = 0,
) -> RevisedSteps:
    """Apply request.revisions in order to the planned steps, or raise InvalidPlanInput
    (keyed revisions.K.from_date) when a from_date is outside the plan as it stands.

    A hold or step back may also start up to after_end_days after the last dosing day
    (withdrawal shows 1–3 days after a cut): it resumes the last level the patient took,
    from from_date, and the days between get no doses."""
    ladder = _ladder(request, steps, catch_up_fraction)
    current = list(steps)
    interval = step_days  # the step interval in force; a slow down stretches it
    flags: list[Flag] = []
    for position, revision in enumerate(request.revisions):
        day = revision.from_date
        if not current:
            raise InvalidPlanInput(
                {f"revisions.{position}.from_date": ["A plan that stops now cannot be revised."]}
            )
        first, last = current[0].start_date, current[-1].end_date
        after = after_end_days if revision.kind in ("hold", "step_back") else 0
        latest = last + timedelta(days=after)
        if not first <= day <= latest:
            what = (
                f"({first} to {latest}: a hold or step back may start up to {_days(after)} "
                "after the last dosing day)"
                if after
                else f"({first} to {last})"
            )
            raise InvalidPlanInput(
                {
                    f"revisions.{position}.from_date": [
                        f"Choose a date within the plan as it stands before this revision {what}."
                    ]
                }
            )
        if day > last:
            # After the end: the last level the patient took starts again on from_date,
            # for the hold's days or one step interval; the days between have no doses.
            final = current[-1]
            days = (revision.days or 0) if revision.kind == "hold" else interval
            current.append(replace(final, start_date=day, end_date=day + timedelta(days=days - 1)))
            flags.append(
                revised_flag(
                    day,
                    f"after the end, back on {format_amount(final.daily_total_mg)} mg a day "
                    f"(the last dose taken) for {_days(days)}, then stop.",
                )
            )
            continue
        k = next(i for i, step in enumerate(current) if step.start_date <= day <= step.end_date)
        if revision.kind == "hold":
            days = revision.days or 0
            current, text = _hold(current, k, days)
        elif revision.kind == "step_back":
            current, text = _step_back(current, k, day, ladder, interval)
        else:
            current, text = _slow_down(current, k, day, slower_factor)
            interval = stretch_days(interval, slower_factor)
        flags.append(revised_flag(day, text))
    return RevisedSteps(
        steps=tuple(replace(step, index=i) for i, step in enumerate(current)),
        flags=tuple(flags),
    )


def from_date_refusals(request: PlanRequest) -> Errors:
    """The from_date checks that need the plan, for parse_request to report up front."""
    # Imported here: taper.plan uses this module.
    from taper.plan import plan

    try:
        plan(request)
    except InvalidPlanInput as exc:
        return exc.errors
    return {}


def revision_json(revision: Revision) -> dict[str, object]:
    data: dict[str, object] = {"kind": revision.kind, "from_date": revision.from_date.isoformat()}
    if revision.days is not None:
        data["days"] = revision.days
    return data


# --- The three kinds ---------------------------------------------------------------


def _hold(steps: list[Step], k: int, days: int) -> tuple[list[Step], str]:
    held = steps[k]
    revised = [
        *steps[:k],
        replace(held, end_date=held.end_date + timedelta(days=days)),
        *(_shifted(step, days) for step in steps[k + 1 :]),
    ]
    return revised, (
        f"hold {format_amount(held.daily_total_mg)} mg a day {_days(days)} longer; "
        f"later steps move {_days(days)} later."
    )


def _step_back(
    steps: list[Step], k: int, day: date, ladder: tuple[Rung, ...], interval: int
) -> tuple[list[Step], str]:
    in_force = steps[k]
    rung_index = _rung_of(ladder, in_force)
    back = ladder[max(rung_index - 1, 0)]
    revised = list(steps[:k])
    if day > in_force.start_date:
        revised.append(replace(in_force, end_date=day - timedelta(days=1)))
    back_end = day + timedelta(days=interval - 1)
    revised.append(
        Step(
            index=in_force.index,  # renumbered at the end
            start_date=day,
            end_date=back_end,
            daily_total_mg=back.daily_total_mg,
            doses=back.doses,
            missed_dose=back.missed_dose,
        )
    )
    restart = back_end + timedelta(days=1)
    revised.append(
        replace(in_force, start_date=restart, end_date=restart + timedelta(days=in_force.days - 1))
    )
    shift = (restart - in_force.start_date).days
    revised += [_shifted(step, shift) for step in steps[k + 1 :]]
    what = "the starting dose" if rung_index <= 1 else "the last tolerated dose"
    return revised, (
        f"step back to {format_amount(back.daily_total_mg)} mg a day ({what}) for "
        f"{_days(interval)}, then {format_amount(in_force.daily_total_mg)} mg a day again "
        f"for {_days(in_force.days)}; later steps move {_days(shift)} later."
    )


def _slow_down(steps: list[Step], k: int, day: date, factor: Decimal) -> tuple[list[Step], str]:
    in_force = steps[k]
    remaining = (in_force.end_date - day).days + 1
    end = day + timedelta(days=stretch_days(remaining, factor) - 1)
    revised = [*steps[:k], replace(in_force, end_date=end)]
    start = end + timedelta(days=1)
    for step in steps[k + 1 :]:
        days = stretch_days(step.days, factor)
        revised.append(replace(step, start_date=start, end_date=start + timedelta(days=days - 1)))
        start += timedelta(days=days)
    return revised, (
        f"slow the rest of the taper: the rest of the current step and every later step "
        f"{format_amount(factor)} times as long (rounded up to whole days), at the same doses."
    )


# --- Helpers -----------------------------------------------------------------------


def _ladder(
    request: PlanRequest, steps: tuple[Step, ...], catch_up_fraction: Decimal
) -> tuple[Rung, ...]:
    """The starting regimen, then each planned level: where a step back can return to."""
    roles = dose_roles([(dose.time, dose.role) for dose in request.doses])
    start = Rung(
        daily_total_mg=request.daily_total_mg,
        doses=tuple(
            scheduled_dose(request.product, dose.time, dose.amount_mg, role)
            for dose, role in zip(request.doses, roles, strict=True)
        ),
        missed_dose=missed_dose_guidance(
            tuple(dose.time for dose in request.doses), catch_up_fraction
        ),
    )
    return (start, *(Rung(s.daily_total_mg, s.doses, s.missed_dose) for s in steps))


def _rung_of(ladder: tuple[Rung, ...], step: Step) -> int:
    # Planned levels fall strictly, so a daily total names its rung; a revision only
    # ever reuses rungs. The last match: a dose already at one dose step is both the
    # starting regimen and the one planned step.
    return max(i for i, rung in enumerate(ladder) if rung.daily_total_mg == step.daily_total_mg)


def _shifted(step: Step, days: int) -> Step:
    delta = timedelta(days=days)
    return replace(step, start_date=step.start_date + delta, end_date=step.end_date + delta)


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"
