"""Missed-dose guidance: until when a forgotten dose may still be taken.

Label: take it as soon as remembered unless it is almost time for the next dose;
never two doses at once. The clinic default makes "almost time" concrete: the
catch-up window closes after a fraction (0.5) of the interval to the next dose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

MINUTES_PER_DAY = 24 * 60


ClockTime = time  # the field below is called "time"; this keeps the type nameable


@dataclass(frozen=True, slots=True)
class MissedDoseGuidance:
    time: ClockTime
    take_until: ClockTime
    take_until_next_day: bool  # the window runs past midnight
    next_time: ClockTime
    text: str


@lru_cache(maxsize=1024)
def missed_dose_guidance(
    times: tuple[time, ...], catch_up_fraction: Decimal
) -> tuple[MissedDoseGuidance, ...]:
    """Guidance for each daily dose time, on the wall clock (the last dose wraps to the
    first of the next day; a single daily dose has a 24-hour interval)."""
    ordered = sorted(times)
    guidance = []
    for index, dose_time in enumerate(ordered):
        next_time = ordered[(index + 1) % len(ordered)]
        start = _minutes(dose_time)
        interval = (_minutes(next_time) - start) % MINUTES_PER_DAY or MINUTES_PER_DAY
        # Whole minutes, rounded down: the window closes no later than the fraction allows.
        until = start + int(interval * catch_up_fraction)
        take_until = time(*divmod(until % MINUTES_PER_DAY, 60))
        until_next_day = until >= MINUTES_PER_DAY
        next_dose_next_day = _minutes(next_time) <= start
        guidance.append(
            MissedDoseGuidance(
                time=dose_time,
                take_until=take_until,
                take_until_next_day=until_next_day,
                next_time=next_time,
                text=_text(dose_time, take_until, until_next_day, next_time, next_dose_next_day),
            )
        )
    return tuple(guidance)


def catch_up_until(at: datetime, next_at: datetime, catch_up_fraction: Decimal) -> datetime:
    """The end of one dose's catch-up window, in elapsed time (give UTC instants): across
    a daylight-saving change the night is an hour shorter or longer; the drug does not care.
    """
    elapsed_minutes = int((next_at - at).total_seconds()) // 60
    # Exact integer arithmetic (the fraction's own ratio): a Decimal product per dose
    # was a tenth of the engine's time.
    numerator, denominator = catch_up_fraction.as_integer_ratio()
    return at + timedelta(minutes=elapsed_minutes * numerator // denominator)


def _text(
    dose_time: time,
    take_until: time,
    until_next_day: bool,
    next_time: time,
    next_dose_next_day: bool,
) -> str:
    until = f"{take_until:%H:%M}" + (" the next day" if until_next_day else "")
    next_dose = f"the {next_time:%H:%M} dose"
    if next_dose_next_day and not until_next_day:
        next_dose += " the next day"
    return (
        f"If you miss the {dose_time:%H:%M} dose, take it as soon as you remember, up to "
        f"{until}. After {take_until:%H:%M}, skip it and take {next_dose} as usual. "
        "Never take two doses at once."
    )


def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def last_day_guidance(
    times: tuple[time, ...], catch_up_fraction: Decimal, last_day: date
) -> tuple[MissedDoseGuidance, ...]:
    """The last dosing day of a plan that stops: the day's last dose has no next dose, so
    its advice names none (the window is the usual one, as the dose events' is)."""
    usual = missed_dose_guidance(times, catch_up_fraction)
    if not usual:
        return ()
    last = usual[-1]
    until = f"{last.take_until:%H:%M}" + (" the next day" if last.take_until_next_day else "")
    text = (
        f"If you miss the {last.time:%H:%M} dose on {last_day}, the last day of the plan, take "
        f"it as soon as you remember, up to {until}. After {last.take_until:%H:%M}, skip it: "
        "the plan has no more doses. Never take two doses at once."
    )
    return (*usual[:-1], replace(last, text=text))


@dataclass(frozen=True, slots=True)
class NextDose:
    """The dose a patient who skips a missed one takes "as usual", as the advice names
    it: `day` is None when it is on the day the advice is read (the clock time says
    enough), the date otherwise; both None when the plan has no further dose."""

    time: ClockTime | None
    day: date | None


@dataclass(frozen=True, slots=True)
class DoseSlot:
    """One dose of the log as the advice sees it (UTC instants, local date and time)."""

    at: datetime
    take_until: datetime
    local_date: date
    local_time: ClockTime
    open: bool  # not answered (taken, skipped) nor marked missed


def next_dose(after: datetime, slots: Iterable[DoseSlot], now: datetime, today: date) -> NextDose:
    """The next dose to take after skipping the one due at `after`, at `now` (`today` in
    the patient's zone): the first later dose still open whose window has not closed. A
    dose already taken or skipped, or already past, is never "your next dose" (issue
    #15: "take your 13:36 dose as usual" at 13:38, after taking it)."""
    candidates = [s for s in slots if s.at > after and s.open and s.take_until >= now]
    first = min(candidates, key=lambda s: s.at, default=None)
    if first is None:
        return NextDose(None, None)
    return NextDose(first.local_time, None if first.local_date == today else first.local_date)


@dataclass(frozen=True, slots=True)
class GuidancePeriod:
    """Consecutive steps that share their missed-dose advice."""

    start_date: date
    end_date: date
    rules: tuple[object, ...]


def guidance_periods(steps: Iterable[tuple[date, date, Sequence[object]]]) -> list[GuidancePeriod]:
    """The advice of each step in force on its days, steps with the same advice merged:
    when a dose time is dropped the interval to the next dose, and so the catch-up
    window, changes, and the first step's advice no longer holds. Give each step as
    (start_date, end_date, its missed-dose rules), in order."""
    periods: list[GuidancePeriod] = []
    for start, end, rules in steps:
        kept = tuple(rules)
        if periods and periods[-1].rules == kept:
            periods[-1] = replace(periods[-1], end_date=end)
        else:
            periods.append(GuidancePeriod(start, end, kept))
    return periods
