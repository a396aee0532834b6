"""A plan's supply as it stands: what the clinic recorded as dispensed (or the plan's
dispensing list), and the need and run-out date per strength (taper.supply), plus
recording a dispensing.

Decision (issue #17): nothing is written at activation. A plan with no dispensing
recorded counts its own dispensing list as handed over on its first day; the first
dispensing the clinic records replaces that default, and from then on every recorded
dispensing counts (the clinic's form is pre-filled with the list, so recording it is one
click). Pump plans have refills instead and no supply here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from planner.audit import records_by
from planner.models import PlanStatus, SupplyDispensed, TaperPlan
from taper.supply import (
    Dispensed,
    StrengthSupply,
    SupplyKey,
    earliest_run_out,
    plan_dispensing_list,
    supply_status,
)

# Plans whose supply a patient and the clinic follow: approved ones about to start, and
# running ones. A finished or cancelled plan has nothing left to collect.
SUPPLY_STATUSES = (PlanStatus.APPROVED, PlanStatus.ACTIVE)


@dataclass(frozen=True)
class PlanSupply:
    lines: tuple[StrengthSupply, ...]
    recorded: bool  # False: the plan's dispensing list stands in for what was dispensed
    runs_out_on: dt.date | None  # the earliest of the lines
    records: tuple[SupplyDispensed, ...]

    def runs_out_within(self, today: dt.date, days: int) -> bool:
        return self.runs_out_on is not None and self.runs_out_on <= today + dt.timedelta(days=days)


def _recorded(records: Sequence[SupplyDispensed]) -> list[Dispensed]:
    return [
        Dispensed(SupplyKey(row.product, row.strength_mg), row.quantity, row.dispensed_on)
        for row in records
    ]


def plan_supply(plan: TaperPlan, *, today: dt.date) -> PlanSupply | None:
    """None for a plan without supply to follow (a pump, a draft, a finished plan)."""
    revision = plan.current_revision
    if revision is None or plan.status not in SUPPLY_STATUSES or plan.is_pump:
        return None
    records = tuple(plan.dispensed.all())
    lines = supply_status(revision.engine_output, _recorded(records) or None, today=today)
    if not lines:
        return None
    if plan.runs_until is not None:
        # A replaced plan ends the day before its successor starts: running out after
        # that is no concern of this plan (the new plan has its own supply).
        lines = tuple(
            replace(line, runs_out_on=None)
            if line.runs_out_on is not None and line.runs_out_on > plan.runs_until
            else line
            for line in lines
        )
    return PlanSupply(
        lines=lines, recorded=bool(records), runs_out_on=earliest_run_out(lines), records=records
    )


def supply_keys(plan: TaperPlan) -> tuple[tuple[SupplyKey, Decimal], ...]:
    """The strengths the clinic can record for this plan, each with the plan's own
    dispensing quantity (the form's default)."""
    revision = plan.current_revision
    if revision is None or plan.is_pump:
        return ()
    output = revision.engine_output
    listed = {item.key: item.quantity for item in plan_dispensing_list(output)}
    keys = {line.key for line in supply_status(output, (), today=revision.start_date)}
    return tuple(
        (key, listed.get(key, Decimal(0)))
        for key in sorted(keys | set(listed), key=lambda k: (k.product, -(k.strength_mg or 0)))
    )


@records_by
@transaction.atomic
def supply_dispensed_record(
    *,
    plan: TaperPlan,
    quantities: Mapping[SupplyKey, Decimal],
    dispensed_on: dt.date,
    by: User,
    today: dt.date,
) -> list[SupplyDispensed]:
    """Record what the clinic dispensed, one row a strength with a quantity above 0.
    Refused (nothing written) for a plan without supply, a future day, an unknown
    strength or nothing to record."""
    if plan.status not in SUPPLY_STATUSES or plan.is_pump:
        raise ValidationError(
            {"dispensed_on": "Supply is recorded for an approved or running oral plan."}
        )
    errors: dict[str, list[str]] = {}
    if dispensed_on > today:
        errors["dispensed_on"] = ["A dispensing cannot be recorded for a future day."]
    known = {key for key, _ in supply_keys(plan)}
    wanted = {key: quantity for key, quantity in quantities.items() if quantity > 0}
    if any(key not in known for key in wanted):
        errors["__all__"] = ["That strength is not part of this plan."]
    elif not wanted:
        errors["__all__"] = ["Enter the quantity dispensed for at least one strength."]
    if errors:
        raise ValidationError(errors)
    return [
        SupplyDispensed.objects.create(
            plan=plan,
            product=key.product,
            strength_mg=key.strength_mg,
            quantity=quantity,
            dispensed_on=dispensed_on,
            recorded_by=by,
        )
        for key, quantity in wanted.items()
    ]
