"""The plan's frozen dose schedule: written from the approved revision at activation,
replacement, cancellation, a zone change and the maintenance top-up, and the patient's
answer to a dose. The reminder rows that go with the doses are written by reminders,
which listens to the signals in planner.signals (planner imports nothing above it)."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F, Max, Q

from planner import signals
from planner.continuity import same_wall_clock
from planner.models import Dose, DoseState, DoseStatus, Patient, PlanStatus, TaperPlan
from planner.schedule import MAINTENANCE_DAYS_AHEAD, ApprovedPlan

if TYPE_CHECKING:
    from planner.models import PlanRevision

def plan_doses_schedule(
    *, revision: PlanRevision, not_before: datetime, from_date: dt.date | None = None
) -> int:
    """Write a revision's approved doses (from `from_date` on, none due before
    `not_before`, the moment of activation or revision) as the plan's dose log, and
    their reminder rows, from the revision's stored engine output: nothing here re-runs
    the engine. A plan that a newer one replaces stops at its ``runs_until``; a
    reduce-to-target plan's maintenance doses are written some days ahead and topped up
    by the dispatcher (`maintenance_doses_extend`). Called in the caller's transaction."""
    plan = TaperPlan.objects.select_related("patient").get(pk=revision.plan_id)
    approved = ApprovedPlan.of(revision, plan.patient.home_timezone)
    last_day = approved.end_date
    if approved.has_maintenance:
        today = not_before.astimezone(ZoneInfo(approved.zone)).date()
        last_day = max(last_day, today + dt.timedelta(days=MAINTENANCE_DAYS_AHEAD))
    if plan.runs_until is not None:
        last_day = min(last_day, plan.runs_until)
    # A slot already answered (or still live) on the revision's first day keeps its row.
    kept = set(
        Dose.objects.filter(plan_id=revision.plan_id, local_date__gte=from_date or dt.date.min)
        .exclude(status=DoseStatus.CANCELLED)
        .values_list("local_date", "local_time")
    )
    doses = [
        Dose(
            plan_id=revision.plan_id,
            revision=revision,
            local_date=event.local_date,
            local_time=event.local_time,
            timezone=event.timezone,
            due_at=event.at,
            catch_up_until=event.catch_up_until,
            amount_mg=event.amount_mg,
            units_text=event.units_text,
            role=event.role,
            what_to_take=approved.what_to_take(event.local_date, event.local_time),
        )
        for event in approved.doses_through(last_day)
        if (from_date is None or event.local_date >= from_date)
        and event.at >= not_before
        and (event.local_date, event.local_time) not in kept
    ]
    Dose.objects.bulk_create(doses, batch_size=1000)
    signals.doses_scheduled.send(
        sender=TaperPlan, revision=revision, approved=approved, from_time=not_before
    )
    return len(doses)


def maintenance_doses_extend(*, now: datetime) -> int:
    """Keep every running reduce-to-target plan's maintenance doses written some days
    ahead, so the patient is reminded of the target dose until the clinician ends or
    replaces the plan. Returns the number of doses written."""
    plans = (
        TaperPlan.objects.filter(
            status=PlanStatus.ACTIVE,
            current_revision__engine_output__maintenance__daily_total_mg__isnull=False,
        )
        .select_related("current_revision", "patient")
        .annotate(last_dose_day=Max("doses__local_date", filter=~Q(doses__status="cancelled")))
    )
    written = 0
    for plan in plans:
        today = now.astimezone(ZoneInfo(plan.patient.home_timezone)).date()
        wanted = today + dt.timedelta(days=MAINTENANCE_DAYS_AHEAD)
        if plan.runs_until is not None:
            wanted = min(wanted, plan.runs_until)
        last = plan.last_dose_day
        if last is not None and last >= wanted:
            continue
        assert plan.current_revision is not None
        written += plan_doses_schedule(
            revision=plan.current_revision,
            not_before=now,
            from_date=(last + dt.timedelta(days=1)) if last is not None else None,
        )
    return written


def plan_doses_cancel(*, plan_id: int, from_time: datetime) -> int:
    """Withdraw the plan's doses and reminders that are still to come."""
    signals.doses_withdrawn.send(sender=TaperPlan, plan_id=plan_id, from_time=from_time)
    return Dose.objects.filter(
        plan_id=plan_id, status=DoseStatus.SCHEDULED, due_at__gte=from_time
    ).update(status=DoseStatus.CANCELLED)


class DoseAnswerError(ValueError):
    """The answer cannot be recorded (too late, already answered)."""


# Why an answer is refused, by the dose's state (English; portal.action_views lists
# them for translation).
TOO_LATE = "It is too late for this dose: do not take it now. Take your next dose as usual."
NOT_DUE = "This dose is not due yet."


def dose_answer_refusal(*, dose: Dose, answer: str, now: datetime) -> str | None:
    """Why `answer` cannot be recorded for `dose` at `now`, or None if it can (the
    same answer given again, as when a link is opened twice, can). The rule is
    Dose.state_at: the Today page offers exactly the answers this accepts."""
    if answer not in {DoseStatus.TAKEN, DoseStatus.SKIPPED}:
        return "Choose taken or skipped."
    if dose.status == answer or answer in dose.answers_at(now):
        return None
    state = dose.state_at(now)
    if state == DoseState.LATER:
        return NOT_DUE
    if state == DoseState.MISSED and dose.status == DoseStatus.SCHEDULED:
        return TOO_LATE
    return f"This dose is already recorded as {dose.get_status_display().lower()}."


@transaction.atomic
def dose_record(*, dose_id: int, answer: str, now: datetime) -> Dose:
    """The patient's answer for one dose: taken or skipped, while Dose.state_at allows
    it (from shortly before its time until its catch-up window closes); a confirmed
    dose ends an abrupt-stop episode."""
    dose = Dose.objects.select_for_update().select_related("plan").get(pk=dose_id)
    refusal = dose_answer_refusal(dose=dose, answer=answer, now=now)
    if refusal is not None:
        raise DoseAnswerError(refusal)
    if dose.status == answer:
        return dose  # the same link opened twice
    dose.status = answer
    dose.answered_at = now
    dose.save(update_fields=["status", "answered_at"])
    if answer == DoseStatus.TAKEN:
        signals.dose_taken.send(sender=Dose, plan_id=dose.plan_id, now=now)
    return dose


def patient_doses_rezone(*, patient_id: int, old_zone: str, zone: str, now: datetime) -> int:
    """The patient's home time zone changed (their own choice, or their clinician's):
    doses still to come keep their wall-clock times (08:00 stays 08:00) in the new zone,
    converted with zoneinfo from the stored schedule; nothing is re-planned. A dose that
    the move puts in the past is dropped, never left "due now", and the patient is told.
    Calendar clients see every event changed: SEQUENCE and Last-Modified move forward.
    Returns the number of doses moved. Called in the caller's transaction."""
    Patient.objects.filter(pk=patient_id).update(
        calendar_settings_version=F("calendar_settings_version") + 1,
        calendar_settings_changed_at=now,
    )
    moved = 0
    plans = TaperPlan.objects.select_for_update(of=("self",)).filter(
        patient_id=patient_id, status=PlanStatus.ACTIVE
    ).select_related("current_revision")
    for plan in plans:
        future = list(
            Dose.objects.select_for_update(of=("self",))
            .filter(plan=plan, status=DoseStatus.SCHEDULED, due_at__gte=now)
        )
        dropped = []
        for dose in future:
            dose.due_at = same_wall_clock(dose.due_at, dose.timezone or old_zone, zone)
            dose.catch_up_until = same_wall_clock(
                dose.catch_up_until, dose.timezone or old_zone, zone
            )
            dose.timezone = zone
            if dose.due_at < now:
                dose.status = DoseStatus.CANCELLED
                dropped.append(dose)
        Dose.objects.bulk_update(future, ["timezone", "due_at", "catch_up_until", "status"])
        moved += len(future) - len(dropped)
        signals.doses_withdrawn.send(sender=TaperPlan, plan_id=plan.pk, from_time=now)
        if plan.current_revision is not None:
            signals.doses_scheduled.send(
                sender=TaperPlan,
                revision=plan.current_revision,
                approved=ApprovedPlan.of(plan.current_revision, zone),
                from_time=now,
            )
        if dropped:
            signals.doses_dropped.send(
                sender=TaperPlan,
                plan=plan,
                now=now,
                dropped=[f"{dose.local_date} {dose.local_time:%H:%M}" for dose in dropped],
            )
    return moved
