"""The protocol's length and pace rules (CLINICAL.md, clinic default protocol)."""

from __future__ import annotations

from decimal import Decimal

import pytest

import taper
from tests.support.taper import errors_for, flag_codes, oral_input, plan_for

TWENTY_MG_THREE_TIMES = [
    {"time": "08:00", "amount_mg": 20},
    {"time": "14:00", "amount_mg": 20},
    {"time": "20:00", "amount_mg": 20},
]


def test_it_plans_a_standard_taper_of_14_days_with_a_step_every_3_days():
    plan = plan_for(oral_input())
    assert plan.duration_days == 14
    assert plan.required_length_days == 14
    assert plan.step_interval_days == 3
    assert plan.end_date.isoformat() == "2026-03-15"


def test_it_lengthens_the_taper_to_21_days_for_daily_dose_of_60_mg_or_more():
    plan = plan_for(oral_input(doses=TWENTY_MG_THREE_TIMES))
    assert plan.required_length_days == 21
    assert plan.duration_days == 21


def test_it_keeps_14_days_just_below_60_mg():
    doses = [{"time": "08:00", "amount_mg": 30}, {"time": "20:00", "amount_mg": 27.5}]
    assert plan_for(oral_input(doses=doses)).required_length_days == 14


def test_it_lengthens_the_taper_to_21_days_after_6_months_or_more_on_therapy():
    plan = plan_for(oral_input(patient={"months_on_therapy": 6}))
    assert plan.required_length_days == 21


def test_it_lengthens_the_taper_to_28_days_for_a_high_dose_taken_for_a_long_time():
    plan = plan_for(oral_input(doses=TWENTY_MG_THREE_TIMES, patient={"months_on_therapy": 24}))
    assert plan.required_length_days == 28


@pytest.mark.parametrize(
    "patient",
    [
        {"age_years": 65},
        {"creatinine_clearance_ml_min": 49.9},
        {"seizure_history": True},
    ],
    ids=["age 65", "CrCl below 50", "seizure history"],
)
def test_it_stretches_length_and_step_interval_by_half_for_elderly_renal_or_seizure_patients(
    patient,
):
    plan = plan_for(oral_input(patient=patient))
    assert plan.required_length_days == 21  # 14 × 1.5
    assert plan.step_interval_days == 5  # 3 × 1.5 = 4.5, rounded up


def test_it_stretches_only_once_however_many_slowing_reasons_apply():
    patient = {"age_years": 80, "creatinine_clearance_ml_min": 20, "seizure_history": True}
    plan = plan_for(oral_input(patient=patient))
    assert plan.required_length_days == 21
    assert plan.step_interval_days == 5


def test_it_does_not_slow_the_taper_at_a_crcl_of_exactly_50():
    plan = plan_for(oral_input(patient={"creatinine_clearance_ml_min": 50}))
    assert plan.required_length_days == 14


def test_it_stretches_a_28_day_taper_to_42_days_for_an_elderly_patient():
    plan = plan_for(
        oral_input(doses=TWENTY_MG_THREE_TIMES, patient={"age_years": 70, "months_on_therapy": 12})
    )
    assert plan.required_length_days == 42


def test_it_stretches_length_and_interval_again_for_a_slower_pace():
    plan = plan_for(oral_input(pace="slower"))
    assert plan.required_length_days == 14
    assert plan.duration_days == 21
    assert plan.step_interval_days == 5
    assert not plan.requires_review


def test_it_stacks_the_slower_pace_on_top_of_the_elderly_stretch():
    plan = plan_for(oral_input(pace="slower", patient={"age_years": 70}))
    assert plan.required_length_days == 21
    assert plan.duration_days == 32  # 21 × 1.5 = 31.5, rounded up
    assert plan.step_interval_days == 8  # 5 × 1.5 = 7.5, rounded up


def test_it_lets_the_clinician_choose_a_longer_taper_without_a_flag():
    plan = plan_for(oral_input(pace={"length_days": 30, "step_days": 6}))
    assert plan.duration_days == 30
    assert plan.step_interval_days == 6
    assert "FASTER_THAN_PROTOCOL" not in flag_codes(plan)
    assert not plan.requires_review


def test_it_flags_a_taper_shorter_than_the_protocol_requires_and_needs_review():
    plan = plan_for(oral_input(pace={"length_days": 10}))
    assert plan.duration_days == 10
    assert plan.required_length_days == 14
    assert "FASTER_THAN_PROTOCOL" in flag_codes(plan)
    assert plan.requires_review


def test_it_flags_steps_shorter_than_the_protocol_interval():
    plan = plan_for(oral_input(pace={"step_days": 2}))
    assert plan.duration_days == 14
    assert "FASTER_THAN_PROTOCOL" in flag_codes(plan)
    assert plan.requires_review


def test_it_refuses_steps_shorter_than_2_days():
    errors = errors_for(oral_input(pace={"step_days": 1}))
    assert list(errors) == ["pace.step_days"]


def test_it_refuses_a_taper_under_the_7_day_hard_floor_without_a_reason():
    errors = errors_for(oral_input(pace={"length_days": 6}))
    assert list(errors) == ["pace.length_days"]
    assert "abrupt_stop_reason" in errors["pace.length_days"][0]


def test_it_allows_a_7_day_taper_flagged_faster_and_with_cuts_too_large():
    # 7 days // 3 = 2 steps: 3 cuts of 10 mg, over the 7.5 mg largest cut of the
    # protocol's own 14-day plan; a length the clinician chose is kept, and flagged.
    plan = plan_for(oral_input(pace={"length_days": 7}))
    assert flag_codes(plan) == {"FASTER_THAN_PROTOCOL", "STEP_TOO_LARGE"}
    assert plan.requires_review


def test_it_plans_an_abrupt_stop_under_the_floor_when_a_reason_is_recorded():
    plan = plan_for(
        oral_input(
            pace={"length_days": 1},
            abrupt_stop_reason="Severe confusion and somnolence on 2026-03-01",
        )
    )
    assert plan.duration_days == 1
    assert [step.days for step in plan.steps] == [1]
    abrupt = next(flag for flag in plan.flags if flag.code == "ABRUPT_STOP")
    assert abrupt.severity == "critical"
    assert "Severe confusion" in abrupt.message
    assert "at least 1 to 2 weeks" in abrupt.source
    assert plan.requires_review


def test_it_refuses_an_abrupt_stop_reason_on_a_normal_length_taper():
    errors = errors_for(oral_input(abrupt_stop_reason="adverse reaction"))
    assert list(errors) == ["abrupt_stop_reason"]


def test_it_refuses_an_abrupt_stop_reason_on_a_reduce_plan():
    errors = errors_for(
        oral_input(goal={"type": "reduce", "target_daily_mg": 10}, abrupt_stop_reason="reaction")
    )
    assert list(errors) == ["abrupt_stop_reason"]


def test_it_reduces_to_a_target_with_the_discontinue_step_size_and_interval():
    plan = plan_for(oral_input(goal={"type": "reduce", "target_daily_mg": 10}))
    # Discontinue: 4 steps over 14 days, step size 30 / 5 = 6 mg; 20 mg to lose → 4 steps.
    assert [step.daily_total_mg for step in plan.steps] == [25, 20, 15, 10]
    assert [step.days for step in plan.steps] == [3, 3, 3, 3]
    assert plan.required_length_days == 12
    assert plan.duration_days == 12
    assert plan.steps[-1].daily_total_mg == 10


def test_it_reduces_a_small_step_in_one_step_interval():
    plan = plan_for(oral_input(goal={"type": "reduce", "target_daily_mg": 25}))
    assert [(step.daily_total_mg, step.days) for step in plan.steps] == [(25, 3)]
    assert plan.required_length_days == 3


def test_it_refuses_a_target_at_or_above_the_current_dose():
    errors = errors_for(oral_input(goal={"type": "reduce", "target_daily_mg": 30}))
    assert list(errors) == ["goal.target_daily_mg"]
    assert "below the current daily total (30 mg)" in errors["goal.target_daily_mg"][0]


def test_it_refuses_a_target_the_product_cannot_measure():
    errors = errors_for(oral_input(goal={"type": "reduce", "target_daily_mg": 7}))
    assert errors == {
        "goal.target_daily_mg": [
            "7 mg a day cannot be given with 5/10/20 mg tablets; use a multiple of 2.5 mg."
        ]
    }


def test_it_refuses_a_too_short_request_built_without_parse_request():
    request = taper.parse_request(oral_input())
    too_short = type(request)(
        **{
            **{field: getattr(request, field) for field in request.__dataclass_fields__},
            "pace": taper.Pace(name="custom", length_days=3),
        }
    )
    with pytest.raises(taper.InvalidPlanInput) as caught:
        taper.plan(too_short)
    assert list(caught.value.errors) == ["pace.length_days"]


def test_it_slows_a_reduce_plan_by_making_the_same_steps_last_longer():
    standard = plan_for(oral_input(goal={"type": "reduce", "target_daily_mg": 10}))
    slower = plan_for(oral_input(goal={"type": "reduce", "target_daily_mg": 10}, pace="slower"))
    assert [s.daily_total_mg for s in slower.steps] == [s.daily_total_mg for s in standard.steps]
    assert [s.days for s in slower.steps] == [5, 5, 5, 5]
    assert slower.duration_days == 20
    assert slower.required_length_days == 12


def test_it_plans_a_proportional_taper_of_the_protocols_percentage_on_request():
    # 10 % of the current dose, rounded to 2.5 mg and at least 2.5 mg: 40 − 5 = 35, then
    # 2.5 mg cuts (10 % of 35 is 3.5, which rounds to one 2.5 mg unit) down to 2.5 mg.
    doses = [{"time": "08:00", "amount_mg": 20}, {"time": "20:00", "amount_mg": 20}]
    plan = plan_for(oral_input(doses=doses, pace={"shape": "proportional"}))
    totals = [step.daily_total_mg for step in plan.steps]
    assert totals == [35 - Decimal("2.5") * k for k in range(14)]
    assert plan.duration_days == 14 * 3
    assert plan.percent_per_step == 10
    assert not plan.requires_review


def test_it_flags_a_proportional_first_cut_over_the_protocols_largest_cut():
    # 50 %: 40 → 20 is a cut of 20 mg; the protocol's own plan cuts at most 10 mg
    # (40 mg = 16 units in 5 cuts: 4, 3, 3, 3, 3 units).
    doses = [{"time": "08:00", "amount_mg": 20}, {"time": "20:00", "amount_mg": 20}]
    plan = plan_for(oral_input(doses=doses, pace={"shape": "proportional", "percent_per_step": 50}))
    assert [step.daily_total_mg for step in plan.steps] == [20, 10, 5, Decimal("2.5")]
    assert plan.duration_days == 14  # 4 steps × 3 days is shorter than the protocol's 14
    assert "STEP_TOO_LARGE" in flag_codes(plan)
    assert plan.requires_review
