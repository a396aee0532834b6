"""Missed-dose advice for one dose, now: computed from the clock and the dose's own
catch-up window (CLINICAL.md: take it unless it is almost time for the next; never two)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from reminders.models import Dose, DoseStatus


@dataclass(frozen=True, slots=True)
class MissedDoseAdvice:
    can_still_take: bool
    text: str


def missed_dose_advice(*, dose: Dose, now: dt.datetime) -> MissedDoseAdvice:
    zone = ZoneInfo(dose.timezone)
    until = dose.catch_up_until.astimezone(zone)
    next_dose = (
        Dose.objects.filter(plan_id=dose.plan_id, due_at__gt=dose.due_at)
        .exclude(status=DoseStatus.CANCELLED)
        .order_by("due_at")
        .first()
    )
    next_text = (
        f"take your {next_dose.local_time:%H:%M} dose as usual"
        if next_dose is not None
        else "do not take any more doses unless your clinic tells you to"
    )
    if dose.status == DoseStatus.TAKEN:
        return MissedDoseAdvice(False, "This dose is recorded as taken. Do not take it again.")
    if now <= dose.catch_up_until:
        day = "" if until.date() == now.astimezone(zone).date() else " tomorrow"
        return MissedDoseAdvice(
            True,
            f"You can still take it now, until {until:%H:%M}{day}. After that, skip it "
            f"and {next_text}. Never take two doses at once.",
        )
    return MissedDoseAdvice(
        False,
        f"It is too late to take your {dose.local_time:%H:%M} dose. Skip it and {next_text}. "
        "Never take two doses at once. If you have missed more than one dose, call your clinic.",
    )
