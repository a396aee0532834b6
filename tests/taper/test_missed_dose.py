"""Missed-dose guidance: until when a forgotten dose may still be taken."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from taper.missed_dose import missed_dose_guidance
from tests.support.taper import oral_input, plan_for

HALF = Decimal("0.5")


def test_it_tells_the_patient_to_take_a_missed_dose_until_halfway_to_the_next():
    morning, evening = missed_dose_guidance((time(8), time(20)), HALF)
    assert morning.take_until == time(14)
    assert morning.text == (
        "If you miss the 08:00 dose, take it as soon as you remember, up to 14:00. "
        "After 14:00, skip it and take the 20:00 dose as usual. Never take two doses at once."
    )
    assert evening.take_until == time(2)
    assert evening.take_until_next_day
    assert "up to 02:00 the next day" in evening.text


def test_it_gives_a_single_daily_dose_twelve_hours_to_catch_up():
    (only,) = missed_dose_guidance((time(9),), HALF)
    assert only.take_until == time(21)
    assert not only.take_until_next_day
    assert "take the 09:00 dose the next day as usual" in only.text


def test_it_rounds_an_odd_half_interval_down_to_the_minute():
    first, _ = missed_dose_guidance((time(8), time(8, 1)), HALF)
    assert first.take_until == time(8)


def test_it_lists_guidance_for_every_dose_time_of_the_first_step():
    plan = plan_for(oral_input())
    assert [f"{g.time:%H:%M}" for g in plan.missed_dose] == ["08:00", "14:00", "20:00"]
    assert [f"{g.take_until:%H:%M}" for g in plan.missed_dose] == ["11:00", "17:00", "02:00"]


def test_it_updates_guidance_when_a_dose_time_drops_out():
    plan = plan_for(oral_input())
    assert [f"{g.take_until:%H:%M}" for g in plan.steps[1].missed_dose] == ["14:00", "02:00"]
