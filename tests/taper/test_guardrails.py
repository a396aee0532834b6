"""Issue 20's guardrails at their edges: ages, kidney formulas, percentages, refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.taper import errors_for, flag_codes, oral_input, plan_for

D = Decimal


def test_the_per_kg_check_stops_at_18():
    doses = [{"time": "08:00", "amount_mg": 20}, {"time": "20:00", "amount_mg": 20}]
    at_17 = plan_for(oral_input(doses=doses, patient={"age_years": 17, "weight_kg": 18}))
    at_18 = plan_for(oral_input(doses=doses, patient={"age_years": 18, "weight_kg": 18}))
    assert "PEDIATRIC_DOSE_ABOVE_RANGE" in flag_codes(at_17)
    assert "PEDIATRIC_DOSE_ABOVE_RANGE" not in flag_codes(at_18)


@pytest.mark.parametrize(("age", "review"), [(11, True), (12, False)])
def test_every_plan_under_12_needs_review(age: int, review: bool) -> None:
    assert plan_for(oral_input(patient={"age_years": age})).requires_review is review


def test_a_childs_serum_creatinine_without_a_height_is_refused_naming_the_height():
    errors = errors_for(oral_input(patient={"age_years": 10, "serum_creatinine_mg_dl": 0.5}))
    assert list(errors) == ["patient.height_cm"]
    assert "bedside Schwartz" in errors["patient.height_cm"][0]


def test_an_adult_without_a_height_keeps_actual_weight_in_cockcroft_gault():
    plan = plan_for(
        oral_input(patient={"weight_kg": 120, "sex": "male", "serum_creatinine_mg_dl": 1.0})
    )
    crcl = plan.creatinine_clearance
    assert crcl is not None
    assert (crcl.weight_basis, crcl.weight_kg) == ("actual", 120)
    # (140 − 45) × 120 / 72 = 158.3
    assert crcl.value_ml_min == D("158.3")


def test_a_weight_at_most_120_percent_of_ideal_stays_actual():
    # Man, 180 cm: IBW 50 + 2.3 × (70.866 − 60) = 74.99 kg; 1.2 × 74.99 = 89.99 kg.
    plan = plan_for(
        oral_input(
            patient={
                "weight_kg": 89,
                "height_cm": 180,
                "sex": "male",
                "serum_creatinine_mg_dl": 1.0,
            }
        )
    )
    assert plan.creatinine_clearance is not None
    assert plan.creatinine_clearance.weight_basis == "actual"
    heavier = plan_for(
        oral_input(
            patient={"weight_kg": 90, "height_cm": 180, "sex": "male", "serum_creatinine_mg_dl": 1}
        )
    )
    assert heavier.creatinine_clearance is not None
    # 90 > 89.99: adjusted 74.99 + 0.4 × (90 − 74.99) = 81.0 kg.
    assert heavier.creatinine_clearance.weight_basis == "adjusted"
    assert heavier.creatinine_clearance.weight_kg == D(81)


@pytest.mark.parametrize(
    ("crcl", "severity"), [(25, "critical"), (45, "warning"), (70, "warning"), (85, None)]
)
def test_above_renal_dose_follows_the_kidney_band(crcl: int, severity: str | None) -> None:
    # 60 mg a day: above 80 × 1/3, × 1/2 and × 2/3 (53.3); nothing to compare at 85.
    doses = [{"time": "08:00", "amount_mg": 30}, {"time": "20:00", "amount_mg": 30}]
    plan = plan_for(oral_input(doses=doses, patient={"creatinine_clearance_ml_min": crcl}))
    found = [f.severity for f in plan.flags if f.code == "ABOVE_RENAL_DOSE"]
    assert found == ([severity] if severity else [])


def test_kidney_function_unknown_is_for_65_and_over_only():
    assert "KIDNEY_FUNCTION_UNKNOWN" in flag_codes(plan_for(oral_input(patient={"age_years": 65})))
    assert "KIDNEY_FUNCTION_UNKNOWN" not in flag_codes(
        plan_for(oral_input(patient={"age_years": 64}))
    )
    known = plan_for(oral_input(patient={"age_years": 70, "creatinine_clearance_ml_min": 90}))
    assert "KIDNEY_FUNCTION_UNKNOWN" not in flag_codes(known)


@pytest.mark.parametrize("percent", [4, 51])
def test_a_percentage_outside_5_to_50_is_refused(percent: int) -> None:
    errors = errors_for(oral_input(pace={"shape": "proportional", "percent_per_step": percent}))
    assert list(errors) == ["pace.percent_per_step"]


def test_a_percentage_without_the_proportional_shape_is_refused():
    errors = errors_for(oral_input(pace={"percent_per_step": 20}))
    assert list(errors) == ["pace.percent_per_step"]


def test_stop_now_needs_a_reason_and_a_discontinue_goal():
    assert list(errors_for(oral_input(pace={"length_days": 0}))) == ["pace.length_days"]
    reduce = errors_for(
        oral_input(
            goal={"type": "reduce", "target_daily_mg": 10},
            pace={"length_days": 0},
        )
    )
    assert list(reduce) == ["pace.length_days"]


def test_an_unknown_dose_role_is_refused_by_name():
    data = oral_input()
    data["doses"][0]["role"] = "lunch"
    assert list(errors_for(data)) == ["doses.0.role"]


def test_a_delivery_date_after_the_end_raises_nothing():
    plan = plan_for(oral_input(patient={"expected_delivery_date": "2026-03-16"}))
    assert plan.end_date.isoformat() == "2026-03-15"
    assert "DELIVERY_BEFORE_END" not in flag_codes(plan)
    on_end = plan_for(oral_input(patient={"expected_delivery_date": "2026-03-15"}))
    assert "DELIVERY_BEFORE_END" in flag_codes(on_end)


def test_a_hold_after_the_end_resumes_the_last_level_for_its_days():
    plan = plan_for(oral_input(revisions=[{"kind": "hold", "from_date": "2026-03-22", "days": 2}]))
    last = plan.steps[-1]
    assert (last.start_date.isoformat(), last.end_date.isoformat()) == ("2026-03-22", "2026-03-23")
    assert last.daily_total_mg == plan.steps[-2].daily_total_mg == 5
