"""Intrathecal pump arithmetic: when the reservoir reaches its alarm and when it is empty.

A missed refill is the commonest road to abrupt intrathecal withdrawal (boxed
warning), so the dates are floored to whole days: a reminder a day early is
harmless, a day late is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal


@dataclass(frozen=True, slots=True)
class WeanStep:
    """A clinician-planned visit at which the pump is reprogrammed to a lower dose and refilled."""

    visit_date: date
    daily_dose_mcg: Decimal


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


@dataclass(frozen=True, slots=True)
class RefillDue:
    """One fill of the reservoir at one dose, and the dates that follow from it."""

    filled_on: date
    daily_dose_mcg: Decimal
    alarm_date: date
    empty_date: date
    reminder_dates: tuple[date, ...]


def days_to_alarm(pump: PumpSettings, daily_dose_mcg: Decimal) -> int:
    """(reservoir − alarm volume) × concentration / daily dose, in whole days."""
    usable_mcg = (pump.reservoir_ml - pump.alarm_volume_ml) * pump.concentration_mcg_per_ml
    return _whole_days(usable_mcg / daily_dose_mcg)


def days_to_empty(pump: PumpSettings, daily_dose_mcg: Decimal) -> int:
    return _whole_days(pump.reservoir_ml * pump.concentration_mcg_per_ml / daily_dose_mcg)


def refill_schedule(
    pump: PumpSettings, *, start_date: date, reminder_days_before: tuple[int, ...]
) -> tuple[RefillDue, ...]:
    """Refills from the last refill through every wean visit.

    Each wean visit reprograms and refills the pump. Between visits the pump is
    assumed refilled on each alarm date, so a long period repeats refills; a period
    whose alarm falls on or after the next visit needs no refill of its own. The last
    period (after the final visit, or the only one without a wean) lists one refill.
    """
    periods = [(pump.last_refill_date, pump.daily_dose_mcg)]
    periods += [(step.visit_date, step.daily_dose_mcg) for step in pump.wean_steps]
    refills: list[RefillDue] = []
    for index, (filled_on, dose) in enumerate(periods):
        next_visit = periods[index + 1][0] if index + 1 < len(periods) else None
        to_alarm = timedelta(days=days_to_alarm(pump, dose))
        if to_alarm.days < 1:
            raise ValueError("the reservoir holds less than one day above its alarm volume")
        to_empty = timedelta(days=days_to_empty(pump, dose))
        while True:
            alarm_date = filled_on + to_alarm
            if next_visit is not None and alarm_date >= next_visit:
                break
            reminders = tuple(
                alarm_date - timedelta(days=days)
                for days in sorted(reminder_days_before, reverse=True)
                # A reminder before the fill it is about, or before the plan, cannot be sent.
                if alarm_date - timedelta(days=days) >= max(filled_on, start_date)
            )
            refills.append(
                RefillDue(
                    filled_on=filled_on,
                    daily_dose_mcg=dose,
                    alarm_date=alarm_date,
                    empty_date=filled_on + to_empty,
                    reminder_dates=reminders,
                )
            )
            if next_visit is None:
                break
            filled_on = alarm_date
    return tuple(refills)


def _whole_days(days: Decimal) -> int:
    return int(days.to_integral_value(rounding=ROUND_FLOOR))
