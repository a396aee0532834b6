"""Kidney function: creatinine clearance entered, or estimated with Cockcroft–Gault.

Baclofen is 70–80 % excreted unchanged by the kidneys, so CrCl decides both the
renal flags and whether the taper is slowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from taper.request import Patient

UMOL_PER_L_PER_MG_PER_DL = Decimal("88.42")
FEMALE_FACTOR = Decimal("0.85")

CrClMethod = Literal["entered", "cockcroft-gault"]


@dataclass(frozen=True, slots=True)
class CreatinineClearance:
    value_ml_min: Decimal  # one decimal place; bands are judged on this shown value
    method: CrClMethod


def entered(value_ml_min: Decimal) -> CreatinineClearance:
    return CreatinineClearance(_one_decimal(value_ml_min), "entered")


def cockcroft_gault(
    *, age_years: Decimal, weight_kg: Decimal, sex: str, serum_creatinine_mg_dl: Decimal
) -> CreatinineClearance:
    """(140 − age) × weight / (72 × SCr), × 0.85 for women; actual body weight."""
    clearance = (140 - age_years) * weight_kg / (72 * serum_creatinine_mg_dl)
    if sex == "female":
        clearance *= FEMALE_FACTOR
    return CreatinineClearance(_one_decimal(clearance), "cockcroft-gault")


def umol_per_l_to_mg_per_dl(serum_creatinine_umol_l: Decimal) -> Decimal:
    return serum_creatinine_umol_l / UMOL_PER_L_PER_MG_PER_DL


def _one_decimal(value: Decimal) -> Decimal:
    # The value a clinician sees is the value the bands judge: 29.96 shows and counts as 30.0.
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def patient_creatinine_clearance(patient: Patient) -> CreatinineClearance | None:
    """Entered CrCl wins; otherwise Cockcroft–Gault when its inputs are known."""
    if patient.creatinine_clearance_ml_min is not None:
        return entered(patient.creatinine_clearance_ml_min)
    serum = patient.serum_creatinine_mg_dl
    if serum is None and patient.serum_creatinine_umol_l is not None:
        serum = umol_per_l_to_mg_per_dl(patient.serum_creatinine_umol_l)
    if serum is None or patient.age_years is None or patient.weight_kg is None:
        return None
    if patient.sex is None:
        return None
    return cockcroft_gault(
        age_years=patient.age_years,
        weight_kg=patient.weight_kg,
        sex=patient.sex,
        serum_creatinine_mg_dl=serum,
    )
