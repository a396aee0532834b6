"""Kidney function: creatinine clearance entered, or estimated from serum creatinine.

Baclofen is 70–80 % excreted unchanged by the kidneys, so CrCl decides both the
renal flags and whether the taper is slowed. Adults: Cockcroft–Gault (Cockcroft and
Gault, Nephron 1976), on adjusted body weight when a height is known and the weight is
over 120 % of ideal body weight (IBW by Devine 1974; adjusted = IBW + 0.4 × (actual −
IBW)). Under 18: the bedside Schwartz formula, 0.413 × height cm / SCr mg/dL (Schwartz
et al., J Am Soc Nephrol 2009), which needs the height.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from taper.request import Patient

UMOL_PER_L_PER_MG_PER_DL = Decimal("88.42")
FEMALE_FACTOR = Decimal("0.85")
SCHWARTZ_K = Decimal("0.413")  # Schwartz et al. 2009, bedside formula
CM_PER_INCH = Decimal("2.54")
# Devine 1974: IBW = base + 2.3 kg per inch over 5 feet.
IBW_BASE_KG = {"male": Decimal(50), "female": Decimal("45.5")}
IBW_KG_PER_INCH = Decimal("2.3")
OBESE_OVER_IBW = Decimal("1.2")  # weight over 120 % of IBW: adjusted body weight
ADJUSTED_FACTOR = Decimal("0.4")

CrClMethod = Literal["entered", "cockcroft-gault", "bedside-schwartz"]
WeightBasis = Literal["actual", "adjusted"]


@dataclass(frozen=True, slots=True)
class CreatinineClearance:
    value_ml_min: Decimal  # one decimal place; bands are judged on this shown value
    method: CrClMethod
    weight_kg: Decimal | None = None  # Cockcroft–Gault: the weight used (one decimal)
    weight_basis: WeightBasis | None = None


def entered(value_ml_min: Decimal) -> CreatinineClearance:
    return CreatinineClearance(_one_decimal(value_ml_min), "entered")


def cockcroft_gault(
    *,
    age_years: Decimal,
    weight_kg: Decimal,
    sex: str,
    serum_creatinine_mg_dl: Decimal,
    height_cm: Decimal | None = None,
) -> CreatinineClearance:
    """(140 − age) × weight / (72 × SCr), × 0.85 for women; actual body weight, or the
    adjusted body weight when a height is known and the weight is over 120 % of IBW."""
    weight, basis = cockcroft_gault_weight(weight_kg, sex, height_cm)
    clearance = (140 - age_years) * weight / (72 * serum_creatinine_mg_dl)
    if sex == "female":
        clearance *= FEMALE_FACTOR
    return CreatinineClearance(
        _one_decimal(clearance), "cockcroft-gault", _one_decimal(weight), basis
    )


def ideal_body_weight_kg(sex: str, height_cm: Decimal) -> Decimal:
    inches = height_cm / CM_PER_INCH
    return IBW_BASE_KG[sex] + IBW_KG_PER_INCH * (inches - 60)


def cockcroft_gault_weight(
    weight_kg: Decimal, sex: str, height_cm: Decimal | None
) -> tuple[Decimal, WeightBasis]:
    if height_cm is None:
        return weight_kg, "actual"
    ideal = ideal_body_weight_kg(sex, height_cm)
    if ideal > 0 and weight_kg > OBESE_OVER_IBW * ideal:
        return ideal + ADJUSTED_FACTOR * (weight_kg - ideal), "adjusted"
    return weight_kg, "actual"


def bedside_schwartz(*, height_cm: Decimal, serum_creatinine_mg_dl: Decimal) -> CreatinineClearance:
    """0.413 × height (cm) / SCr (mg/dL), mL/min/1.73 m²: for children and adolescents."""
    return CreatinineClearance(
        _one_decimal(SCHWARTZ_K * height_cm / serum_creatinine_mg_dl), "bedside-schwartz"
    )


def umol_per_l_to_mg_per_dl(serum_creatinine_umol_l: Decimal) -> Decimal:
    return serum_creatinine_umol_l / UMOL_PER_L_PER_MG_PER_DL


def _one_decimal(value: Decimal) -> Decimal:
    # The value a clinician sees is the value the bands judge: 29.96 shows and counts as 30.0.
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def patient_creatinine_clearance(
    patient: Patient, adult_age_years: int = 18
) -> CreatinineClearance | None:
    """Entered CrCl wins; otherwise bedside Schwartz under adult_age_years (with a
    height), Cockcroft–Gault for adults, when the formula's inputs are known."""
    if patient.creatinine_clearance_ml_min is not None:
        return entered(patient.creatinine_clearance_ml_min)
    serum = patient.serum_creatinine_mg_dl
    if serum is None and patient.serum_creatinine_umol_l is not None:
        serum = umol_per_l_to_mg_per_dl(patient.serum_creatinine_umol_l)
    if serum is None or patient.age_years is None:
        return None
    if patient.age_years < adult_age_years:
        if patient.height_cm is None:
            return None  # parse_request refuses this, naming patient.height_cm
        return bedside_schwartz(height_cm=patient.height_cm, serum_creatinine_mg_dl=serum)
    if patient.weight_kg is None:
        return None
    if patient.sex is None:
        return None
    return cockcroft_gault(
        age_years=patient.age_years,
        weight_kg=patient.weight_kg,
        sex=patient.sex,
        serum_creatinine_mg_dl=serum,
        height_cm=patient.height_cm,
    )
