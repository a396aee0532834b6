"""Oral taper steps and the dose events they produce on the patient's wall clock.

Steps: n = max(1, length // step interval) ideal daily totals (linear or
proportional), each rounded to the product's dose step; totals that round to zero
or fail to go strictly down are dropped, and the same length is shared by the
levels that remain, so merging never shortens a plan. Spare days go to the later
steps: the last reductions are the largest share of what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from taper.catalogue import Product
from taper.missed_dose import MissedDoseGuidance, catch_up_until, missed_dose_guidance
from taper.pace import Shape, TaperPace
from taper.request import CurrentDose, PlanRequest
from taper.rounding import DoseUnit, dose_units, round_to_step, units_text


@dataclass(frozen=True, slots=True)
class ScheduledDose:
    time: time
    amount_mg: Decimal
    units: tuple[DoseUnit, ...]
    units_text: str


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    start_date: date
    end_date: date
    daily_total_mg: Decimal
    doses: tuple[ScheduledDose, ...]
    missed_dose: tuple[MissedDoseGuidance, ...]

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1


@dataclass(frozen=True, slots=True)
class DoseEvent:
    """One dose on one day: local date and time in the patient's zone, and the instant."""

    local_date: date
    local_time: time
    timezone: str
    at: datetime
    amount_mg: Decimal
    step_index: int
    slot: str  # "08:00": stable across the plan, for reminder and calendar ids
    catch_up_until: datetime


def daily_levels(
    daily: Decimal,
    quantum: Decimal,
    steps: int,
    shape: Shape,
    target: Decimal | None,
) -> tuple[Decimal, ...]:
    """The daily total of each step, rounded, strictly falling, none zero.

    Discontinue (target None), linear: daily × (n − k + 1) / (n + 1), so the last
    step is one step size above zero. Proportional: geometric from daily towards one
    dose step, the last step down to zero being the stop itself. Reduce: the same
    shapes from daily to the target, the last step at the target.
    """
    n = max(1, steps)
    ideal: list[Decimal] = []
    for k in range(1, n + 1):
        if target is None and shape == "linear":
            ideal.append(daily * (n - k + 1) / (n + 1))
        elif target is None:
            ideal.append(daily * (quantum / daily) ** (Decimal(k) / n))
        elif shape == "linear":
            ideal.append(daily - (daily - target) * k / n)
        else:
            ideal.append(daily * (target / daily) ** (Decimal(k) / n))
    levels: list[Decimal] = []
    previous = daily
    for value in ideal:
        level = round_to_step(value, quantum)
        if 0 < level < previous:
            levels.append(level)
            previous = level
    if target is not None and (not levels or levels[-1] != target):
        levels.append(target)  # rounding can only land at or above it; end exactly there
    if not levels:
        # The dose is already one dose step: nothing smaller can be measured, so it is
        # held for the taper length and then stopped.
        levels.append(daily)
    return tuple(levels)


def split_daily_total(
    previous: tuple[tuple[time, Decimal], ...], total: Decimal, quantum: Decimal
) -> tuple[tuple[time, Decimal], ...]:
    """Take the reduction off midday doses first, then the morning, the bedtime dose last.

    Within a group the largest dose loses one dose step at a time (earlier time first on
    a tie), which keeps the day even. A dose time that reaches zero is gone for good.
    """
    amounts = [amount for _, amount in previous]
    to_remove = int((sum(amounts, Decimal(0)) - total) / quantum)
    last = len(amounts) - 1
    groups = [list(range(1, last)), [0], [last]] if last else [[0]]
    for group in groups:
        while to_remove:
            candidates = [i for i in group if amounts[i] > 0]
            if not candidates:
                break
            largest = max(candidates, key=lambda i: (amounts[i], -i))
            amounts[largest] -= quantum
            to_remove -= 1
    return tuple(
        (dose_time, amount)
        for (dose_time, _), amount in zip(previous, amounts, strict=True)
        if amount > 0
    )


def build_steps(
    request: PlanRequest, pace: TaperPace, catch_up_fraction: Decimal
) -> tuple[Step, ...]:
    product = request.product
    quantum = product.dose_quantum_mg
    goal = request.goal
    target = goal.target_daily_mg if goal is not None and goal.type == "reduce" else None
    levels = daily_levels(
        request.daily_total_mg,
        quantum,
        pace.length_days // pace.step_days,
        pace.shape,
        target,
    )
    lengths = _share_days(pace.length_days, len(levels))
    current: tuple[tuple[time, Decimal], ...] = tuple(
        (dose.time, dose.amount_mg) for dose in _by_time(request.doses)
    )
    steps = []
    start = request.start_date
    for index, (level, days) in enumerate(zip(levels, lengths, strict=True)):
        current = split_daily_total(current, level, quantum)
        steps.append(
            Step(
                index=index,
                start_date=start,
                end_date=start + timedelta(days=days - 1),
                daily_total_mg=level,
                doses=tuple(scheduled_dose(product, t, amount) for t, amount in current),
                missed_dose=missed_dose_guidance(tuple(t for t, _ in current), catch_up_fraction),
            )
        )
        start += timedelta(days=days)
    return tuple(steps)


def dose_events(
    steps: tuple[Step, ...], timezone: str, catch_up_fraction: Decimal
) -> tuple[DoseEvent, ...]:
    zone = ZoneInfo(timezone)
    # (day, dose, step index, instant in UTC): arithmetic and ordering happen in UTC,
    # because Python compares two datetimes of one zone by wall clock, ignoring fold.
    planned: list[tuple[date, ScheduledDose, int, datetime]] = []
    for step in steps:
        day = step.start_date
        while day <= step.end_date:
            for dose in step.doses:
                planned.append((day, dose, step.index, _utc_instant(day, dose.time, zone)))
            day += timedelta(days=1)
    if not planned:
        return ()
    # After the last dose of the plan the window is half the usual interval, as if the
    # last step went on (for a reduce plan it does: the patient stays on the target).
    last_day = planned[-1][0]
    after_last = _utc_instant(last_day + timedelta(days=1), steps[-1].doses[0].time, zone)

    # The window runs to the next dose in real time. That is the next one in the list
    # except on a spring-forward night, where a dose time inside the gap moves an hour
    # later and can pass a dose time just after the gap.
    by_instant = sorted(range(len(planned)), key=lambda i: (planned[i][3], i))
    next_utc: dict[int, datetime] = {i: planned[j][3] for i, j in pairwise(by_instant)}
    events = []
    for position, (day, dose, step_index, utc) in enumerate(planned):
        until = catch_up_until(utc, next_utc.get(position, after_last), catch_up_fraction)
        events.append(
            DoseEvent(
                local_date=day,
                local_time=dose.time,
                timezone=timezone,
                at=utc.astimezone(zone),
                amount_mg=dose.amount_mg,
                step_index=step_index,
                slot=f"{dose.time:%H:%M}",
                catch_up_until=until.astimezone(zone),
            )
        )
    return tuple(events)


def _utc_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The instant (in UTC) of a wall-clock dose time.

    fold=0 throughout: an ambiguous time (autumn, clocks back) is its first
    occurrence; a time that does not exist (spring, clocks forward) resolves with the
    offset from before the change, so 02:30 on a spring-forward night is 03:30.
    """
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _share_days(total_days: int, parts: int) -> list[int]:
    base, spare = divmod(total_days, parts)
    return [base + (1 if index >= parts - spare else 0) for index in range(parts)]


def _by_time(doses: tuple[CurrentDose, ...]) -> tuple[CurrentDose, ...]:
    return tuple(sorted(doses, key=lambda dose: dose.time))


def scheduled_dose(product: Product, dose_time: time, amount: Decimal) -> ScheduledDose:
    units = dose_units(product, amount)
    return ScheduledDose(
        time=dose_time, amount_mg=amount, units=units, units_text=units_text(units)
    )
