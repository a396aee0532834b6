"""The plan as JSON for the API and as a text table for the handout and the CLI."""

from __future__ import annotations

import json

import taper
from tests.support.taper import oral_input, plan_for, pump_input


def test_it_renders_an_oral_plan_as_a_table_with_one_column_per_dose_time():
    text = taper.plan_to_text(plan_for(oral_input()))
    lines = text.splitlines()
    assert lines[0] == "Baclofen tablets: stop from 30 mg a day over 14 days"
    header = next(line for line in lines if line.startswith("Step"))
    assert header.split() == [
        "Step",
        "Dates",
        "Daily",
        "08:00",
        "morning",
        "14:00",
        "midday",
        "20:00",
        "bedtime",
    ]
    assert any(
        line.startswith("4 ") and "5 mg (1 × 5 mg)" in line and line.count("—") == 2
        for line in lines
    )
    assert "After 2026-03-15: no more doses." in lines
    assert "  9 × 5 mg tablets" in lines
    assert "Reviewer approval: not required." in lines
    assert lines[-1] == taper.DISCLAIMER


def test_it_tells_a_reduce_plan_patient_to_stay_on_the_target():
    text = taper.plan_to_text(plan_for(oral_input(goal={"type": "reduce", "target_daily_mg": 10})))
    assert "After 2026-03-13: stay on 10 mg a day" in text


def test_it_lists_flags_with_their_sources_and_the_review_requirement():
    text = taper.plan_to_text(plan_for(oral_input(patient={"creatinine_clearance_ml_min": 20})))
    assert "[CRITICAL] RENAL_SEVERE: Creatinine clearance 20 mL/min (entered)" in text
    assert "Source: baclofen monograph, Renal" in text
    assert "Reviewer approval: REQUIRED before the plan can start." in text


def test_it_renders_a_pump_plan_with_refills_and_wean_visits():
    plan = plan_for(
        pump_input(
            pump={
                "wean_steps": [
                    {
                        "visit_date": "2026-04-01",
                        "daily_dose_mcg": 80,
                        "refilled": True,
                        "refill_volume_ml": 20,
                    }
                ]
            }
        )
    )
    text = taper.plan_to_text(plan)
    assert "2026-04-01: reprogram to 80 mcg a day and refill 20 mL" in text
    assert "refill due 2026-07-22" in text
    assert "alarm 2026-07-22" in text  # 9000 / 80 = 112.5 → 112 days after 2026-04-01
    assert "INTRATHECAL_BOXED_WARNING" in text


def test_it_writes_whole_numbers_as_integers_and_others_as_decimals_in_json():
    data = taper.plan_to_json(plan_for(oral_input()))
    first = data["steps"][0]
    assert first["daily_total_mg"] == 22.5
    assert isinstance(first["daily_total_mg"], float)
    second = data["steps"][1]["doses"][0]
    assert second["amount_mg"] == 5
    assert isinstance(second["amount_mg"], int)
    assert second["units"] == [{"strength_mg": 5, "count": 1}]
    assert data["dose_events"][0] == {
        "date": "2026-03-02",
        "time": "08:00",
        "role": "morning",
        "amount_mg": 10,
        "step": 0,
        "at": "2026-03-02T08:00+00:00",
        "catch_up_until": "2026-03-02T11:00+00:00",
    }
    json.dumps(data)


def test_it_gives_oral_and_pump_plans_their_own_keys():
    oral = taper.plan_to_json(plan_for(oral_input()))
    pump = taper.plan_to_json(plan_for(pump_input()))
    assert not {"pump", "refills", "wean_steps"} & set(oral)
    assert {"pump", "refills", "wean_steps"} <= set(pump)
    assert pump["pump"]["days_to_alarm"] == 90
    assert (pump["steps"], pump["dose_events"], pump["dispense"]) == ([], [], [])


def test_it_says_stop_now_and_one_day_in_plain_words():
    stop_now = taper.plan_to_text(
        plan_for(oral_input(pace={"length_days": 0}, abrupt_stop_reason="anaphylaxis"))
    )
    assert stop_now.splitlines()[0] == (
        "Baclofen tablets: stop 30 mg a day now, with no further doses (an abrupt stop)"
    )
    assert "over 0 days" not in stop_now
    assert "Stop now: no further doses from 2026-03-02." in stop_now
    one_day = taper.plan_to_text(
        plan_for(oral_input(pace={"length_days": 1}, abrupt_stop_reason="anaphylaxis"))
    )
    assert one_day.splitlines()[0] == "Baclofen tablets: stop from 30 mg a day over 1 day"
    assert "1 days" not in one_day
    assert "the taper is longer" not in one_day
