"""Steps, the split of a day's total across dose times, and dose events on the wall clock."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import taper
from taper.levels import linear_levels, proportional_levels
from taper.request import DoseRole
from taper.schedule import split_daily_total
from tests.support.taper import oral_input, plan_for

D = Decimal


def amounts_by_time(step: taper.Step) -> dict[str, Decimal]:
    return {f"{dose.time:%H:%M}": dose.amount_mg for dose in step.doses}


def test_it_shares_a_linear_taper_into_whole_tablet_cuts_the_larger_ones_first():
    # 30 mg = 12 units of 2.5 mg in 5 cuts (4 steps and the stop): 3, 3, 2, 2, 2 units.
    assert linear_levels(D(30), D("2.5"), 4, None) == (D("22.5"), D(15), D(10), D(5))


def test_it_shares_oral_solution_cuts_in_half_millilitres_the_larger_ones_first():
    # 9 mg = 18 units of 0.5 mg in 5 cuts: 4, 4, 4, 3, 3 units = 2, 2, 2, 1.5, 1.5 mg.
    assert linear_levels(D(9), D("0.5"), 4, None) == (D(7), D(5), D(3), D("1.5"))


def test_it_cuts_a_percentage_of_the_current_dose_in_a_proportional_taper():
    # 50 %: 40 → 20 → 10 → 5 → 2.5 (one dose step), then the stop.
    assert proportional_levels(D(40), D("2.5"), D(50), None) == (D(20), D(10), D(5), D("2.5"))


def test_it_never_cuts_less_than_one_dose_step_in_a_proportional_taper():
    # 10 % of 10 mg is 1 mg, which rounds to 0 units of 2.5 mg: the cut is one unit.
    assert proportional_levels(D(10), D("2.5"), D(10), None) == (D("7.5"), D(5), D("2.5"))


def test_it_makes_no_more_cuts_than_there_are_dose_steps():
    # 5 mg is 2 units: one step of 2.5 mg, then the stop.
    assert linear_levels(D(5), D("2.5"), 4, None) == (D("2.5"),)


def test_it_holds_a_dose_that_is_already_the_smallest_measurable_then_stops():
    assert linear_levels(D("2.5"), D("2.5"), 4, None) == (D("2.5"),)


def test_it_keeps_the_full_length_when_levels_merge():
    plan = plan_for(
        oral_input(doses=[{"time": "08:00", "amount_mg": 2.5}, {"time": "20:00", "amount_mg": 2.5}])
    )
    assert [(step.daily_total_mg, step.days) for step in plan.steps] == [(D("2.5"), 14)]
    assert plan.duration_days == 14


def test_it_gives_spare_days_to_the_later_steps():
    plan = plan_for(oral_input())
    assert [step.days for step in plan.steps] == [3, 3, 4, 4]


def test_it_cuts_midday_doses_first_then_the_morning_and_the_bedtime_dose_last():
    plan = plan_for(oral_input())
    assert [amounts_by_time(step) for step in plan.steps] == [
        {"08:00": 10, "14:00": D("2.5"), "20:00": 10},
        {"08:00": 5, "20:00": 10},
        {"20:00": 10},
        {"20:00": 5},
    ]


def test_it_cuts_the_largest_midday_dose_first_and_the_earlier_one_on_a_tie():
    previous: tuple[tuple[time, Decimal, DoseRole], ...] = (
        (time(8), D(10), "morning"),
        (time(12), D(10), "midday"),
        (time(16), D(10), "midday"),
        (time(20), D(10), "bedtime"),
    )
    assert split_daily_total(previous, D(35), D("2.5")) == (
        (time(8), D(10), "morning"),
        (time(12), D("7.5"), "midday"),
        (time(16), D("7.5"), "midday"),
        (time(20), D(10), "bedtime"),
    )


def test_it_never_brings_back_a_dose_time_that_reached_zero():
    plan = plan_for(oral_input())
    times = [set(amounts_by_time(step)) for step in plan.steps]
    assert all(later <= earlier for earlier, later in pairwise(times))


def test_it_counts_the_taper_from_the_start_date_to_the_last_dosing_day_inclusive():
    plan = plan_for(oral_input())
    assert plan.steps[0].start_date == date(2026, 3, 2)
    assert plan.dose_events[0].local_date == date(2026, 3, 2)
    assert plan.dose_events[-1].local_date == plan.end_date == date(2026, 3, 15)
    assert (plan.end_date - plan.start_date).days + 1 == plan.duration_days


def test_it_ends_a_reduce_plan_exactly_at_the_target():
    plan = plan_for(oral_input(goal={"type": "reduce", "target_daily_mg": 12.5}))
    assert plan.steps[-1].daily_total_mg == D("12.5")
    last_day = [e for e in plan.dose_events if e.local_date == plan.end_date]
    assert sum(event.amount_mg for event in last_day) == D("12.5")


def test_it_keeps_08_00_at_08_00_across_the_new_york_spring_forward():
    plan = plan_for(
        oral_input(
            timezone="America/New_York",
            start_date="2026-03-06",
            doses=[{"time": "08:00", "amount_mg": 10}],
        )
    )
    around = {e.local_date: e.at for e in plan.dose_events if e.local_date.day in (7, 8, 9)}
    assert [at.strftime("%H:%M") for at in around.values()] == ["08:00", "08:00", "08:00"]
    assert around[date(2026, 3, 7)].utcoffset().total_seconds() == -5 * 3600
    assert around[date(2026, 3, 8)].utcoffset().total_seconds() == -4 * 3600


def test_it_keeps_08_00_at_08_00_across_the_berlin_fall_back():
    plan = plan_for(
        oral_input(
            timezone="Europe/Berlin",
            start_date="2026-10-20",
            doses=[{"time": "08:00", "amount_mg": 10}],
        )
    )
    around = {e.local_date: e.at for e in plan.dose_events if e.local_date.day in (24, 25)}
    assert [at.strftime("%H:%M") for at in around.values()] == ["08:00", "08:00"]
    assert around[date(2026, 10, 24)].utcoffset().total_seconds() == 2 * 3600
    assert around[date(2026, 10, 25)].utcoffset().total_seconds() == 1 * 3600
    assert all(e.timezone == "Europe/Berlin" for e in plan.dose_events)


def test_it_moves_a_dose_time_that_does_not_exist_on_spring_forward_night_one_hour_later():
    plan = plan_for(
        oral_input(
            timezone="America/New_York",
            start_date="2026-03-07",
            doses=[{"time": "02:30", "amount_mg": 10}],
        )
    )
    gap = next(e for e in plan.dose_events if e.local_date == date(2026, 3, 8))
    assert gap.local_time == time(2, 30)
    assert gap.slot == "02:30"
    assert gap.at == datetime(2026, 3, 8, 3, 30, tzinfo=ZoneInfo("America/New_York"))
    assert gap.at.utcoffset().total_seconds() == -4 * 3600


def test_it_takes_the_first_occurrence_of_an_ambiguous_time_on_fall_back_night():
    plan = plan_for(
        oral_input(
            timezone="America/New_York",
            start_date="2026-10-30",
            doses=[{"time": "01:30", "amount_mg": 10}],
        )
    )
    twice = next(e for e in plan.dose_events if e.local_date == date(2026, 11, 1))
    assert twice.at.strftime("%H:%M") == "01:30"
    assert twice.at.utcoffset().total_seconds() == -4 * 3600  # still daylight time


def test_it_puts_each_catch_up_window_halfway_to_the_actual_next_dose():
    plan = plan_for(oral_input())
    first, second = plan.dose_events[0], plan.dose_events[1]
    assert first.catch_up_until.strftime("%H:%M") == "11:00"  # 08:00 → 14:00
    assert second.catch_up_until.strftime("%H:%M") == "17:00"  # 14:00 → 20:00
    # Step 2 drops 14:00: the 08:00 dose now has until 14:00.
    step_two = next(e for e in plan.dose_events if e.step_index == 1)
    assert step_two.catch_up_until.strftime("%H:%M") == "14:00"


def test_it_gives_the_last_dose_of_the_plan_half_its_usual_interval():
    plan = plan_for(oral_input())
    last = plan.dose_events[-1]
    assert (last.local_date, f"{last.local_time:%H:%M}") == (date(2026, 3, 15), "20:00")
    assert last.catch_up_until == datetime(2026, 3, 16, 8, 0, tzinfo=ZoneInfo("Europe/London"))


def test_it_measures_the_catch_up_window_in_elapsed_time_across_a_clock_change():
    plan = plan_for(
        oral_input(
            timezone="America/New_York",
            start_date="2026-03-06",
            doses=[{"time": "08:00", "amount_mg": 10}, {"time": "20:00", "amount_mg": 10}],
        )
    )
    evening = next(
        e for e in plan.dose_events if e.local_date == date(2026, 3, 7) and e.slot == "20:00"
    )
    # Only 11 hours pass until 08:00: half of it is 5 h 30 min, so 01:30.
    assert evening.catch_up_until.strftime("%Y-%m-%d %H:%M") == "2026-03-08 01:30"
