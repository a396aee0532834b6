"""Intrathecal pump: alarm and empty dates, refill reminders, clinician wean visits."""

from __future__ import annotations

from datetime import date

from tests.support.taper import errors_for, plan_for, pump_input


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
                    {"visit_date": "2026-04-01", "daily_dose_mcg": 80},
                    {"visit_date": "2026-05-01", "daily_dose_mcg": 60},
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
        pump_input(pump={"wean_steps": [{"visit_date": "2026-10-01", "daily_dose_mcg": 90}]})
    )
    assert [(r.filled_on, r.alarm_date) for r in plan.refills] == [
        (date(2026, 3, 1), date(2026, 5, 30)),
        (date(2026, 5, 30), date(2026, 8, 28)),
        (date(2026, 10, 1), date(2027, 1, 9)),  # 9000 / 90 = 100 days
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
