"""The golden plans of issue #22's drug classes, number by number (golden/README.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import taper

GOLDEN = Path(__file__).parent / "golden"
D = Decimal


def golden(name: str) -> taper.TaperPlan:
    data = json.loads((GOLDEN / f"{name}.input.json").read_text())
    return taper.plan(taper.parse_request(data))


def codes(plan: taper.TaperPlan) -> list[str]:
    return [flag.code for flag in plan.flags]


def test_clonazepam_after_five_years_steps_one_unit_every_four_weeks():
    plan = golden("benzodiazepine-clonazepam-five-years")
    assert [s.daily_total_mg for s in plan.steps] == [
        D("1.75"),
        D("1.5"),
        D("1.25"),
        D(1),
        D("0.75"),
        D("0.5"),
        D("0.25"),
    ]
    assert plan.step_interval_days == 28
    assert plan.duration_days == 196
    assert plan.largest_cut_mg == D("0.25")
    assert [dose.amount_mg for dose in plan.steps[0].doses] == [D("0.75"), D(1)]
    assert codes(plan) == ["STEP_TOO_LARGE", "BENZODIAZEPINE_BOXED_WARNING", "LONG_TERM_USE"]
    message = plan.flags[0].message
    assert "0.75 → 0.5 mg a day" in message
    assert "0.5 → 0.25 mg a day" in message
    assert plan.requires_review


def test_gabapentin_at_crcl_25_is_above_the_label_band_and_tapers_over_eight_weeks():
    plan = golden("gabapentinoid-gabapentin-renal-25")
    assert [s.daily_total_mg for s in plan.steps] == [1500, 1200, 900, 600, 300]
    assert [s.days for s in plan.steps] == [11, 11, 11, 11, 12]
    assert plan.duration_days == 56
    assert codes(plan) == [
        "ABOVE_RENAL_DOSE",
        "RENAL_SEVERE",
        "RENAL_DOSE_TIMES",
        "HIGH_DOSE",
        "LONG_TERM_USE",
    ]
    assert "maximum of 700 mg a day" in plan.flags[0].message
    assert plan.flags[0].severity == "critical"
    assert [
        (s.strength_mg, s.count) for s in plan.dispense if isinstance(s, taper.TabletSupply)
    ] == [(D(600), 83)]


def test_zolpidem_for_an_older_adult_stops_from_the_lowest_tablet_after_two_weeks():
    plan = golden("z-drug-zolpidem-elderly")
    assert [s.daily_total_mg for s in plan.steps] == [5]
    assert plan.duration_days == 14
    assert codes(plan) == ["ELDERLY", "COMPLEX_SLEEP_BEHAVIOR", "LONG_TERM_USE"]
    assert not plan.requires_review
