"""Missed-dose advice for one dose, now: computed from the clock and the dose's own
catch-up window (CLINICAL.md: take it unless it is almost time for the next; never two).
The words are translated into the active language (the patient's)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from reminders.models import Dose, DoseStatus


@dataclass(frozen=True, slots=True)
class MissedDoseAdvice:
    can_still_take: bool
    text: str
    until: dt.datetime | None = None  # end of the catch-up window, in the dose's zone
    next_time: dt.time | None = None  # the next dose to take as usual


def missed_dose_advice(*, dose: Dose, now: dt.datetime) -> MissedDoseAdvice:
    zone = ZoneInfo(dose.timezone)
    until = dose.catch_up_until.astimezone(zone)
    next_dose = (
        Dose.objects.filter(plan_id=dose.plan_id, due_at__gt=dose.due_at)
        .exclude(status=DoseStatus.CANCELLED)
        .order_by("due_at")
        .first()
    )
    next_time = next_dose.local_time if next_dose is not None else None
    next_text = (
        _("take your %(time)s dose as usual") % {"time": f"{next_dose.local_time:%H:%M}"}
        if next_dose is not None
        else _("do not take any more doses unless your clinic tells you to")
    )
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
