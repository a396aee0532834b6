"""Missed-dose guidance: until when a forgotten dose may still be taken."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from taper.missed_dose import (
    DoseSlot,
    GuidancePeriod,
    NextDose,
    guidance_periods,
    missed_dose_guidance,
    next_dose,
)
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


# --- the next dose the advice names, and the advice of each step (issue #15) -----------

_DAY = date(2027, 3, 1)


def _slot(hour: int, minute: int = 0, *, open_: bool = True, day: date = _DAY) -> DoseSlot:
    at = datetime.combine(day, time(hour, minute), tzinfo=UTC)
    return DoseSlot(at, at + timedelta(hours=3), day, time(hour, minute), open_)


def test_the_next_dose_is_never_one_already_taken() -> None:
    missed = _slot(8)
    taken = _slot(13, 36, open_=False)
    later = _slot(20)
    now = datetime.combine(_DAY, time(13, 38), tzinfo=UTC)
    assert next_dose(missed.at, [taken, later], now, _DAY) == NextDose(time(20, 0), None)


def test_the_next_dose_is_never_one_whose_window_has_closed() -> None:
    missed = _slot(8)
    past = _slot(9)  # open until 12:00
    now = datetime.combine(_DAY, time(12, 30), tzinfo=UTC)
    assert next_dose(missed.at, [past, _slot(14)], now, _DAY) == NextDose(time(14, 0), None)


def test_a_next_dose_on_another_day_is_named_with_its_date() -> None:
    tomorrow = _DAY + timedelta(days=1)
    now = datetime.combine(_DAY, time(21, 0), tzinfo=UTC)
    upcoming = next_dose(_slot(14).at, [_slot(20, open_=False), _slot(8, day=tomorrow)], now, _DAY)
    assert upcoming == NextDose(time(8, 0), tomorrow)


def test_no_next_dose_when_the_plan_has_none_left() -> None:
    now = datetime.combine(_DAY, time(21, 0), tzinfo=UTC)
    assert next_dose(_slot(14).at, [_slot(20, open_=False)], now, _DAY) == NextDose(None, None)


def test_guidance_periods_follow_the_steps_and_merge_equal_advice() -> None:
    first, second = ("08:00 until 11:00",), ("08:00 until 14:00",)
    steps = [
        (_DAY, _DAY + timedelta(days=2), first),
        (_DAY + timedelta(days=3), _DAY + timedelta(days=5), first),
        (_DAY + timedelta(days=6), _DAY + timedelta(days=9), second),
    ]
    assert guidance_periods(steps) == [
        GuidancePeriod(_DAY, _DAY + timedelta(days=5), first),
        GuidancePeriod(_DAY + timedelta(days=6), _DAY + timedelta(days=9), second),
    ]
