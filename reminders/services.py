"""Writes and reads for the reminders app. Tasks, views and commands call these."""

from __future__ import annotations

import datetime as dt
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

import taper
from planner.engine_input import plan_in_zone
from planner.models import Patient, PlanStatus, TaperPlan
from reminders import dispatch
from reminders.models import Dose, DoseState, DoseStatus, WorkerHeartbeat

if TYPE_CHECKING:
    from planner.models import PlanRevision

HEARTBEATS_KEPT = timedelta(days=1)


@transaction.atomic
def worker_heartbeat_record(*, hostname: str, note: str = "") -> WorkerHeartbeat:
    now = timezone.now()
    WorkerHeartbeat.objects.filter(beat_at__lt=now - HEARTBEATS_KEPT).delete()
    return WorkerHeartbeat.objects.create(beat_at=now, hostname=hostname[:255], note=note[:64])


def worker_last_seen() -> datetime | None:
    latest = WorkerHeartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
    return latest


def _slot_text(
    slots: dict[tuple[int, dt.time], taper.ScheduledDose], event: taper.DoseEvent, attribute: str
) -> str:
    """The units or role of the step's dose this event comes from ("" if none)."""
    dose = slots.get((event.step_index, event.local_time))
    return str(getattr(dose, attribute)) if dose is not None else ""


def plan_doses_schedule(*, revision: PlanRevision, from_date: dt.date | None = None) -> int:
    """Materialise a revision's dose events (from `from_date` on) as the plan's dose log,
    and its reminder rows. Called in the caller's transaction, by plan activation and
    by revisions."""
    zone = Patient.objects.values_list("home_timezone", flat=True).get(plans=revision.plan_id)
    engine_plan = plan_in_zone(revision.engine_input, zone)
    slots = {
        (step.index, dose.time): dose for step in engine_plan.steps for dose in step.doses
    }
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
            units_text=_slot_text(slots, event, "units_text"),
            role=_slot_text(slots, event, "role"),
        )
        for event in engine_plan.dose_events
        if (from_date is None or event.local_date >= from_date)
        and (event.local_date, event.local_time) not in kept
    ]
    Dose.objects.bulk_create(doses, batch_size=1000)
    first = min((dose.due_at for dose in doses), default=timezone.now())
    dispatch.reminders_schedule(
        revision=revision, engine_plan=engine_plan, from_time=min(first, timezone.now())
    )
    return len(doses)


def plan_doses_cancel(*, plan_id: int, from_time: datetime) -> int:
    """Withdraw the plan's doses and reminders that are still to come."""
    dispatch.reminders_withdraw_future(plan_id=plan_id, from_time=from_time)
    return Dose.objects.filter(
        plan_id=plan_id, status=DoseStatus.SCHEDULED, due_at__gte=from_time
    ).update(status=DoseStatus.CANCELLED)


class DoseAnswerError(ValueError):
    """The answer cannot be recorded (too late, already answered)."""


# Why an answer is refused, by the dose's state (English; reminders.action_views lists
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
        dispatch.alerts_close_on_confirmed_dose(plan_id=dose.plan_id, now=now)
    return dose


def patient_doses_rezone(*, patient_id: int, zone: str, now: datetime) -> int:
    """The patient's home time zone changed (their own choice, or their clinician's):
    doses still to come keep their wall-clock times (08:00 stays 08:00) in the new zone,
    and their reminders move with them. Returns the number of doses moved. Called in
    the caller's transaction, after the patient row is saved."""
    moved = 0
    plans = TaperPlan.objects.select_for_update(of=("self",)).filter(
        patient_id=patient_id, status=PlanStatus.ACTIVE
    ).select_related("current_revision")
    for plan in plans:
        doses = _moved_doses(plan, zone, now)
        Dose.objects.bulk_update(doses, ["timezone", "due_at", "catch_up_until"])
        moved += len(doses)
        revision = plan.current_revision
        if revision is None:
            continue
        engine_plan = plan_in_zone(revision.engine_input, zone)
        dispatch.reminders_withdraw_future(plan_id=plan.pk, from_time=now)
        dispatch.reminders_schedule(revision=revision, engine_plan=engine_plan, from_time=now)
    return moved


def _moved_doses(plan: TaperPlan, zone: str, now: datetime) -> list[Dose]:
    """The plan's doses still to come, at the same wall-clock times in the new zone."""
    future = list(
        Dose.objects.select_for_update(of=("self",))
        .filter(plan=plan, status=DoseStatus.SCHEDULED, due_at__gte=now)
        .select_related("revision")
    )
    engine_plans: dict[int, taper.TaperPlan] = {}
    moved = []
    for dose in future:
        if dose.revision_id not in engine_plans:
            engine_plans[dose.revision_id] = plan_in_zone(dose.revision.engine_input, zone)
        events = {
            (event.local_date, event.local_time): event
            for event in engine_plans[dose.revision_id].dose_events
        }
        event = events.get((dose.local_date, dose.local_time))
        if event is None:
            continue
        dose.timezone = zone
        dose.due_at = event.at
        dose.catch_up_until = event.catch_up_until
        moved.append(dose)
    return moved
