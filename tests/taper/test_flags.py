"""One example per flag of CLINICAL.md: code, severity, message and source."""

from __future__ import annotations

from typing import Any

import pytest

import taper
from taper.flags import CODES
from tests.support.taper import flag_codes, oral_input, plan_for, pump_input


def flag(plan: taper.TaperPlan, code: str) -> taper.Flag:
    return next(f for f in plan.flags if f.code == code)


def test_it_raises_no_flags_for_a_plain_adult_plan():
    plan = plan_for(oral_input())
    assert plan.flags == ()
    assert not plan.requires_review


def test_it_shows_the_boxed_warning_on_every_intrathecal_plan():
    plan = plan_for(pump_input())
    boxed = flag(plan, "INTRATHECAL_BOXED_WARNING")
    assert boxed.severity == "critical"
    assert "seek emergency care" in boxed.message
    assert "high fever" in boxed.message
    assert "24 to 72 hours" in boxed.message
    assert "Black Box" in boxed.source
    assert "Coffey et al., Arch Phys Med Rehabil 2002" in boxed.source
    assert plan.requires_review


def test_it_flags_an_abrupt_stop_as_critical():
    plan = plan_for(oral_input(pace={"length_days": 3}, abrupt_stop_reason="anaphylaxis"))
    assert flag(plan, "ABRUPT_STOP").severity == "critical"


def test_it_flags_a_plan_faster_than_the_protocol_as_a_warning_needing_review():
    plan = plan_for(oral_input(pace={"length_days": 10}))
    faster = flag(plan, "FASTER_THAN_PROTOCOL")
    assert faster.severity == "warning"
    assert "10 days instead of at least 14" in faster.message
    assert "baclofen-oral protocol version 2" in faster.source
    assert plan.requires_review


def test_it_flags_a_daily_dose_above_80_mg():
    doses = [{"time": "08:00", "amount_mg": 45}, {"time": "20:00", "amount_mg": 40}]
    plan = plan_for(oral_input(doses=doses))
    above = flag(plan, "ABOVE_MAX_DOSE")
    assert above.severity == "warning"
    assert "80 mg" in above.source


def test_it_does_not_flag_exactly_80_mg_as_above_the_maximum():
    doses = [{"time": "08:00", "amount_mg": 40}, {"time": "20:00", "amount_mg": 40}]
    assert "ABOVE_MAX_DOSE" not in flag_codes(plan_for(oral_input(doses=doses)))


def test_it_flags_a_high_dose_of_60_mg_or_more_as_info():
    doses = [{"time": "08:00", "amount_mg": 30}, {"time": "20:00", "amount_mg": 30}]
    high = flag(plan_for(oral_input(doses=doses)), "HIGH_DOSE")
    assert high.severity == "info"
    assert "longer after high doses" in high.source or "even longer" in high.source


def test_it_flags_long_term_use_of_6_months_or_more_as_info():
    plan = plan_for(oral_input(patient={"months_on_therapy": 6}))
    assert flag(plan, "LONG_TERM_USE").severity == "info"


def test_it_flags_renal_severe_below_30_ml_min():
    plan = plan_for(oral_input(patient={"creatinine_clearance_ml_min": 29.9}))
    severe = flag(plan, "RENAL_SEVERE")
    assert severe.severity == "critical"
    assert "Vlavonou et al., J Clin Pharmacol 2014" in severe.source
    assert plan.requires_review


@pytest.mark.parametrize(("crcl", "code"), [(30, "RENAL_MODERATE"), (49.9, "RENAL_MODERATE")])
def test_it_flags_renal_moderate_from_30_to_below_50_ml_min(crcl, code):
    plan = plan_for(oral_input(patient={"creatinine_clearance_ml_min": crcl}))
    assert flag(plan, code).severity == "warning"
    assert not {"RENAL_SEVERE", "RENAL_MILD"} & flag_codes(plan)


@pytest.mark.parametrize("crcl", [50, 79.9])
def test_it_flags_renal_mild_from_50_to_below_80_ml_min(crcl):
    plan = plan_for(oral_input(patient={"creatinine_clearance_ml_min": crcl}))
    assert flag(plan, "RENAL_MILD").severity == "info"


def test_it_does_not_flag_a_crcl_of_80_or_more():
    plan = plan_for(oral_input(patient={"creatinine_clearance_ml_min": 80}))
    assert not any(code.startswith("RENAL") for code in flag_codes(plan))


def test_it_flags_a_patient_aged_65_or_over_as_elderly():
    plan = plan_for(oral_input(patient={"age_years": 65}))
    elderly = flag(plan, "ELDERLY")
    assert elderly.severity == "warning"
    assert "Elderly" in elderly.source


def test_it_flags_oral_use_under_12_as_a_pediatric_warning():
    plan = plan_for(oral_input(patient={"age_years": 11}))
    assert flag(plan, "PEDIATRIC").severity == "warning"


def test_it_does_not_flag_a_12_year_old_on_oral_baclofen_as_pediatric():
    assert "PEDIATRIC" not in flag_codes(plan_for(oral_input(patient={"age_years": 12})))


def test_it_flags_intrathecal_use_under_4_as_pediatric_critical():
    plan = plan_for(pump_input(patient={"age_years": 3}))
    assert flag(plan, "PEDIATRIC").severity == "critical"


def test_it_does_not_flag_intrathecal_use_from_age_4():
    assert "PEDIATRIC" not in flag_codes(plan_for(pump_input(patient={"age_years": 4})))


def test_it_flags_a_daily_dose_above_2_mg_per_kg():
    plan = plan_for(oral_input(patient={"age_years": 10, "weight_kg": 14}))
    above = flag(plan, "PEDIATRIC_DOSE_ABOVE_RANGE")  # 30 mg / 14 kg = 2.14 mg/kg
    assert above.severity == "warning"
    assert "2.14 mg/kg" in above.message


def test_it_does_not_flag_exactly_2_mg_per_kg():
    plan = plan_for(oral_input(patient={"age_years": 10, "weight_kg": 15}))
    assert "PEDIATRIC_DOSE_ABOVE_RANGE" not in flag_codes(plan)


def test_it_flags_the_third_trimester_as_critical():
    plan = plan_for(oral_input(patient={"pregnancy_trimester": 3}))
    assert flag(plan, "PREGNANCY_THIRD_TRIMESTER").severity == "critical"
    assert "PREGNANCY" not in flag_codes(plan)


@pytest.mark.parametrize("trimester", [1, 2])
def test_it_flags_the_first_and_second_trimester_as_pregnancy_warnings(trimester):
    plan = plan_for(oral_input(patient={"pregnancy_trimester": trimester}))
    assert flag(plan, "PREGNANCY").severity == "warning"


def test_it_flags_breastfeeding_as_info():
    plan = plan_for(oral_input(patient={"breastfeeding": True}))
    breastfeeding = flag(plan, "BREASTFEEDING")
    assert breastfeeding.severity == "info"
    assert "sleepiness and poor feeding" in breastfeeding.message


def test_it_flags_cns_depressants_naming_each_one():
    plan = plan_for(oral_input(patient={"cns_depressants": ["opioid", "sleep_medication"]}))
    depressants = flag(plan, "CNS_DEPRESSANT")
    assert depressants.severity == "warning"
    assert "opioid, sleep medication" in depressants.message


def test_it_flags_a_seizure_history_as_a_warning():
    plan = plan_for(oral_input(patient={"seizure_history": True}))
    assert flag(plan, "SEIZURE_HISTORY").severity == "warning"


def test_it_lists_critical_flags_first():
    plan = plan_for(
        oral_input(
            patient={"age_years": 70, "creatinine_clearance_ml_min": 20, "breastfeeding": True}
        )
    )
    # 30 mg a day is above 80 mg × 1/3 for CrCl 20: ABOVE_RENAL_DOSE is critical too.
    assert [f.code for f in plan.flags] == [
        "ABOVE_RENAL_DOSE",
        "RENAL_SEVERE",
        "ELDERLY",
        "BREASTFEEDING",
    ]


def test_it_gives_every_flag_a_source_and_a_plain_message():
    def flagged(**patient: Any) -> Any:
        return plan_for(
            oral_input(
                doses=[{"time": "08:00", "amount_mg": 45}, {"time": "20:00", "amount_mg": 45}],
                patient={
                    "weight_kg": 40,
                    "months_on_therapy": 12,
                    "creatinine_clearance_ml_min": 20,
                    "breastfeeding": True,
                    "seizure_history": True,
                    "cns_depressants": ["alcohol"],
                    "dialysis": True,
                    **patient,
                },
                pace={"length_days": 7},
            )
        )

    # A pregnancy is not recorded past 60 (taper.limits): the elderly flag needs its own plan.
    elderly = flagged(age_years=70)
    pregnant = flagged(
        age_years=40, pregnancy_trimester=2, expected_delivery_date="2026-03-05"
    )
    assert flag_codes(elderly) | flag_codes(pregnant) == set(CODES) - {
        "INTRATHECAL_BOXED_WARNING",
        "ABRUPT_STOP",
        "PEDIATRIC",
        "RENAL_MODERATE",
        "RENAL_MILD",
        "PREGNANCY_THIRD_TRIMESTER",
        "PEDIATRIC_DOSE_ABOVE_RANGE",  # under 18 only (test_guardrails.py)
        "KIDNEY_FUNCTION_UNKNOWN",  # no kidney function recorded (test_guardrails.py)
        "LENGTHENED_TO_FIT",  # a custom pace the engine lengthens (test_guardrails.py)
        "REVISED",  # only a revision raises it (test_revise.py)
    }
    for raised in (*elderly.flags, *pregnant.flags):
        assert raised.source.strip()
        assert raised.message.endswith(".")
