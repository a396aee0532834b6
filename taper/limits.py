"""The ranges a patient fact must lie in, and what cannot be true together.

One place for them: `taper.intake` refuses an engine input outside them, and the
patient record (planner.forms.PatientForm, which the API's patient endpoint uses too)
refuses them when the fact is typed, naming the field, so that no record is saved that
the engine would refuse later. They are data-entry plausibility limits, not clinical
thresholds (those live in the protocols): each is a clinic default.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from taper.protocol import CLINIC_DEFAULT, Setting
from taper.rounding import format_amount


@dataclass(frozen=True, slots=True)
class FactRange:
    """A number the engine accepts from `low` to `high` inclusive."""

    what: str
    unit: str
    low: Decimal
    high: Decimal
    source: str = CLINIC_DEFAULT

    def contains(self, value: Decimal) -> bool:
        return self.low <= value <= self.high

    @property
    def message(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"The {self.what} must be from {format_amount(self.low)} to " \
            f"{format_amount(self.high)}{unit}."


AGE_YEARS = FactRange("age", "years", Decimal(0), Decimal(120))
WEIGHT_KG = FactRange("weight", "kg", Decimal(1), Decimal(400))
CREATININE_CLEARANCE_ML_MIN = FactRange(
    "creatinine clearance", "mL/min", Decimal(1), Decimal(200)
)
SERUM_CREATININE_MG_DL = FactRange("serum creatinine", "mg/dL", Decimal("0.1"), Decimal(20))
SERUM_CREATININE_UMOL_L = FactRange("serum creatinine", "µmol/L", Decimal(9), Decimal(1800))
MONTHS_ON_THERAPY = FactRange("time on therapy", "months", Decimal(0), Decimal(1200))
HEIGHT_CM = FactRange("height", "cm", Decimal(30), Decimal(250))

# Above this age a recorded pregnancy is far likelier a typing error (in the date of
# birth or the trimester) than a fact; the clinic confirms it before it is recorded.
PREGNANCY_MAX_AGE_YEARS = Setting(value=Decimal(60), source=CLINIC_DEFAULT)


def pregnancy_refusals(
    *, trimester: int | None, sex: str | None, age_years: Decimal | None
) -> list[str]:
    """Why a recorded pregnancy cannot be true of this patient (empty when it can)."""
    if not trimester:
        return []
    refusals = []
    if sex == "male":
        refusals.append(
            "A patient recorded as male cannot be pregnant: set the trimester to "
            "not pregnant, or correct the sex."
        )
    limit = PREGNANCY_MAX_AGE_YEARS.value
    if age_years is not None and age_years > limit:
        refusals.append(
            f"A pregnancy is recorded only up to age {format_amount(limit)} "
            f"({PREGNANCY_MAX_AGE_YEARS.source}); check the date of birth and the trimester."
        )
    return refusals
