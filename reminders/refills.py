"""Intrathecal pump refills: recording them, and the overdue-refill alert.

A missed refill is the commonest road to abrupt intrathecal withdrawal (CLINICAL.md):
once the low-reservoir alarm date of the last fill has passed with no refill recorded,
the clinic gets an abrupt-stop alert.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

import taper
from planner.audit import records_by, update_with_history
from planner.models import PlanStatus, TaperPlan
from planner.schedule import ApprovedPlan
from reminders import dispatch
from reminders.models import AbruptStopAlert, AlertReason, PumpRefill

log = logging.getLogger(__name__)


def refill_alarm_date(plan: TaperPlan, pump: taper.pump.PumpSettings | None) -> dt.date | None:
    """The alarm date of the reservoir as last filled: a recorded refill, a wean visit
    (the pump is refilled when reprogrammed) or the refill on the pump record."""
    if pump is None:
        return None
    fills = [(pump.last_refill_date, pump.daily_dose_mcg)]
    fills += [(step.visit_date, step.daily_dose_mcg) for step in pump.wean_steps]
    recorded = PumpRefill.objects.filter(plan=plan).values_list("refilled_on", flat=True).first()
    earlier = [f for f in fills if recorded is not None and f[0] <= recorded]
    if recorded is not None and earlier:
        # A refill recorded before every fill above is superseded by them (it was a
        # max() of nothing: every dispatcher run failed, for all patients).
        dose_then = max(earlier, key=lambda f: f[0])[1]
        fills.append((recorded, dose_then))
    last_fill, dose = max(fills, key=lambda f: f[0])
    return last_fill + dt.timedelta(days=taper.pump.days_to_alarm(pump, dose))


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
            log.exception("Refill check failed for plan %s; the other plans were checked.",
                          plan.pk)
    return raised


def _alert_if_refill_overdue(plan: TaperPlan, now: dt.datetime) -> int:
    assert plan.current_revision is not None
    # The approved pump record, read back: the dispatcher re-plans nothing.
    approved = ApprovedPlan.of(plan.current_revision, plan.patient.home_timezone)
    alarm = refill_alarm_date(plan, approved.pump)
    today = now.astimezone(ZoneInfo(plan.patient.home_timezone)).date()
    if alarm is None or today <= alarm:
        return 0
    since = dt.datetime.combine(alarm, dt.time(), tzinfo=ZoneInfo(plan.patient.home_timezone))
    raised = dispatch.alert_raise(
        plan=plan,
        reason=AlertReason.REFILL_OVERDUE,
        since=since,
        now=now,
        detail=f"The pump passed its low-reservoir alarm date ({alarm}) with no refill recorded.",
    )
    return 1 if raised else 0


@records_by
@transaction.atomic
def refill_record(
    *, plan: TaperPlan, refilled_on: dt.date, by: User, now: dt.datetime
) -> PumpRefill:
    if plan.status != PlanStatus.ACTIVE:
        raise ValidationError({"refilled_on": "Refills are recorded on an active plan."})
    today = now.astimezone(ZoneInfo(plan.patient.home_timezone)).date()
    if refilled_on > today:
        raise ValidationError({"refilled_on": "A refill cannot be recorded for a future day."})
    refill = PumpRefill.objects.create(plan=plan, refilled_on=refilled_on, recorded_by=by)
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
