"""The golden plans of issue 20's guardrails, number by number (golden/README.md derives
each one by hand); test_golden.py compares the whole files."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import taper
from taper.render import plan_cuts

GOLDEN = Path(__file__).parent / "golden"
D = Decimal


def golden_plan(name: str) -> taper.TaperPlan:
    data: dict[str, Any] = json.loads((GOLDEN / f"{name}.input.json").read_text())
    return taper.plan(taper.parse_request(data))


def totals(plan: taper.TaperPlan) -> list[Decimal]:
    return [step.daily_total_mg for step in plan.steps]


def doses(step: taper.Step) -> list[tuple[str, str, Decimal]]:
    return [(f"{d.time:%H:%M}", d.role, d.amount_mg) for d in step.doses]


def codes(plan: taper.TaperPlan) -> list[str]:
    return [flag.code for flag in plan.flags]


def flag(plan: taper.TaperPlan, code: str) -> taper.Flag:
    return next(f for f in plan.flags if f.code == code)


def test_cuts_never_grow_the_remainder_goes_to_the_first_cuts():
    plan = golden_plan("tablet-discontinue-three-doses")
    # 30 mg = 12 units of 2.5 mg in 5 cuts: 3, 3, 2, 2, 2 units.
    assert plan_cuts(plan) == (D("7.5"), D("7.5"), D(5), D(5), D(5))
    assert totals(plan) == [D("22.5"), D(15), D(10), D(5)]
    assert plan.largest_cut_mg == D("7.5")  # 30 / 5 = 6, up to 7.5
    assert [step.days for step in plan.steps] == [3, 3, 4, 4]
    assert doses(plan.steps[0]) == [
        ("08:00", "morning", D(10)),
        ("14:00", "midday", D("2.5")),
        ("20:00", "bedtime", D(10)),
    ]
    assert doses(plan.steps[1]) == [("08:00", "morning", D(5)), ("20:00", "bedtime", D(10))]
    assert [(s.strength_mg, s.count) for s in plan.dispense] == [(10, 13), (5, 9)]
    assert len(plan.dose_events) == 9 + 6 + 4 + 4
    # 03-07 20:00 is followed by 20:00 on 03-08 (the 08:00 dose is gone): 24 h → 08:00.
    evening = next(
        e for e in plan.dose_events if e.local_date == date(2026, 3, 7) and e.slot == "20:00"
    )
    assert evening.catch_up_until.strftime("%m-%d %H:%M") == "03-08 08:00"


def test_a_custom_step_interval_gets_the_steps_its_cuts_need():
    plan = golden_plan("tablet-custom-step-lengthened")
    assert totals(plan) == [D("22.5"), D(15), D("7.5")]
    assert plan_cuts(plan) == (D("7.5"),) * 4
    assert (plan.duration_days, plan.step_interval_days) == (30, 10)
    assert [step.days for step in plan.steps] == [10, 10, 10]
    assert codes(plan) == ["LENGTHENED_TO_FIT"]
    assert "30 days, not 14 days" in plan.flags[0].message
    assert not plan.requires_review
    assert [(s.strength_mg, s.count) for s in plan.dispense] == [(10, 30), (5, 30)]


def test_a_shorter_length_the_clinician_chose_is_kept_and_its_big_cuts_flagged():
    plan = golden_plan("tablet-short-length-step-too-large")
    assert totals(plan) == [D(20), D(10)]
    assert plan_cuts(plan) == (D(10), D(10), D(10))
    assert [step.days for step in plan.steps] == [3, 4]
    assert codes(plan) == ["FASTER_THAN_PROTOCOL", "STEP_TOO_LARGE"]
    too_large = flag(plan, "STEP_TOO_LARGE")
    assert too_large.severity == "warning"
    assert "(7.5 mg a day)" in too_large.message
    assert "10 mg a day on 2026-03-09 (10 → 0 mg, the stop)" in too_large.message
    assert "rhabdomyolysis, multiple organ-system failure and death" in too_large.message
    assert plan.requires_review


def test_stop_now_has_no_doses_and_says_so():
    plan = golden_plan("tablet-stop-now-dialysis")
    assert plan.steps == ()
    assert plan.dose_events == ()
    assert plan.dispense == ()
    assert (plan.duration_days, plan.end_date) == (0, date(2026, 3, 2))
    assert plan_cuts(plan) == (D(20),)
    assert plan.largest_cut_mg == D("2.5")  # 20 mg = 8 units in 8 cuts (21 days, 7 steps)
    assert codes(plan) == [
        "ABRUPT_STOP",
        "DIALYSIS",
        "FASTER_THAN_PROTOCOL",
        "STEP_TOO_LARGE",
        "LONG_TERM_USE",
    ]
    abrupt = flag(plan, "ABRUPT_STOP")
    assert abrupt.message.startswith("This plan stops baclofen now, with no further doses")
    assert "over 0 days" not in abrupt.message
    assert (
        "no taper (stop now) instead of at least 21 days"
        in flag(plan, "FASTER_THAN_PROTOCOL").message
    )
    assert "the taper is longer" not in flag(plan, "LONG_TERM_USE").message
    assert flag(plan, "DIALYSIS").severity == "critical"
    assert plan.requires_review


def test_a_proportional_taper_cuts_a_percentage_of_the_current_dose():
    plan = golden_plan("solution-proportional-child")
    assert plan.percent_per_step == 25
    assert totals(plan) == [
        D(n) for n in ("11", "8", "6", "4.5", "3.5", "2.5", "2", "1.5", "1")
    ] + [D("0.5")]
    assert plan_cuts(plan) == tuple(
        D(n) for n in ("4", "3", "2", "1.5", "1", "1", "0.5", "0.5", "0.5", "0.5", "0.5")
    )
    assert (plan.duration_days, plan.required_length_days) == (30, 14)
    assert plan.largest_cut_mg == 3
    assert "4 mg a day on 2026-05-04 (15 → 11 mg)" in flag(plan, "STEP_TOO_LARGE").message
    assert plan.creatinine_clearance is not None
    assert plan.creatinine_clearance.method == "bedside-schwartz"
    assert plan.creatinine_clearance.value_ml_min == D("107.4")  # 0.413 × 130 / 0.5
    assert [s.volume_ml for s in plan.dispense] == [D("121.5")]
    assert codes(plan) == ["STEP_TOO_LARGE", "PEDIATRIC"]
    assert plan.requires_review  # under 12, and the first cut


def test_the_per_kg_check_applies_under_18_with_bedside_schwartz():
    plan = golden_plan("tablet-adolescent-dose-per-kg")
    assert codes(plan) == ["PEDIATRIC_DOSE_ABOVE_RANGE"]
    assert "2.22 mg/kg for 18 kg" in plan.flags[0].message
    assert plan.creatinine_clearance is not None
    assert plan.creatinine_clearance.value_ml_min == D("103.3")  # 0.413 × 150 / 0.6
    assert totals(plan) == [D(30), D("22.5"), D(15), D("7.5")]
    assert plan.largest_cut_mg == 10  # 40 mg = 16 units in 5 cuts: 4, 3, 3, 3, 3
    assert not plan.requires_review  # 16: no PEDIATRIC flag, no review of its own


def test_dose_roles_keep_a_night_workers_bedtime_dose_and_the_target_stays():
    plan = golden_plan("tablet-night-shift-reduce-maintenance")
    assert [doses(step) for step in plan.steps] == [
        [("10:00", "bedtime", D(10)), ("18:00", "morning", D(10))],
        [("10:00", "bedtime", D(10)), ("18:00", "morning", D(5))],
        [("10:00", "bedtime", D(10))],
    ]
    assert plan_cuts(plan) == (D(5), D(5), D(5))
    maintenance = plan.maintenance
    assert maintenance is not None
    assert maintenance.daily_total_mg == 10
    assert doses(maintenance) == [("10:00", "bedtime", D(10))]
    crcl = plan.creatinine_clearance
    assert crcl is not None
    # IBW 45.5 + 2.3 × (165 / 2.54 − 60) = 56.9; 95 > 1.2 × 56.9: adjusted 72.1 kg.
    assert (crcl.method, crcl.weight_basis, crcl.weight_kg) == (
        "cockcroft-gault",
        "adjusted",
        D("72.1"),
    )
    assert crcl.value_ml_min == D("112.9")
    delivery = flag(plan, "DELIVERY_BEFORE_END")
    assert delivery.severity == "critical"
    assert "(2026-03-10) is on or after the expected delivery date (2026-03-10)" in (
        delivery.message
    )
    assert "increased muscle tone, tremor, jitteriness, and seizure" in delivery.message
    assert "Neonatal Withdrawal Symptoms" in delivery.source
    assert plan.requires_review
    assert plan.last_day_missed_dose == ()  # the patient goes on at the target


def test_a_step_back_after_the_end_resumes_the_last_dose_taken():
    plan = golden_plan("tablet-elderly-step-back-after-end")
    assert [(s.start_date, s.end_date, s.daily_total_mg) for s in plan.steps] == [
        (date(2026, 3, 2), date(2026, 3, 8), D("7.5")),
        (date(2026, 3, 9), date(2026, 3, 15), D(5)),
        (date(2026, 3, 16), date(2026, 3, 22), D("2.5")),
        (date(2026, 3, 24), date(2026, 3, 28), D("2.5")),
    ]
    assert date(2026, 3, 23) not in {event.local_date for event in plan.dose_events}
    last_before_gap = next(e for e in plan.dose_events if e.local_date == date(2026, 3, 22))
    # The window closes halfway to where the next day's dose would be, not 2 days later.
    assert last_before_gap.catch_up_until.strftime("%m-%d %H:%M") == "03-23 08:00"
    assert plan.duration_days == 27
    assert [(s.strength_mg, s.count) for s in plan.dispense] == [(5, 24)]
    assert codes(plan) == ["KIDNEY_FUNCTION_UNKNOWN", "ELDERLY", "REVISED"]
    (last,) = plan.last_day_missed_dose
    assert last.text.startswith("If you miss the 20:00 dose on 2026-03-28, the last day")
    assert "the plan has no more doses" in last.text
    assert "as usual" not in last.text


def test_a_dose_above_the_kidney_adjusted_maximum_is_critical_below_30():
    plan = golden_plan("tablet-high-dose-renal-severe")
    above = flag(plan, "ABOVE_RENAL_DOSE")
    assert above.severity == "critical"
    assert "80 mg × 1/3 = 26.7 mg a day" in above.message
    assert "Vlavonou" in above.source
    assert plan_cuts(plan) == (D(10),) * 5 + (D("7.5"),) * 4
    assert totals(plan) == [D(n) for n in ("70", "60", "50", "40", "30", "22.5", "15", "7.5")]
    assert [(s.strength_mg, s.count) for s in plan.dispense] == [(20, 50), (10, 31), (5, 38)]


def test_a_reduce_plan_keeps_its_largest_cut_and_its_target():
    plan = golden_plan("suspension-reduce-elderly")
    assert totals(plan) == [D("32.5"), D(25), D(20)]
    assert plan_cuts(plan) == (D("7.5"), D("7.5"), D(5))
    assert plan.largest_cut_mg == D("7.5")
    assert [s.volume_ml for s in plan.dispense] == [D("77.5")]
    assert plan.maintenance is not None
    assert plan.maintenance.daily_total_mg == 20
    assert "ABOVE_RENAL_DOSE" not in codes(plan)  # 40 mg is under 80 × 2/3 = 53.3
