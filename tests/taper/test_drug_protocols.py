"""How the class protocols of #22 plan: pace, the 14-day guardrail, kidney bands, flags."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import taper

D = Decimal


def plan_for(product: str, doses: list[dict[str, Any]], **patient: Any) -> taper.TaperPlan:
    data: dict[str, Any] = {
        "product": product,
        "doses": doses,
        "start_date": "2027-01-04",
        "timezone": "Europe/Berlin",
        "goal": {"type": "discontinue"},
        "patient": {"age_years": 45, "months_on_therapy": 3, **patient},
    }
    return taper.plan(taper.parse_request(data))


def twice(amount: float) -> list[dict[str, Any]]:
    return [{"time": "08:00", "amount_mg": amount}, {"time": "20:00", "amount_mg": amount}]


def codes(plan: taper.TaperPlan) -> list[str]:
    return [flag.code for flag in plan.flags]


def flag(plan: taper.TaperPlan, code: str) -> taper.Flag:
    return next(f for f in plan.flags if f.code == code)


def test_a_benzodiazepine_taper_cuts_ten_percent_of_the_current_dose_every_two_weeks():
    plan = plan_for("diazepam-oral-tablet", twice(10))
    assert plan.protocol_id == "benzodiazepine-oral"
    assert plan.step_interval_days == 14
    # 20 mg: 10 % → 2 mg a step (1 mg units, half up) until 10 % is under one unit.
    assert [s.daily_total_mg for s in plan.steps][:5] == [18, 16, 14, 13, 12]
    assert plan.steps[-1].daily_total_mg == 1


@pytest.mark.parametrize("patient", [{"age_years": 70}, {"months_on_therapy": 12}])
def test_older_adults_and_a_year_of_use_get_four_week_steps(patient):
    plan = plan_for("diazepam-oral-tablet", twice(10), **patient)
    assert plan.step_interval_days == 28


def test_a_window_cutting_more_than_a_quarter_in_two_weeks_needs_review():
    # Clonazepam tablets step by 0.25 mg: 0.75 → 0.5 mg is a third in one 14-day window.
    plan = plan_for("clonazepam-oral-tablet", twice(1), months_on_therapy=60)
    too_large = flag(plan, "STEP_TOO_LARGE")
    assert "0.75 → 0.5 mg a day" in too_large.message
    assert "1 → 0.75" not in too_large.message  # exactly 25 % is allowed
    assert "Generally not more than 25% every 2 weeks" in too_large.source
    assert plan.requires_review


def test_the_final_step_to_zero_is_not_counted_by_the_window_guardrail():
    plan = plan_for("diazepam-oral-solution", twice(10))
    message = flag(plan, "STEP_TOO_LARGE").message
    assert "→ 0 mg" not in message


def test_a_benzodiazepine_with_an_opioid_is_critical_citing_the_boxed_warning():
    plan = plan_for("alprazolam-oral-tablet", twice(1), cns_depressants=["opioid"])
    cns = flag(plan, "CNS_DEPRESSANT")
    assert cns.severity == "critical"
    assert "BOXED WARNING" in cns.source
    assert plan.requires_review
    alcohol = plan_for("alprazolam-oral-tablet", twice(1), cns_depressants=["alcohol"])
    assert flag(alcohol, "CNS_DEPRESSANT").severity == "warning"


def test_diazepam_cites_a_label_that_carries_the_2020_boxed_warning():
    plan = plan_for("diazepam-oral-tablet", twice(5))
    assert (
        "d7a4b3c7-7021-4764-8c21-49e4bc6f6058" in flag(plan, "BENZODIAZEPINE_BOXED_WARNING").source
    )


def test_zolpidem_is_bedtime_only_and_cut_a_quarter_every_two_weeks():
    bedtime = [{"time": "22:30", "amount_mg": 10, "role": "bedtime"}]
    plan = plan_for("zolpidem-oral-tablet", bedtime)
    assert [s.daily_total_mg for s in plan.steps] == [5]
    assert plan.duration_days == 14
    assert "COMPLEX_SLEEP_BEHAVIOR" in codes(plan)
    with pytest.raises(taper.InvalidPlanInput) as refused:
        plan_for("zolpidem-oral-tablet", [{"time": "22:30", "amount_mg": 10}])
    assert "doses.0.role" in refused.value.errors
    with pytest.raises(taper.InvalidPlanInput) as two:
        plan_for(
            "zolpidem-oral-tablet",
            [
                {"time": "08:00", "amount_mg": 5, "role": "bedtime"},
                {"time": "22:00", "amount_mg": 5, "role": "bedtime"},
            ],
        )
    assert "Enter at most 1 dose times a day." in two.value.errors["doses"]


def test_zolpidem_with_an_opioid_stays_a_warning_as_its_opioid_text_is_not_verified():
    bedtime = [{"time": "22:30", "amount_mg": 5, "role": "bedtime"}]
    plan = plan_for("zolpidem-oral-tablet", bedtime, cns_depressants=["opioid"])
    assert flag(plan, "CNS_DEPRESSANT").severity == "warning"


def test_a_gabapentinoid_taper_lasts_at_least_the_label_week_and_longer_by_default():
    plan = plan_for("gabapentin-oral-capsule", twice(300))
    assert plan.duration_days == 14
    assert plan.step_interval_days == 4
    with pytest.raises(taper.InvalidPlanInput):
        taper.parse_request(
            {
                "product": "gabapentin-oral-capsule",
                "doses": twice(300),
                "start_date": "2027-01-04",
                "timezone": "UTC",
                "goal": {"type": "discontinue"},
                "patient": {"age_years": 45, "months_on_therapy": 3},
                "pace": {"length_days": 5},
            }
        )


@pytest.mark.parametrize(
    ("crcl", "daily", "ceiling", "severity"),
    [
        (25, 900, "700", "critical"),
        (30, 900, "700", "warning"),  # 30 falls in the lower band (>15 to 29)
        (45, 1500, "1400", "warning"),
        (10, 300, "200", "critical"),  # below 15: 300 × 10/15
    ],
)
def test_gabapentin_above_the_label_kidney_band_is_flagged(crcl, daily, ceiling, severity):
    doses = [{"time": "21:00", "amount_mg": daily}]
    plan = plan_for("gabapentin-oral-capsule", doses, creatinine_clearance_ml_min=crcl)
    above = flag(plan, "ABOVE_RENAL_DOSE")
    assert f"maximum of {ceiling} mg a day" in above.message
    assert above.severity == severity
    assert "97935fd9-1d4a-43b6-a5d9-de994591187b" in above.source


def test_gabapentin_within_its_band_is_not_flagged_but_extra_dose_times_are():
    plan = plan_for("gabapentin-oral-capsule", twice(300), creatinine_clearance_ml_min=45)
    assert "ABOVE_RENAL_DOSE" not in codes(plan)
    assert "RENAL_DOSE_TIMES" not in codes(plan)  # BID is the label's regimen at 30-59
    three = [{"time": t, "amount_mg": 200} for t in ("08:00", "14:00", "20:00")]
    plan = plan_for("gabapentin-oral-capsule", three, creatinine_clearance_ml_min=45)
    assert "RENAL_DOSE_TIMES" in codes(plan)
    assert flag(plan, "RENAL_MODERATE").severity == "warning"


def test_gabapentin_on_dialysis_gets_the_label_supplemental_doses():
    plan = plan_for("gabapentin-oral-capsule", twice(100), dialysis=True)
    dialysis = flag(plan, "DIALYSIS")
    assert "after each 4 hours of haemodialysis" in dialysis.message
    assert "NEURONTIN" in dialysis.source


def test_pregabalin_has_no_guessed_kidney_band_but_needs_review_when_severe():
    plan = plan_for("pregabalin-oral-capsule", twice(150), creatinine_clearance_ml_min=20)
    assert "ABOVE_RENAL_DOSE" not in codes(plan)
    assert flag(plan, "RENAL_SEVERE").source == "clinic default"
    assert plan.requires_review


def test_a_gabapentinoid_with_an_opioid_is_critical_citing_the_2019_communication():
    plan = plan_for("pregabalin-oral-solution", twice(80), cns_depressants=["opioid"])
    cns = flag(plan, "CNS_DEPRESSANT")
    assert cns.severity == "critical"
    assert "Drug Safety Communication, 19 December 2019" in cns.source


@pytest.mark.parametrize(
    "revision",
    [
        {"kind": "hold", "from_date": "2027-01-18", "days": 14},
        {"kind": "slow_down", "from_date": "2027-01-18"},
        {"kind": "step_back", "from_date": "2027-01-18"},
    ],
)
def test_holds_and_slow_downs_work_on_a_benzodiazepine_plan_as_for_baclofen(revision):
    data: dict[str, Any] = {
        "product": "diazepam-oral-tablet",
        "doses": twice(10),
        "start_date": "2027-01-04",
        "timezone": "Europe/Berlin",
        "goal": {"type": "discontinue"},
        "patient": {"age_years": 45, "months_on_therapy": 3},
    }
    plain = taper.plan(taper.parse_request(data))
    plan = taper.plan(taper.parse_request({**data, "revisions": [revision]}))
    assert "REVISED" in codes(plan)
    assert plan.duration_days > plain.duration_days
    if revision["kind"] == "hold":
        # The 16 mg step that starts on the hold's day lasts two weeks longer.
        assert [(s.daily_total_mg, s.days) for s in plan.steps[:3]] == [
            (18, 14),
            (16, 28),
            (14, 14),
        ]
    if revision["kind"] == "slow_down":
        assert plan.steps[1].days == 28  # each later step lasts 14 × 2 days
