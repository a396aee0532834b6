"""Intrathecal pump refills: recording them, and the overdue-refill alert.

A missed refill is the commonest road to abrupt intrathecal withdrawal (CLINICAL.md):
once the low-reservoir alarm date of the last fill has passed with no refill recorded,
the clinic gets an abrupt-stop alert.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

import taper
from planner.audit import records_by, update_with_history
from planner.models import PlanStatus, TaperPlan
from planner.schedule import ApprovedPlan
from planner.services import plan_pump_refilled
from reminders import dispatch
from reminders.models import AbruptStopAlert, AlertReason, PumpRefill
from taper.request import fill_volume_refusals
from taper.rounding import format_amount

log = logging.getLogger(__name__)


def refill_due_date(plan: TaperPlan, approved: ApprovedPlan) -> dt.date | None:
    """When the reservoir as last filled for certain must be refilled: the due date
    (alarm date, or the protocol's maximum interval when earlier) of the latest refill
    recorded, or of the refill on the pump record, with drug used at each period's
    programmed dose. A refilling wean visit counts once its refill is recorded: a visit
    that did not happen must not silence the alert. None for an oral plan."""
    pump = approved.pump
    if pump is None:
        return None
    record = taper.pump.Fill(
        pump.last_refill_date, pump.reservoir_ml, pump.concentration_mcg_per_ml
    )
    last = max([record, *dispatch.recorded_fills(plan, pump)], key=lambda fill: fill.filled_on)
    return taper.pump.fill_refill(pump, last, approved.max_refill_interval_days).due_date


def alerts_check_refills(*, now: dt.datetime) -> int:
    raised = 0
    plans = TaperPlan.objects.filter(
        status=PlanStatus.ACTIVE, current_revision__regimen__pump__isnull=False
    ).select_related("current_revision", "patient")
    for plan in plans:
        # One plan that cannot be checked must not stop the check of every other pump:
        # its own savepoint, and an error in the log naming it by id.
        try:
            with transaction.atomic():
                raised += _alert_if_refill_overdue(plan, now)
        except Exception:
            log.exception("Refill check failed for plan %s; the other plans were checked.", plan.pk)
    return raised


def _alert_if_refill_overdue(plan: TaperPlan, now: dt.datetime) -> int:
    assert plan.current_revision is not None
    # The approved pump record, read back: the dispatcher re-plans nothing.
    approved = ApprovedPlan.of(plan.current_revision, plan.patient.home_timezone)
    due = refill_due_date(plan, approved)
    today = now.astimezone(ZoneInfo(plan.patient.home_timezone)).date()
    if due is None or today <= due:
        return 0
    since = dt.datetime.combine(due, dt.time(), tzinfo=ZoneInfo(plan.patient.home_timezone))
    raised = dispatch.alert_raise(
        plan=plan,
        reason=AlertReason.REFILL_OVERDUE,
        since=since,
        now=now,
        detail=(
            f"The pump passed its refill due date ({due}: the low-reservoir alarm date, or "
            "the protocol's longest interval between refills) with no refill recorded."
        ),
    )
    return 1 if raised else 0


@records_by
@transaction.atomic
def refill_record(
    *,
    plan: TaperPlan,
    refilled_on: dt.date,
    volume_ml: Decimal,
    concentration_mcg_per_ml: Decimal | None = None,
    by: User,
    now: dt.datetime,
) -> PumpRefill:
    """Record a refill: the alarm, empty and due dates are counted again from it, the
    refill reminders not yet sent are replaced by the new cycle's, the calendar's refill
    event changes (SEQUENCE and Last-Modified move), the plan's history says so, and an
    overdue-refill alert closes. Nothing is written when any field is refused."""
    if plan.status != PlanStatus.ACTIVE or plan.current_revision is None:
        raise ValidationError({"refilled_on": "Refills are recorded on an active plan."})
    zone = plan.patient.home_timezone
    approved = ApprovedPlan.of(plan.current_revision, zone)
    pump = approved.pump
    if pump is None:
        raise ValidationError({"refilled_on": "Refills are recorded on a pump plan."})
    today = now.astimezone(ZoneInfo(zone)).date()
    errors: dict[str, list[str]] = {}
    if refilled_on > today:
        errors.setdefault("refilled_on", []).append("A refill cannot be recorded for a future day.")
    fills = dispatch.recorded_fills(plan, pump)
    last = max([pump.last_refill_date, *(fill.filled_on for fill in fills)])
    if refilled_on < last:
        errors.setdefault("refilled_on", []).append(
            f"A refill was already recorded on {last}; enter refills in order."
        )
    concentration = concentration_mcg_per_ml or (
        fills[-1].concentration_mcg_per_ml if fills else pump.concentration_mcg_per_ml
    )
    product = taper.load_catalogue().product(approved.output["product"])
    if product is not None and concentration not in product.strength_amounts:
        choices = ", ".join(format_amount(amount) for amount in product.strength_amounts)
        errors.setdefault("concentration_mcg_per_ml", []).append(
            f"Choose a concentration of the product: {choices} mcg/mL."
        )
    elif volume_ml <= 0:
        errors.setdefault("volume_ml", []).append("Enter the volume filled, in mL.")
    else:
        refusals = fill_volume_refusals(pump, volume_ml, concentration, pump.dose_on(refilled_on))
        if refusals:
            errors.setdefault("volume_ml", []).extend(refusals)
    if errors:
        raise ValidationError(errors)
    refill = PumpRefill.objects.create(
        plan=plan,
        refilled_on=refilled_on,
        volume_ml=volume_ml,
        concentration_mcg_per_ml=concentration_mcg_per_ml,
        recorded_by=by,
    )
    refills = dispatch.pump_refills_now(plan, approved)
    dispatch.refill_reminders_replace(plan=plan, refills=refills, zone=zone, from_time=now)
    due = refills[0].due_date if refills else None
    plan_pump_refilled(
        plan=plan,
        note=(
            f"Pump refilled on {refilled_on}: {format_amount(volume_ml)} mL of "
            f"{format_amount(concentration)} mcg/mL; next refill due {due}"
        ),
        now=now,
    )
    update_with_history(
        AbruptStopAlert.objects.filter(
            plan=plan, reason=AlertReason.REFILL_OVERDUE, closed_at__isnull=True
        ),
        reason="pump refilled",
        user=by,
        closed_at=now,
        closed_by=by,
    )
    return refill


def pump_page(plan: TaperPlan) -> dict[str, object]:
    """What the plan and handout pages show of a pump beyond the approved output: the
    refill cycles as they stand after the refills recorded since (the same ones the
    reminders and the calendar use), the refills recorded, and the refill due now."""
    revision = plan.current_revision
    if revision is None or not plan.is_pump:
        return {}
    approved = ApprovedPlan.of(revision, plan.patient.home_timezone)
    due = refill_due_date(plan, approved) if plan.status == PlanStatus.ACTIVE else None
    # Dates as the stored output has them (ISO), so every page writes them alike.
    return {
        "pump_refills": [
            {
                "filled_on": refill.filled_on.isoformat(),
                "due_date": refill.due_date.isoformat(),
                "alarm_date": refill.alarm_date.isoformat(),
                "empty_date": refill.empty_date.isoformat(),
                "reminder_dates": [day.isoformat() for day in refill.reminder_dates],
            }
            for refill in dispatch.pump_refills_now(plan, approved)
        ],
        "recorded_refills": list(PumpRefill.objects.filter(plan=plan).order_by("-refilled_on")),
        "refill_due": due.isoformat() if due else None,
    }
