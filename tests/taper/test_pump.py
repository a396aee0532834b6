"""Intrathecal pump: alarm and empty dates, refill reminders, clinician wean visits."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import taper
from tests.support.taper import errors_for, plan_for, pump_input

REFILL_20 = {"refilled": True, "refill_volume_ml": 20}


def test_it_computes_days_to_alarm_from_the_volume_above_the_alarm():
    plan = plan_for(pump_input())
    # (20 − 2) mL × 500 mcg/mL / 100 mcg a day = 90 days; empty after 20 × 500 / 100 = 100.
    (refill,) = plan.refills
    assert refill.filled_on == date(2026, 3, 1)
    assert refill.alarm_date == date(2026, 5, 30)
    assert refill.empty_date == date(2026, 6, 9)


def test_it_rounds_days_to_alarm_down_to_whole_days():
    plan = plan_for(pump_input(pump={"daily_dose_mcg": 110}))
    # 9000 / 110 = 81.8 → 81 days; 10000 / 110 = 90.9 → 90 days.
    (refill,) = plan.refills
    assert refill.alarm_date == date(2026, 5, 21)
    assert refill.empty_date == date(2026, 5, 30)


def test_it_reminds_14_7_and_2_days_before_the_alarm():
    (refill,) = plan_for(pump_input()).refills
    assert refill.reminder_dates == (date(2026, 5, 16), date(2026, 5, 23), date(2026, 5, 28))


def test_it_keeps_only_reminders_on_or_after_the_refill_and_the_start_date():
    # 18 mL × 50 mcg/mL / 100 = 9 days: 14 days before is before the refill.
    plan = plan_for(pump_input(pump={"concentration_mcg_per_ml": 50}))
    (refill,) = plan.refills
    assert refill.alarm_date == date(2026, 3, 10)
    assert refill.reminder_dates == (date(2026, 3, 3), date(2026, 3, 8))


def test_it_reprograms_and_refills_the_pump_at_each_wean_visit():
    plan = plan_for(
        pump_input(
            pump={
                "wean_steps": [
                    {"visit_date": "2026-04-01", "daily_dose_mcg": 80, **REFILL_20},
                    {"visit_date": "2026-05-01", "daily_dose_mcg": 60, **REFILL_20},
                ]
            }
        )
    )
    # Each visit comes before the alarm of the fill before it: only the last fill is listed.
    (refill,) = plan.refills
    assert refill.filled_on == date(2026, 5, 1)
    assert refill.daily_dose_mcg == 60
    assert refill.alarm_date == date(2026, 9, 28)  # 9000 / 60 = 150 days
    assert plan.end_date == date(2026, 5, 1)
    assert plan.duration_days == 60
    assert [step.daily_dose_mcg for step in plan.wean_steps] == [80, 60]


def test_it_repeats_refills_within_a_long_period_between_visits():
    plan = plan_for(
        pump_input(
            pump={"wean_steps": [{"visit_date": "2026-10-01", "daily_dose_mcg": 90, **REFILL_20}]}
        )
    )
    assert [(r.filled_on, r.alarm_date) for r in plan.refills] == [
        (date(2026, 3, 1), date(2026, 5, 30)),
        (date(2026, 5, 30), date(2026, 8, 28)),
        (date(2026, 10, 1), date(2027, 1, 9)),  # 9000 / 90 = 100 days
    ]


def test_a_visit_that_only_reprograms_leaves_the_reservoir_as_it_was():
    """Same pump, the 2026-10-01 visit reprograms to 90 without a refill. Refills
    assumed on 05-30 and 08-28 as above; from 08-28: 34 days to 10-01 at 100 = 3400 of
    9000 usable mcg, the 5600 left at 90 a day last 62.2 → 62 days: alarm 12-02 (not
    01-09, which assumed a fresh fill on 10-01). Empty: 10000 − 3400 = 6600 / 90 = 73.3
    → 73 days: 12-13."""
    plan = plan_for(
        pump_input(pump={"wean_steps": [{"visit_date": "2026-10-01", "daily_dose_mcg": 90}]})
    )
    assert [(r.filled_on, r.alarm_date, r.empty_date) for r in plan.refills] == [
        (date(2026, 3, 1), date(2026, 5, 30), date(2026, 6, 9)),
        (date(2026, 5, 30), date(2026, 8, 28), date(2026, 9, 7)),
        (date(2026, 8, 28), date(2026, 12, 2), date(2026, 12, 13)),
    ]


def test_it_leaves_oral_parts_of_an_intrathecal_plan_empty():
    plan = plan_for(pump_input())
    assert plan.steps == ()
    assert plan.dose_events == ()
    assert plan.missed_dose == ()
    assert plan.dispense == ()
    assert plan.duration_days == 0
    assert plan.end_date == plan.start_date


def test_it_refuses_an_alarm_volume_at_or_above_the_reservoir():
    errors = errors_for(pump_input(pump={"alarm_volume_ml": 20}))
    assert list(errors) == ["pump.alarm_volume_ml"]


def test_it_refuses_a_concentration_the_product_does_not_come_in():
    errors = errors_for(pump_input(pump={"concentration_mcg_per_ml": 750}))
    assert errors == {
        "pump.concentration_mcg_per_ml": [
            "750 mcg/mL is not a concentration of Baclofen intrathecal solution (pump); "
            "choose 50, 500, 1000, 2000 mcg/mL."
        ]
    }


def test_it_refuses_non_positive_pump_numbers():
    errors = errors_for(
        pump_input(pump={"daily_dose_mcg": 0, "reservoir_ml": -1, "alarm_volume_ml": 0})
    )
    assert set(errors) == {"pump.daily_dose_mcg", "pump.reservoir_ml", "pump.alarm_volume_ml"}


def test_it_refuses_a_wean_step_that_does_not_lower_the_dose():
    errors = errors_for(
        pump_input(pump={"wean_steps": [{"visit_date": "2026-04-01", "daily_dose_mcg": 100}]})
    )
    assert list(errors) == ["pump.wean_steps.0.daily_dose_mcg"]


def test_it_refuses_wean_visits_out_of_order_or_before_the_last_refill():
    errors = errors_for(
        pump_input(
            pump={
                "last_refill_date": "2026-03-01",
                "wean_steps": [
                    {"visit_date": "2026-02-20", "daily_dose_mcg": 90},
                    {"visit_date": "2026-04-01", "daily_dose_mcg": 80},
                    {"visit_date": "2026-03-15", "daily_dose_mcg": 70},
                ],
            }
        )
    )
    assert list(errors) == ["pump.wean_steps.0.visit_date", "pump.wean_steps.2.visit_date"]


def test_it_refuses_a_pump_that_already_reached_its_alarm_before_the_start():
    errors = errors_for(pump_input(pump={"last_refill_date": "2025-10-01"}))
    assert list(errors) == ["pump.last_refill_date"]
    assert "2025-12-30" in errors["pump.last_refill_date"][0]


def test_it_refuses_oral_fields_on_a_pump_plan():
    errors = errors_for(pump_input(goal={"type": "discontinue"}, doses=[]))
    assert set(errors) == {"goal", "doses"}


# --- Issue 21: drug use per period, refills recorded, concentration, limits ----------

# The pump: 2000 mcg/mL in a 40 mL reservoir, alarm at 2 mL, 800 mcg a day,
# filled on 2027-02-20: (40 − 2) × 2000 = 76000 mcg above the alarm, 80000 in all.
BIG_PUMP = {
    "concentration_mcg_per_ml": 2000,
    "daily_dose_mcg": 800,
    "reservoir_ml": 40,
    "alarm_volume_ml": 2,
    "last_refill_date": "2027-02-20",
}


def big_pump_plan(wean_steps: list[dict[str, Any]], **pump: Any) -> taper.TaperPlan:
    return plan_for(
        pump_input(pump={**BIG_PUMP, **pump, "wean_steps": wean_steps}, start_date="2027-02-20")
    )


def test_reprogram_only_visits_use_the_drug_at_each_periods_rate():
    """800 → 640 → 480 → 320 → 160 mcg a day at visits every 28 days, none refilling.
    Used above the alarm: 02-20 → 03-20 28 × 800 = 22400 (53600 left); → 04-17 28 × 640
    = 17920 (35680); → 05-15 28 × 480 = 13440 (22240); → 06-12 28 × 320 = 8960 (13280);
    then 13280 / 160 = 83 days: alarm 2027-09-03 (the old arithmetic, a fresh fill at
    every visit, said 06-12 + 76000 / 160 = 475 days). Empty: 80000 − 62720 = 17280 /
    160 = 108 days: 2027-09-28. Due: the earlier of the alarm and 02-20 + 180 days =
    2027-08-19 (protocol maximum interval); reminders 14, 7, 2 days before it."""
    plan = big_pump_plan(
        [
            {"visit_date": "2027-03-20", "daily_dose_mcg": 640},
            {"visit_date": "2027-04-17", "daily_dose_mcg": 480},
            {"visit_date": "2027-05-15", "daily_dose_mcg": 320},
            {"visit_date": "2027-06-12", "daily_dose_mcg": 160},
        ]
    )
    (refill,) = plan.refills
    assert refill.filled_on == date(2027, 2, 20)
    assert refill.alarm_date == date(2027, 9, 3)
    assert refill.empty_date == date(2027, 9, 28)
    assert refill.due_date == date(2027, 8, 19)
    assert refill.reminder_dates == (date(2027, 8, 5), date(2027, 8, 12), date(2027, 8, 17))


def test_a_refilling_visit_starts_a_new_fill_and_a_reprogram_only_one_does_not():
    """800 a day from 02-20: alarm 76000 / 800 = 95 days, 2027-05-26. The 04-17 visit
    (→ 640) refills 40 mL before that, so the first fill needs no refill of its own. From
    04-17: 56 days to 06-12 at 640 = 35840 of 76000; the 06-12 visit (→ 480) only
    reprograms; 40160 / 480 = 83.7 → 83 days: alarm 2027-09-03. Empty: 80000 − 35840 =
    44160 / 480 = 92 days: 2027-09-12. 04-17 + 180 = 2027-10-14 is later: due on the
    alarm date."""
    plan = big_pump_plan(
        [
            {
                "visit_date": "2027-04-17",
                "daily_dose_mcg": 640,
                "refilled": True,
                "refill_volume_ml": 40,
            },
            {"visit_date": "2027-06-12", "daily_dose_mcg": 480},
        ]
    )
    (refill,) = plan.refills
    assert refill.filled_on == date(2027, 4, 17)
    assert refill.daily_dose_mcg == 640
    assert refill.volume_ml == 40
    assert refill.alarm_date == date(2027, 9, 3)
    assert refill.empty_date == date(2027, 9, 12)
    assert refill.due_date == date(2027, 9, 3)


def test_a_slow_pump_is_due_at_the_protocols_maximum_interval_not_its_alarm():
    """100 mcg a day of 2000 mcg/mL in 40 mL: 76000 / 100 = 760 days to the alarm
    (2029-03-21). The protocol's maximum interval (180 days, clinic default) makes the
    refill due 2027-08-19, reminders 08-05, 08-12, 08-17."""
    plan = big_pump_plan([], daily_dose_mcg=100)
    (refill,) = plan.refills
    assert refill.alarm_date == date(2029, 3, 21)
    assert refill.due_date == date(2027, 8, 19)
    assert refill.reminder_dates == (date(2027, 8, 5), date(2027, 8, 12), date(2027, 8, 17))


def test_a_recorded_refill_with_a_new_concentration_recomputes_the_dates_from_that_fill():
    """Recorded on 2027-03-01: 20 mL of 1000 mcg/mL. 800 a day until the 03-10 visit
    (→ 640, reprogram only): 9 × 800 = 7200 of (20 − 2) × 1000 = 18000 above the alarm;
    10800 / 640 = 16.9 → 16 days: alarm 2027-03-26. Empty: 20000 − 7200 = 12800 / 640 =
    20 days: 2027-03-30. Due on the alarm (03-01 + 180 is later); reminders 14, 7 and 2
    days before: 03-12, 03-19, 03-24. No later visit: one refill listed."""
    plan = big_pump_plan([{"visit_date": "2027-03-10", "daily_dose_mcg": 640}])
    pump = plan.pump
    assert pump is not None
    (refill,) = taper.pump.refill_schedule(
        pump,
        start_date=date(2027, 2, 20),
        reminder_days_before=(14, 7, 2),
        fills=(taper.pump.Fill(date(2027, 3, 1), Decimal(20), Decimal(1000)),),
        max_interval_days=180,
    )
    assert refill.filled_on == date(2027, 3, 1)
    assert refill.concentration_mcg_per_ml == 1000
    assert refill.alarm_date == date(2027, 3, 26)
    assert refill.empty_date == date(2027, 3, 30)
    assert refill.due_date == date(2027, 3, 26)
    assert refill.reminder_dates == (date(2027, 3, 12), date(2027, 3, 19), date(2027, 3, 24))


def test_a_recorded_refill_replaces_a_planned_refill_of_the_same_day_and_earlier_fills():
    """Visit 04-17 refills 40 mL (planned); the clinic records 30 mL on that day instead:
    (30 − 2) × 2000 = 56000 / 640 = 87.5 → 87 days: alarm 2027-07-13."""
    plan = big_pump_plan(
        [
            {
                "visit_date": "2027-04-17",
                "daily_dose_mcg": 640,
                **{"refilled": True, "refill_volume_ml": 40},
            }
        ]
    )
    assert plan.pump is not None
    (refill,) = taper.pump.refill_schedule(
        plan.pump,
        start_date=date(2027, 2, 20),
        reminder_days_before=(14, 7, 2),
        fills=(taper.pump.Fill(date(2027, 4, 17), Decimal(30), Decimal(2000)),),
        max_interval_days=180,
    )
    assert (refill.filled_on, refill.volume_ml, refill.alarm_date) == (
        date(2027, 4, 17),
        30,
        date(2027, 7, 13),
    )


@settings(max_examples=60, deadline=None)
@given(
    dose=st.integers(min_value=20, max_value=1000),
    volume=st.sampled_from([20, 40]),
    cuts=st.lists(st.integers(min_value=1, max_value=19), min_size=0, max_size=5),
    gaps=st.lists(st.integers(min_value=7, max_value=120), min_size=5, max_size=5),
    refills=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_no_day_between_fills_goes_without_the_pumps_dose(dose, volume, cuts, gaps, refills):
    """Whatever the visits, following the reservoir day by day through the fills the
    schedule plans (each listed fill, a refill on each listed due date, each refilling
    visit), every day up to the last due date starts with at least that day's dose above
    the alarm volume: no day of the pump's dose is left unaccounted for."""
    level, day, steps = Decimal(dose), date(2027, 2, 20), []
    for cut, gap, refilled in zip(cuts, gaps, refills, strict=False):
        level = (level * (100 - cut) / 100).quantize(Decimal(1))
        if level < 1:
            break
        day += timedelta(days=gap)
        step = {"visit_date": day.isoformat(), "daily_dose_mcg": int(level)}
        if refilled:
            step.update(refilled=True, refill_volume_ml=volume)
        steps.append(step)
    try:
        plan = big_pump_plan(steps, daily_dose_mcg=dose, reservoir_ml=volume)
    except taper.InvalidPlanInput:
        return  # refused with a named field: nothing planned
    pump = plan.pump
    assert pump is not None
    concentration = pump.concentration_mcg_per_ml
    fills = {r.due_date: pump.reservoir_ml for r in plan.refills}
    fills.update(
        {
            s.visit_date: s.refill_volume_ml or pump.reservoir_ml
            for s in pump.wean_steps
            if s.refilled
        }
    )
    fills.update({r.filled_on: r.volume_ml for r in plan.refills})
    fills[pump.last_refill_date] = pump.reservoir_ml
    day, last = pump.last_refill_date, plan.refills[-1].due_date
    usable = Decimal(0)
    while day < last:
        if day in fills:
            usable = (fills[day] - pump.alarm_volume_ml) * concentration
        assert usable >= pump.dose_on(day), f"{day}: {usable} mcg above the alarm"
        usable -= pump.dose_on(day)
        day += timedelta(days=1)
    for refill in plan.refills:
        assert refill.due_date <= refill.alarm_date < refill.empty_date


def test_a_wean_visit_cutting_more_than_the_protocols_limit_needs_review():
    """400 → 50 mcg a day at one visit is an 87.5 % cut; the protocol allows 20 % (clinic
    default): STEP_TOO_LARGE, with the cut named, and review."""
    plan = big_pump_plan([{"visit_date": "2027-03-20", "daily_dose_mcg": 50}], daily_dose_mcg=400)
    (flag,) = [flag for flag in plan.flags if flag.code == "STEP_TOO_LARGE"]
    assert "400 → 50 mcg a day on 2027-03-20 (87.5 %)" in flag.message
    assert "clinic default" in flag.source
    assert plan.requires_review


def test_a_wean_visit_within_the_limit_raises_no_step_flag():
    plan = big_pump_plan([{"visit_date": "2027-03-20", "daily_dose_mcg": 320}], daily_dose_mcg=400)
    assert "STEP_TOO_LARGE" not in [flag.code for flag in plan.flags]


def test_a_refilling_visit_needs_a_volume_that_fits_and_a_reprogram_only_one_has_none():
    errors = errors_for(
        pump_input(
            pump={
                "wean_steps": [
                    {"visit_date": "2026-04-01", "daily_dose_mcg": 90, "refilled": True},
                    {"visit_date": "2026-05-01", "daily_dose_mcg": 80, "refill_volume_ml": 5},
                ]
            }
        )
    )
    assert errors["pump.wean_steps.0.refill_volume_ml"] == ["Enter the refill volume."]
    assert "reprograms" in errors["pump.wean_steps.1.refill_volume_ml"][0]
    too_much = {"visit_date": "2026-06-01", "daily_dose_mcg": 70, "refilled": True}
    errors = errors_for(pump_input(pump={"wean_steps": [{**too_much, "refill_volume_ml": 25}]}))
    assert errors["pump.wean_steps.0.refill_volume_ml"] == ["The pump holds at most 20 mL."]


def test_version_1_of_the_pump_protocol_stays_loadable_without_the_new_limits():
    catalogue = taper.load_catalogue()
    product = catalogue.product("baclofen-intrathecal")
    assert product is not None
    old = catalogue.protocol_for(product, "1")
    new = catalogue.protocol_for(product, "2")
    assert isinstance(old, taper.IntrathecalProtocol)
    assert isinstance(new, taper.IntrathecalProtocol)
    assert old.max_wean_cut_percent is None
    assert old.max_refill_interval_days is None
    assert new.max_refill_interval_days is not None
    assert new.max_refill_interval_days.value == 180
    assert new.max_refill_interval_days.source == "clinic default"
