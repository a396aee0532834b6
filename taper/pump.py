"""Intrathecal pump arithmetic: when the reservoir reaches its alarm and when it is empty.

A missed refill is the commonest road to abrupt intrathecal withdrawal (boxed
warning), so the dates are floored to whole days: a reminder a day early is
harmless, a day late is not.

The reservoir is followed as drug (mcg), not as days: between two events the pump
uses its programmed daily dose; a wean visit changes that dose from its day on, and
refills it only when the clinician says so (`refilled`); a fill (the last refill on
the pump record, a refill recorded later, a refilling visit) sets the reservoir to the
volume put in at its concentration. A refill is due on the alarm date, or earlier when
the protocol sets a maximum interval between refills (drug stability in the reservoir).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal


@dataclass(frozen=True, slots=True)
class WeanStep:
    """A clinician-planned visit at which the pump is reprogrammed to a lower dose and,
    when `refilled`, refilled with `refill_volume_ml` at the concentration in use."""

    visit_date: date
    daily_dose_mcg: Decimal
    refilled: bool = False
    refill_volume_ml: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    """The reservoir filled on a day with a volume of one concentration."""

    filled_on: date
    volume_ml: Decimal
    concentration_mcg_per_ml: Decimal


@dataclass(frozen=True, slots=True)
class PumpSettings:
    concentration_mcg_per_ml: Decimal
    daily_dose_mcg: Decimal
    reservoir_ml: Decimal
    alarm_volume_ml: Decimal
    last_refill_date: date
    wean_steps: tuple[WeanStep, ...] = ()

    @property
    def days_to_alarm(self) -> int:
        """At the current dose, from a full reservoir."""
        return days_to_alarm(self, self.daily_dose_mcg)

    @property
    def days_to_empty(self) -> int:
        return days_to_empty(self, self.daily_dose_mcg)

    def dose_on(self, day: date) -> Decimal:
        """The programmed daily dose on a day: a visit's dose applies from its own day."""
        dose = self.daily_dose_mcg
        for step in self.wean_steps:
            if step.visit_date <= day:
                dose = step.daily_dose_mcg
        return dose


@dataclass(frozen=True, slots=True)
class RefillDue:
    """One fill of the reservoir, and the dates that follow from it."""

    filled_on: date
    daily_dose_mcg: Decimal  # programmed on the day of the fill
    alarm_date: date
    empty_date: date
    reminder_dates: tuple[date, ...]
    # The next refill is due by this day: the alarm date, or the end of the protocol's
    # maximum interval between refills when that comes first.
    due_date: date
    volume_ml: Decimal
    concentration_mcg_per_ml: Decimal


def days_to_alarm(pump: PumpSettings, daily_dose_mcg: Decimal) -> int:
    """(reservoir − alarm volume) × concentration / daily dose, in whole days."""
    usable_mcg = (pump.reservoir_ml - pump.alarm_volume_ml) * pump.concentration_mcg_per_ml
    return _whole_days(usable_mcg / daily_dose_mcg)


def days_to_empty(pump: PumpSettings, daily_dose_mcg: Decimal) -> int:
    return _whole_days(pump.reservoir_ml * pump.concentration_mcg_per_ml / daily_dose_mcg)


def used_up_on(pump: PumpSettings, start: date, amount_mcg: Decimal) -> date:
    """The day `amount_mcg`, used from `start` at each period's programmed dose, runs out
    (floored: the last whole day it still covers is the day before)."""
    changes = sorted({step.visit_date for step in pump.wean_steps if step.visit_date > start})
    day, left = start, amount_mcg
    for change in changes:
        rate = pump.dose_on(day)
        period = Decimal((change - day).days) * rate
        if left <= period:
            break
        left -= period
        day = change
    return day + timedelta(days=_whole_days(left / pump.dose_on(day)))


def fill_refill(pump: PumpSettings, fill: Fill, max_interval_days: int | None) -> RefillDue:
    """The alarm, empty and due dates of one fill (reminders are added by the schedule)."""
    above_alarm = (fill.volume_ml - pump.alarm_volume_ml) * fill.concentration_mcg_per_ml
    alarm = used_up_on(pump, fill.filled_on, above_alarm)
    if alarm <= fill.filled_on:
        raise ValueError("the reservoir holds less than one day above its alarm volume")
    due = alarm
    if max_interval_days is not None:
        due = min(alarm, fill.filled_on + timedelta(days=max_interval_days))
    return RefillDue(
        filled_on=fill.filled_on,
        daily_dose_mcg=pump.dose_on(fill.filled_on),
        alarm_date=alarm,
        empty_date=used_up_on(pump, fill.filled_on, fill.volume_ml * fill.concentration_mcg_per_ml),
        reminder_dates=(),
        due_date=due,
        volume_ml=fill.volume_ml,
        concentration_mcg_per_ml=fill.concentration_mcg_per_ml,
    )


def refill_schedule(
    pump: PumpSettings,
    *,
    start_date: date,
    reminder_days_before: tuple[int, ...],
    fills: tuple[Fill, ...] = (),
    max_interval_days: int | None = None,
) -> tuple[RefillDue, ...]:
    """The refills still to come, from the latest fill known (the pump record's last
    refill, or a refill recorded since: `fills`) through the last wean visit.

    A fill whose due date falls on or after the next refilling visit needs no refill of
    its own: the visit refills it. Otherwise a refill is due, and the pump is assumed
    refilled on its due date to the full reservoir at the same concentration, until the
    last visit has passed. With no wean visit left, one refill is listed: recording it
    brings the next. Reminders fall `reminder_days_before` the due date, never before
    the fill or the plan's first day.
    """
    known = [Fill(pump.last_refill_date, pump.reservoir_ml, pump.concentration_mcg_per_ml)]
    known += sorted(fills, key=lambda fill: fill.filled_on)
    # The latest fill wins; on one day a recorded fill replaces the record's (it is newer).
    fill = max(known, key=lambda item: item.filled_on)
    fill = [item for item in known if item.filled_on == fill.filled_on][-1]
    planned = [
        Fill(step.visit_date, step.refill_volume_ml, fill.concentration_mcg_per_ml)
        for step in pump.wean_steps
        if step.refilled and step.refill_volume_ml is not None and step.visit_date > fill.filled_on
    ]
    last_visit = pump.wean_steps[-1].visit_date if pump.wean_steps else None
    refills: list[RefillDue] = []
    while True:
        due = fill_refill(pump, fill, max_interval_days)
        following = next((item for item in planned if item.filled_on > fill.filled_on), None)
        if following is not None and following.filled_on <= due.due_date:
            fill = following
            continue
        reminders = tuple(
            due.due_date - timedelta(days=days)
            for days in sorted(reminder_days_before, reverse=True)
            # A reminder before the fill it is about, or before the plan, cannot be sent.
            if due.due_date - timedelta(days=days) >= max(fill.filled_on, start_date)
        )
        refills.append(
            RefillDue(
                filled_on=due.filled_on,
                daily_dose_mcg=due.daily_dose_mcg,
                alarm_date=due.alarm_date,
                empty_date=due.empty_date,
                reminder_dates=reminders,
                due_date=due.due_date,
                volume_ml=due.volume_ml,
                concentration_mcg_per_ml=due.concentration_mcg_per_ml,
            )
        )
        if following is None and (last_visit is None or due.due_date >= last_visit):
            return tuple(refills)
        fill = Fill(due.due_date, pump.reservoir_ml, fill.concentration_mcg_per_ml)


def _whole_days(days: Decimal) -> int:
    return int(days.to_integral_value(rounding=ROUND_FLOOR))
