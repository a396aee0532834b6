"""Missed-dose advice for one dose, now: computed from the clock and the dose's own
catch-up window (CLINICAL.md: take it unless it is almost time for the next; never two).
The words are translated into the active language (the patient's)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from planner.display import long_day
from reminders.models import Dose, DoseStatus
from taper.missed_dose import DoseSlot, NextDose, next_dose


@dataclass(frozen=True, slots=True)
class MissedDoseAdvice:
    can_still_take: bool
    text: str
    until: dt.datetime | None = None  # end of the catch-up window, in the dose's zone
    next_time: dt.time | None = None  # the next dose to take as usual (not yet taken)


def next_dose_for(*, dose: Dose, now: dt.datetime) -> NextDose:
    """The dose to take "as usual" after skipping `dose`, from the patient's dose log
    (any of their plans: a new plan's first dose follows the old plan's last)."""
    zone = ZoneInfo(dose.timezone)
    later = (
        Dose.objects.filter(
            plan__patient_id=dose.plan.patient_id,
            due_at__gt=dose.due_at,
            status=DoseStatus.SCHEDULED,
            catch_up_until__gte=now,
        )
        .order_by("due_at")
        .values_list("due_at", "catch_up_until", "local_date", "local_time")[:1]
    )
    slots = [DoseSlot(at, until, day, time, True) for at, until, day, time in later]
    return next_dose(dose.due_at, slots, now, now.astimezone(zone).date())


def next_dose_text(upcoming: NextDose) -> str:
    """How the advice names the next dose, in the active language."""
    if upcoming.time is None:
        return _("do not take any more doses unless your clinic tells you to")
    if upcoming.day is None:
        return _("take your %(time)s dose as usual") % {"time": f"{upcoming.time:%H:%M}"}
    return _("take your next dose at %(time)s on %(day)s as usual") % {
        "time": f"{upcoming.time:%H:%M}",
        "day": long_day(upcoming.day),
    }


def missed_dose_advice(*, dose: Dose, now: dt.datetime) -> MissedDoseAdvice:
    zone = ZoneInfo(dose.timezone)
    until = dose.catch_up_until.astimezone(zone)
    upcoming = next_dose_for(dose=dose, now=now)
    next_time = upcoming.time
    next_text = next_dose_text(upcoming)
    if dose.status == DoseStatus.TAKEN:
        return MissedDoseAdvice(
            False, _("This dose is recorded as taken. Do not take it again."), None, next_time
        )
    if now <= dose.catch_up_until:
        if until.date() == now.astimezone(zone).date():
            text = _(
                "You can still take it now, until %(until)s. After that, skip it and "
                "%(next)s. Never take two doses at once."
            )
        else:
            text = _(
                "You can still take it now, until %(until)s tomorrow. After that, skip it "
                "and %(next)s. Never take two doses at once."
            )
        return MissedDoseAdvice(
            True, text % {"until": f"{until:%H:%M}", "next": next_text}, until, next_time
        )
    text = _(
        "It is too late to take your %(time)s dose. Skip it and %(next)s. Never take two "
        "doses at once. If you have missed more than one dose, call your clinic."
    )
    return MissedDoseAdvice(
        False,
        text % {"time": f"{dose.local_time:%H:%M}", "next": next_text},
        until,
        next_time,
    )
