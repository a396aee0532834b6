"""Switching a benzodiazepine to diazepam before the taper (issue #22).

The clinician asks for `"switch_to": "diazepam-oral-tablet"`. Each dose of the current
drug becomes amount × factor mg of diazepam (the factor from the protocol's recorded
equivalence table, taper/equivalence/), rounded UP to a diazepam dose step so the switch
never cuts the equivalent dose. The dose times are substituted one at a time, the latest
of the day first, each for the protocol's `switch_days_per_dose_time` days; after the last
substitution the patient stays on diazepam alone at the converted dose for
`switch_hold_days` more days, and the taper of diazepam (its own protocol, same version)
starts the day after. In a switch plan every
step's `daily_total_mg` is the diazepam-equivalent daily total, and every dose names its
product.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from taper.catalogue import Product
from taper.equivalence import EquivalenceEntry, EquivalenceTable, equivalent_dose_mg
from taper.flags import Flag
from taper.missed_dose import missed_dose_guidance
from taper.protocol import OralProtocol
from taper.request import CurrentDose, PlanRequest, switch_table
from taper.rounding import format_amount
from taper.schedule import Step, dose_roles, scheduled_dose


@dataclass(frozen=True, slots=True)
class Equivalence:
    """What a switch plan was converted with: `plan_to_json`'s `equivalence`."""

    from_product: str
    to_product: str
    factor: Decimal  # mg of the to_product's drug per mg of the from_product's
    source: str
    range: tuple[Decimal, Decimal]
    range_source: str
    factor_choice: str
    table: str  # "<id>/<version>"


@dataclass(frozen=True, slots=True)
class Switch:
    to: Product
    protocol: OralProtocol  # the to product's protocol, at the plan's protocol version
    table: EquivalenceTable
    entry: EquivalenceEntry
    days_per_dose_time: int
    hold_days: int  # added to the last substitution step: diazepam alone before the taper

    def equivalence(self, from_product: Product) -> Equivalence:
        return Equivalence(
            from_product=from_product.id,
            to_product=self.to.id,
            factor=self.entry.factor,
            source=f"{self.table.source}; {self.entry.factor_source}",
            range=self.entry.range,
            range_source=self.entry.range_source,
            factor_choice=self.table.factor_choice,
            table=self.table.reference,
        )


def switch_of(request: PlanRequest) -> Switch:
    """The switch a request asks for; rule_errors has refused anything else."""
    protocol, to, to_protocol = request.protocol, request.switch_to, request.switch_protocol
    table = switch_table(protocol)
    assert isinstance(protocol, OralProtocol)
    assert to is not None
    assert table is not None
    assert isinstance(to_protocol, OralProtocol)
    entry = table.entry(request.product.drug)
    days, hold = protocol.switch_days_per_dose_time, protocol.switch_hold_days
    assert entry is not None
    assert days is not None
    assert hold is not None
    return Switch(to, to_protocol, table, entry, days.value, hold.value)


def equivalent_mg(request: PlanRequest, switch: Switch) -> Decimal:
    """The starting regimen in mg of the target drug, unrounded: the day before the plan."""
    return request.daily_total_mg * switch.entry.factor


def target_doses(request: PlanRequest, switch: Switch) -> tuple[CurrentDose, ...]:
    """The regimen after the switch: each dose time converted, keeping its role."""
    roles = dose_roles([(dose.time, dose.role) for dose in request.doses])
    quantum = switch.to.dose_quantum_mg
    return tuple(
        CurrentDose(
            dose.time, equivalent_dose_mg(dose.amount_mg, switch.entry.factor, quantum), role
        )
        for dose, role in zip(request.doses, roles, strict=True)
    )


def substitution_steps(
    request: PlanRequest, switch: Switch, catch_up_fraction: Decimal
) -> tuple[Step, ...]:
    """One step per dose time: step k has the k latest dose times on the target drug; the
    last one also holds the target drug alone for hold_days. The equivalent total never
    falls: each converted dose is rounded up."""
    converted = target_doses(request, switch)
    order = sorted(range(len(request.doses)), key=lambda i: request.doses[i].time, reverse=True)
    steps = []
    start = request.start_date
    for count in range(1, len(order) + 1):
        switched = set(order[:count])
        doses = tuple(
            scheduled_dose(switch.to, new.time, new.amount_mg, new.role or "morning", named=True)
            if index in switched
            else scheduled_dose(
                request.product, old.time, old.amount_mg, new.role or "morning", named=True
            )
            for index, (old, new) in enumerate(zip(request.doses, converted, strict=True))
        )
        total = sum(
            (
                new.amount_mg if index in switched else old.amount_mg * switch.entry.factor
                for index, (old, new) in enumerate(zip(request.doses, converted, strict=True))
            ),
            Decimal(0),
        )
        days = switch.days_per_dose_time + (switch.hold_days if count == len(order) else 0)
        steps.append(
            Step(
                index=count - 1,
                start_date=start,
                end_date=start + timedelta(days=days - 1),
                daily_total_mg=total,
                doses=doses,
                missed_dose=missed_dose_guidance(
                    tuple(dose.time for dose in doses), catch_up_fraction
                ),
            )
        )
        start += timedelta(days=days)
    return tuple(steps)


def equivalence_flag(request: PlanRequest, switch: Switch) -> Flag:
    entry, table = switch.entry, switch.table
    low, high = entry.range
    before = request.daily_total_mg
    return Flag(
        "EQUIVALENCE_SWITCH",
        "warning",
        f"Switch from {request.product.name} to {switch.to.name} at "
        f"{format_amount(entry.factor)} mg {table.to_drug} per mg {request.product.drug}: "
        f"{format_amount(before)} mg a day becomes {format_amount(before * entry.factor)} mg "
        f"{table.to_drug} a day, one dose time every {switch.days_per_dose_time} days, then "
        f"{switch.hold_days} days on {table.to_drug} alone before its taper. "
        f"Equivalence tables disagree: the recorded range is {format_amount(low)} to "
        f"{format_amount(high)} mg per mg ({format_amount(before * low)} to "
        f"{format_amount(before * high)} mg a day). A reviewer must confirm the dose; watch "
        f"for oversedation after each substitution and for withdrawal.",
        f"{table.source}; {entry.factor_source}; {entry.range_source}; {table.factor_choice}",
    )
