"""The reminder to collect more medicine before it runs out (issue #17).

One `supply` row per plan and run-out date (key ``supply-<date>``, unique per plan, kind
and recipient): never sent twice for one date. A new dispensing, or a revision, moves the
date: the row of the old date is withdrawn if not yet sent, and a row for the new date is
armed. Rows go out through the dispatcher like every other reminder (the patient's
channels, PHI-minimal: a date, no drug or dose), at the morning notice time of
``SUPPLY_REMINDER_DAYS_BEFORE`` days before the run-out date, or at once when that is
past. An hourly beat task (settings.CELERY_BEAT_SCHEDULE "supply-reminders") arms them;
recording a dispensing arms its plan at once.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from planner.models import PlanStatus, SupplyDispensed, TaperPlan
from planner.supply import plan_supply, supply_dispensed_record
from reminders import dispatch
from reminders.models import Reminder, ReminderKind, ReminderStatus
from taper.supply import SupplyKey


def reminder_day(runs_out_on: dt.date) -> dt.date:
    return runs_out_on - dt.timedelta(days=settings.SUPPLY_REMINDER_DAYS_BEFORE)


def supply_reminder_arm(*, plan: TaperPlan, now: dt.datetime) -> Reminder | None:
    """Make sure the plan has the one reminder its run-out date needs, and none for an
    older date still waiting; the new row, or None."""
    zone = plan.patient.home_timezone
    today = now.astimezone(ZoneInfo(zone)).date()
    supply = plan_supply(plan, today=today) if plan.status == PlanStatus.ACTIVE else None
    runs_out = supply.runs_out_on if supply is not None else None
    key = f"supply-{runs_out}" if runs_out is not None else ""
    Reminder.objects.filter(
        plan=plan, kind=ReminderKind.SUPPLY, status=ReminderStatus.PENDING
    ).exclude(key=key).delete()
    if runs_out is None:
        return None
    morning = dt.datetime.combine(reminder_day(runs_out), dispatch.MORNING_NOTICE, ZoneInfo(zone))
    due = max(morning, now)
    return dispatch.reminder_add(
        plan=plan,
        kind=ReminderKind.SUPPLY,
        key=key,
        due_at=due,
        context={"runs_out_on": runs_out.isoformat()},
    )


def supply_reminders_arm(*, now: dt.datetime) -> int:
    """Every running oral plan's supply reminder (the hourly task); the number armed."""
    armed = 0
    plans = (
        TaperPlan.objects.filter(
            status=PlanStatus.ACTIVE, current_revision__regimen__pump__isnull=True
        )
        .select_related("current_revision", "patient")
        .prefetch_related("dispensed")
    )
    for plan in plans:
        # One plan that cannot be counted must not stop the others: its own savepoint,
        # and the plan's id and the error's class (nothing of the plan) in the log.
        armed += dispatch.plan_check_contained(
            "the supply check", plan.pk,
            functools.partial(supply_reminder_arm, plan=plan, now=now),
        ) is not None  # fmt: skip
    return armed


@transaction.atomic
def supply_dispensed_recorded(
    *,
    plan: TaperPlan,
    quantities: Mapping[SupplyKey, Decimal],
    dispensed_on: dt.date,
    by: User,
    now: dt.datetime,
) -> list[SupplyDispensed]:
    """Record a dispensing (planner.supply) and move the plan's reminder to the new
    run-out date in the same transaction."""
    today = now.astimezone(ZoneInfo(plan.patient.home_timezone)).date()
    rows = supply_dispensed_record(
        plan=plan, quantities=quantities, dispensed_on=dispensed_on, by=by, today=today
    )
    supply_reminder_arm(plan=plan, now=now)
    return rows
