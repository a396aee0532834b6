"""Creatinine clearance: entered, or estimated with Cockcroft–Gault."""

from __future__ import annotations

from decimal import Decimal

from tests.support.taper import errors_for, oral_input, plan_for

MAN = {"age_years": 60, "weight_kg": 72, "sex": "male"}


def test_it_estimates_crcl_with_cockcroft_gault_from_serum_creatinine_in_mg_per_dl():
    plan = plan_for(oral_input(patient={**MAN, "serum_creatinine_mg_dl": 1.0}))
    # (140 − 60) × 72 / (72 × 1.0) = 80.0
    assert plan.creatinine_clearance.value_ml_min == Decimal("80.0")
    assert plan.creatinine_clearance.method == "cockcroft-gault"


def test_it_multiplies_cockcroft_gault_by_0_85_for_women():
    plan = plan_for(oral_input(patient={**MAN, "sex": "female", "serum_creatinine_mg_dl": 1.0}))
    assert plan.creatinine_clearance.value_ml_min == Decimal("68.0")


def test_it_converts_serum_creatinine_from_micromoles_per_litre():
    plan = plan_for(oral_input(patient={**MAN, "serum_creatinine_umol_l": 176.84}))
    # 176.84 µmol/L = 2.0 mg/dL → 40.0 mL/min
    assert plan.creatinine_clearance.value_ml_min == Decimal("40.0")


def test_it_uses_an_entered_crcl_as_entered():
    plan = plan_for(oral_input(patient={"creatinine_clearance_ml_min": 42.25}))
    assert plan.creatinine_clearance.value_ml_min == Decimal("42.3")
    assert plan.creatinine_clearance.method == "entered"


def test_it_reports_no_crcl_when_nothing_was_entered():
    assert plan_for(oral_input()).creatinine_clearance is None


def test_it_refuses_serum_creatinine_without_the_facts_cockcroft_gault_needs():
    errors = errors_for(oral_input(patient={"serum_creatinine_mg_dl": 1.0}))
    assert errors == {
        "patient.serum_creatinine_mg_dl": [
            "Cockcroft–Gault needs the patient's age, weight and sex; enter weight_kg, sex."
        ]
    }


def test_it_refuses_more_than_one_creatinine_field():
    errors = errors_for(
        oral_input(patient={**MAN, "creatinine_clearance_ml_min": 60, "serum_creatinine_mg_dl": 1})
    )
    assert list(errors) == ["patient.serum_creatinine_mg_dl"]
