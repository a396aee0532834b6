"""Oral taper steps and the dose events they produce on the patient's wall clock.

The daily totals come from taper/pace.py (taper/levels.py); the plan's length is
shared by them as evenly as possible, spare days going to the later steps. Each step
takes its reduction off the doses in CUT_ORDER of their roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from taper.catalogue import Product
from taper.missed_dose import MissedDoseGuidance, catch_up_until, missed_dose_guidance
from taper.pace import TaperPace
from taper.request import CurrentDose, DoseRole, PlanRequest
from taper.rounding import DoseUnit, dose_units, units_text

NOON = time(12, 0)
ONE_DAY = timedelta(days=1)
# Which doses lose the reduction first (CLINICAL.md "which dose is cut first"; evening
# and night are this project's additions, see docs/clinical-notes.md).
CUT_ORDER: tuple[frozenset[DoseRole], ...] = (
    frozenset({"midday", "evening"}),
    frozenset({"morning"}),
    frozenset({"night"}),
    frozenset({"bedtime"}),
)


@dataclass(frozen=True, slots=True)
class ScheduledDose:
    time: time
    amount_mg: Decimal
    units: tuple[DoseUnit, ...]
    units_text: str
    role: DoseRole = "morning"
    # A switch plan (taper/switch.py) names each dose's product; None: the plan's product.
    product_id: str | None = None


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
    role: DoseRole = "morning"
    product_id: str | None = None  # as ScheduledDose.product_id


def dose_roles(doses: Sequence[tuple[time, DoseRole | None]]) -> tuple[DoseRole, ...]:
    """Each dose's role: the one entered, else from the clock (doses sorted by time): the
    first of the day is the morning dose, the last the bedtime dose, any between midday;
    a single dose is the morning dose before 12:00 and the bedtime dose after."""
    last = len(doses) - 1
    roles: list[DoseRole] = []
    for index, (dose_time, role) in enumerate(doses):
        if role is not None:
            roles.append(role)
        elif last == 0:
            roles.append("morning" if dose_time < NOON else "bedtime")
        else:
            roles.append("morning" if index == 0 else "bedtime" if index == last else "midday")
    return tuple(roles)


def split_daily_total(
    previous: tuple[tuple[time, Decimal, DoseRole], ...], total: Decimal, quantum: Decimal
) -> tuple[tuple[time, Decimal, DoseRole], ...]:
    """Take the reduction off midday and evening doses first, then the morning, then the
    night, the bedtime dose last (CUT_ORDER).

    Within a group the largest dose loses one dose step at a time (earlier time first on
    a tie), which keeps the day even. A dose time that reaches zero is gone for good.
    """
    amounts = [amount for _, amount, _ in previous]
    to_remove = int((sum(amounts, Decimal(0)) - total) / quantum)
    for group in CUT_ORDER:
        members = [i for i, (_, _, role) in enumerate(previous) if role in group]
        while to_remove:
            candidates = [i for i in members if amounts[i] > 0]
            if not candidates:
                break
            largest = max(candidates, key=lambda i: (amounts[i], -i))
            amounts[largest] -= quantum
            to_remove -= 1
    return tuple(
        (dose_time, amount, role)
        for (dose_time, _, role), amount in zip(previous, amounts, strict=True)
        if amount > 0
    )


def build_steps(
    request: PlanRequest, pace: TaperPace, catch_up_fraction: Decimal
) -> tuple[Step, ...]:
    product = request.product
    quantum = product.dose_quantum_mg
    levels = pace.levels
    if not levels:
        return ()  # stop now: no further doses
    lengths = _share_days(pace.length_days, len(levels))
    ordered = _by_time(request.doses)
    roles = dose_roles([(dose.time, dose.role) for dose in ordered])
    current: tuple[tuple[time, Decimal, DoseRole], ...] = tuple(
        (dose.time, dose.amount_mg, role) for dose, role in zip(ordered, roles, strict=True)
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
                doses=tuple(
                    scheduled_dose(product, t, amount, role) for t, amount, role in current
                ),
                missed_dose=missed_dose_guidance(
                    tuple(t for t, _, _ in current), catch_up_fraction
                ),
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
    # sorted() is stable: equal instants keep the plan's order.
    by_instant = sorted(range(len(planned)), key=lambda i: planned[i][3])
    next_utc: dict[int, datetime] = {i: planned[j][3] for i, j in pairwise(by_instant)}
    first_times = {step.index: step.doses[0].time for step in steps}
    slots = {dose.time: f"{dose.time:%H:%M}" for step in steps for dose in step.doses}
    events = []
    for position, (day, dose, step_index, utc) in enumerate(planned):
        following = next_utc.get(position, after_last)
        if following - utc > ONE_DAY:
            # Never longer than to the step's first dose the next day: days without
            # doses (a revision after the end) do not stretch the window.
            usual = _utc_instant(day + timedelta(days=1), first_times[step_index], zone)
            following = min(following, usual)
        until = catch_up_until(utc, following, catch_up_fraction)
        events.append(
            DoseEvent(
                local_date=day,
                local_time=dose.time,
                timezone=timezone,
                at=utc.astimezone(zone),
                amount_mg=dose.amount_mg,
                step_index=step_index,
                slot=slots[dose.time],
                catch_up_until=until.astimezone(zone),
                role=dose.role,
                product_id=dose.product_id,
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


def scheduled_dose(
    product: Product,
    dose_time: time,
    amount: Decimal,
    role: DoseRole,
    *,
    named: bool = False,
) -> ScheduledDose:
    """One dose as tablets or volume; `named` records the product on it (switch plans)."""
    units = dose_units(product, amount)
    return ScheduledDose(
        time=dose_time,
        amount_mg=amount,
        units=units,
        units_text=units_text(units),
        role=role,
        product_id=product.id if named else None,
    )
