"""The patient's supply: per product strength (or the liquid), how much the plan still
needs from a day on, how much was dispensed, and the day it runs out.

Works on a stored plan's JSON (docs/plan-json.md), so the approved plan is never
re-planned. Oral plans only: a pump plan has refills instead (taper.pump) and gets
nothing here.

Counting, kept on the safe side (the page must never promise more than the patient has):

- Doses are assumed taken as scheduled from the day of each dispensing. A dose missed
  leaves tablets over, so the real supply is never smaller than this count.
- Tablets and capsules are counted in halves. A half-tablet dose breaks a whole tablet;
  its other half serves the next half dose of the same strength, as the plan's
  dispensing list counts it (taper.rounding.dispense). A strength's need from a day on is
  rounded up to whole tablets once.
- Liquids are counted in mL, the measurable volume of every dose.
- A day runs short when its doses together need more than is left at the start of the
  day: the run-out date is that day, not the day the last tablet goes (so a morning dose
  that can still be taken never hides an evening one that cannot).
- A reduce-to-target plan keeps its maintenance doses after the last step: they use
  supply too, so such a plan always runs out some day; its need is counted to the
  plan's last step day, what a pharmacy's order for the plan covers.
- Nothing recorded means the plan's dispensing list (`dispense`) was dispensed on the
  plan's first day (the default the clinic can replace by recording what it gave).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from taper.catalogue import load_catalogue

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True, order=True)
class SupplyKey:
    """One line of supply: a product's strength in mg, or its liquid (strength None)."""

    product: str
    strength_mg: Decimal | None  # None: a liquid, counted in mL


@dataclass(frozen=True, slots=True)
class Dispensed:
    key: SupplyKey
    quantity: Decimal  # whole tablets or capsules, or mL
    on: dt.date


@dataclass(frozen=True, slots=True)
class UsePeriod:
    """Days from `start` to `end` (both included; None: open-ended maintenance) on which
    each key is used at the same rate a day."""

    start: dt.date
    end: dt.date | None
    per_day: Mapping[SupplyKey, Decimal]


@dataclass(frozen=True, slots=True)
class StrengthSupply:
    key: SupplyKey
    unit: str  # "tablets", "capsules" or "mL"
    needed: Decimal  # from the day asked about to the plan's last step day
    dispensed: Decimal  # every dispensing counted (or the plan's list)
    last_dispensed_on: dt.date | None
    runs_out_on: dt.date | None  # the first day the doses cannot all be taken; None: never


def _key(output: Mapping[str, Any], item: Mapping[str, Any]) -> SupplyKey:
    product = item.get("product") or output["product"]
    if "volume_ml" in item:
        return SupplyKey(product, None)
    return SupplyKey(product, Decimal(str(item["strength_mg"])))


def _dose_use(
    output: Mapping[str, Any], doses: Iterable[Mapping[str, Any]]
) -> dict[SupplyKey, Decimal]:
    use: dict[SupplyKey, Decimal] = {}
    for dose in doses:
        for unit in dose.get("units") or []:
            key = _key(output, {"product": dose.get("product"), **unit})
            amount = Decimal(str(unit["volume_ml"] if key.strength_mg is None else unit["count"]))
            use[key] = use.get(key, Decimal(0)) + amount
    return use


def use_periods(output: Mapping[str, Any]) -> tuple[UsePeriod, ...]:
    """The plan's daily use of each key: one period a step, then open-ended maintenance."""
    if output.get("pump") is not None:
        return ()
    periods = [
        UsePeriod(
            start=dt.date.fromisoformat(step["start_date"]),
            end=dt.date.fromisoformat(step["end_date"]),
            per_day=_dose_use(output, step["doses"]),
        )
        for step in output.get("steps") or []
    ]
    maintenance = output.get("maintenance")
    if periods and maintenance:
        periods.append(
            UsePeriod(
                start=dt.date.fromisoformat(output["end_date"]) + ONE_DAY,
                end=None,
                per_day=_dose_use(output, maintenance["doses"]),
            )
        )
    return tuple(periods)


def plan_dispensing_list(output: Mapping[str, Any]) -> tuple[Dispensed, ...]:
    """The plan's own dispensing list, as if handed over on its first day."""
    if output.get("pump") is not None or not output.get("steps"):
        return ()
    first_day = dt.date.fromisoformat(output["start_date"])
    return tuple(
        Dispensed(
            key=_key(output, item),
            quantity=Decimal(str(item["volume_ml"] if "volume_ml" in item else item["count"])),
            on=first_day,
        )
        for item in output.get("dispense") or []
    )


def needed_from(periods: Sequence[UsePeriod], key: SupplyKey, day: dt.date) -> Decimal:
    """What the steps use of `key` from `day` on (maintenance not counted), tablets
    rounded up to whole ones once."""
    total = Decimal(0)
    for period in periods:
        if period.end is None or period.end < day:
            continue
        days = (period.end - max(day, period.start)).days + 1
        total += period.per_day.get(key, Decimal(0)) * days
    if key.strength_mg is None:
        return total
    return total.to_integral_value(rounding=ROUND_CEILING)


def runs_out_on(
    periods: Sequence[UsePeriod], key: SupplyKey, dispensed: Sequence[Dispensed]
) -> dt.date | None:
    """The first day whose doses of `key` need more than is left at its start, with each
    dispensing available from its day on; None when the supply outlasts the plan."""
    adds = sorted((item.on, item.quantity) for item in dispensed if item.key == key)
    stock = Decimal(0)
    taken = 0  # dispensings counted so far
    for period in periods:
        use = period.per_day.get(key, Decimal(0))
        day = period.start
        while period.end is None or day <= period.end:
            while taken < len(adds) and adds[taken][0] <= day:
                stock += adds[taken][1]
                taken += 1
            # The stretch to the period's end, or to the day before the next dispensing.
            last = period.end
            if taken < len(adds):
                before_next = adds[taken][0] - ONE_DAY
                last = before_next if last is None else min(last, before_next)
            if use > 0:
                covered = int(stock // use)
                if last is None or covered < (last - day).days + 1:
                    return day + dt.timedelta(days=covered)
                stock -= use * ((last - day).days + 1)
            elif last is None:
                break  # open-ended and not used: never runs out
            day = last + ONE_DAY
    return None


def supply_status(
    output: Mapping[str, Any],
    dispensed: Sequence[Dispensed] | None,
    *,
    today: dt.date,
) -> tuple[StrengthSupply, ...]:
    """Each key's need from `today`, what was dispensed and when it runs out; `dispensed`
    None takes the plan's dispensing list. Empty for a pump plan."""
    periods = use_periods(output)
    if not periods:
        return ()
    if dispensed is None:
        dispensed = plan_dispensing_list(output)
    keys = {key for period in periods for key in period.per_day} | {i.key for i in dispensed}
    catalogue = load_catalogue()
    lines = []
    for key in sorted(keys, key=_order):
        mine = [item for item in dispensed if item.key == key]
        product = catalogue.product(key.product)
        form = product.form if product is not None else "tablet"
        lines.append(
            StrengthSupply(
                key=key,
                unit="mL" if key.strength_mg is None else f"{form}s",
                needed=needed_from(periods, key, today),
                dispensed=sum((item.quantity for item in mine), Decimal(0)),
                last_dispensed_on=max((item.on for item in mine), default=None),
                runs_out_on=runs_out_on(periods, key, dispensed),
            )
        )
    return tuple(lines)


def _order(key: SupplyKey) -> tuple[str, Decimal]:
    # Product by product; within one, the largest strength first (as `dispense` lists them).
    return (key.product, -(key.strength_mg or Decimal(0)))


def earliest_run_out(lines: Iterable[StrengthSupply]) -> dt.date | None:
    """The day the patient first runs short of any strength: what the reminder is for."""
    return min((line.runs_out_on for line in lines if line.runs_out_on), default=None)
