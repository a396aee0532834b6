"""The patient's Supply section (My plan) and its short line on Today: per strength, what
the plan needs from today, what was dispensed, and the day it runs out, in the patient's
language. The counting is taper.supply's (through planner.supply); this only words it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

import taper
from planner.display import long_day, mg
from planner.models import TaperPlan
from planner.supply import plan_supply
from taper.supply import StrengthSupply


@dataclass(frozen=True, slots=True)
class SupplyLine:
    name: str  # "5 mg tablets", "Liquid"; with the drug when the plan has two
    needed: str  # "45 tablets", "210 mL"
    dispensed: str
    dispensed_on: dt.date | None
    runs_out_on: dt.date | None
    runs_out_text: str  # "Tuesday 9 March"; "" when it lasts the whole plan


@dataclass(frozen=True, slots=True)
class PatientSupply:
    lines: tuple[SupplyLine, ...]
    recorded: bool
    runs_out_on: dt.date | None
    runs_out_text: str
    soon: bool  # within the clinic's Today window (SUPPLY_TODAY_LINE_DAYS_BEFORE)
    past: bool  # the run-out day is today or already gone


def _quantity(amount: Decimal, unit: str) -> str:
    if unit == "mL":
        return _("%(volume)s mL") % {"volume": mg(amount)}
    whole = 1 if amount == 1 else 2
    if unit == "capsules":
        return ngettext("%(count)s capsule", "%(count)s capsules", whole) % {
            "count": mg(amount)
        }
    return ngettext("%(count)s tablet", "%(count)s tablets", whole) % {"count": mg(amount)}


def _name(line: StrengthSupply, with_drug: bool) -> str:
    if line.key.strength_mg is None:
        name = _("Liquid")
    elif line.unit == "capsules":
        name = _("%(strength)s mg capsules") % {"strength": mg(line.key.strength_mg)}
    else:
        name = _("%(strength)s mg tablets") % {"strength": mg(line.key.strength_mg)}
    product = taper.load_catalogue().product(line.key.product) if with_drug else None
    return f"{product.drug.capitalize()}: {name}" if product is not None else name


def patient_supply(plan: TaperPlan | None, now: dt.datetime) -> PatientSupply | None:
    if plan is None:
        return None
    today = now.astimezone(ZoneInfo(plan.patient.home_timezone)).date()
    supply = plan_supply(plan, today=today)
    if supply is None:
        return None
    with_drug = len({line.key.product for line in supply.lines}) > 1
    runs_out = supply.runs_out_on
    return PatientSupply(
        lines=tuple(
            SupplyLine(
                name=_name(line, with_drug),
                needed=_quantity(line.needed, line.unit),
                dispensed=_quantity(line.dispensed, line.unit),
                dispensed_on=line.last_dispensed_on,
                runs_out_on=line.runs_out_on,
                runs_out_text=long_day(line.runs_out_on) if line.runs_out_on else "",
            )
            for line in supply.lines
        ),
        recorded=supply.recorded,
        runs_out_on=runs_out,
        runs_out_text=long_day(runs_out) if runs_out else "",
        soon=supply.runs_out_within(today, settings.SUPPLY_TODAY_LINE_DAYS_BEFORE),
        past=runs_out is not None and runs_out <= today,
    )
