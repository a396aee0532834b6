"""Checking what the clinician typed: every problem at once, keyed by field path."""

from __future__ import annotations

import math
from datetime import time
from decimal import Decimal

import pytest

import taper
from tests.support.taper import errors_for, oral_input, pump_input


def test_it_parses_a_regimen_into_a_request_sorted_by_dose_time():
    request = taper.parse_request(
        oral_input(doses=[{"time": "20:00", "amount_mg": 5}, {"time": "08:00", "amount_mg": 2.5}])
    )
    assert [(d.time, d.amount_mg) for d in request.doses] == [
        (time(8), Decimal("2.5")),
        (time(20), Decimal(5)),
    ]
    assert request.product.id == "baclofen-oral-tablet"
    assert request.protocol.id == "baclofen-oral"
    assert request.daily_total_mg == Decimal("7.5")


def test_it_refuses_an_unknown_product_naming_the_known_ones():
    errors = errors_for(oral_input(product="baclofen-oral-gummy"))
    assert list(errors) == ["product"]
    assert "baclofen-oral-tablet" in errors["product"][0]


def test_it_refuses_a_dose_the_tablets_cannot_make():
    errors = errors_for(oral_input(doses=[{"time": "08:00", "amount_mg": 7}]))
    assert errors == {
        "doses.0.amount_mg": [
            "7 mg cannot be given with 5/10/20 mg tablets; use a multiple of 2.5 mg."
        ]
    }


def test_it_refuses_a_dose_the_oral_solution_cannot_measure():
    errors = errors_for(
        oral_input(product="baclofen-oral-solution", doses=[{"time": "08:00", "amount_mg": 0.3}])
    )
    assert errors["doses.0.amount_mg"] == [
        "0.3 mg cannot be measured with Baclofen oral solution 5 mg/5 mL; "
        "use a multiple of 0.5 mg (0.5 mL)."
    ]


@pytest.mark.parametrize("amount", [0, -5])
def test_it_refuses_zero_or_negative_doses(amount):
    errors = errors_for(oral_input(doses=[{"time": "08:00", "amount_mg": amount}]))
    assert list(errors) == ["doses.0.amount_mg"]


def test_it_refuses_an_implausible_single_dose():
    errors = errors_for(oral_input(doses=[{"time": "08:00", "amount_mg": 150}]))
    assert "implausible" in errors["doses.0.amount_mg"][0]


def test_it_refuses_an_implausible_daily_total():
    doses = [{"time": f"{h:02d}:00", "amount_mg": 50} for h in (6, 10, 14, 18, 22)]
    errors = errors_for(oral_input(doses=doses))
    assert "implausible" in errors["doses"][0]


@pytest.mark.parametrize("bad", ["8:00", "24:00", "08:60", "08:00:00", "noon", 800, None])
def test_it_refuses_a_malformed_dose_time(bad):
    errors = errors_for(oral_input(doses=[{"time": bad, "amount_mg": 10}]))
    assert list(errors) == ["doses.0.time"]


def test_it_refuses_the_same_dose_time_twice():
    doses = [{"time": "08:00", "amount_mg": 10}, {"time": "08:00", "amount_mg": 5}]
    assert list(errors_for(oral_input(doses=doses))) == ["doses.1.time"]


def test_it_refuses_more_than_8_dose_times():
    doses = [{"time": f"{h:02d}:00", "amount_mg": 5} for h in range(9)]
    assert list(errors_for(oral_input(doses=doses))) == ["doses"]


def test_it_refuses_an_empty_list_of_doses():
    assert list(errors_for(oral_input(doses=[]))) == ["doses"]


def test_it_refuses_an_unknown_time_zone():
    assert list(errors_for(oral_input(timezone="Mars/Olympus_Mons"))) == ["timezone"]


@pytest.mark.parametrize("bad", ["2026-02-30", "02/03/2026", "2026-3-2", "1850-01-01", 20260302])
def test_it_refuses_a_malformed_or_implausible_start_date(bad):
    assert list(errors_for(oral_input(start_date=bad))) == ["start_date"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age_years", -1),
        ("age_years", 121),
        ("weight_kg", 0.5),
        ("weight_kg", 401),
        ("creatinine_clearance_ml_min", 0),
        ("creatinine_clearance_ml_min", 250),
        ("serum_creatinine_mg_dl", 0.05),
        ("serum_creatinine_mg_dl", 25),
        ("serum_creatinine_umol_l", 5),
        ("serum_creatinine_umol_l", 2000),
        ("pregnancy_trimester", 4),
        ("pregnancy_trimester", 1.5),
        ("months_on_therapy", -2),
        ("sex", "other"),
        ("breastfeeding", "yes"),
        ("seizure_history", 1),
    ],
)
def test_it_refuses_patient_facts_outside_the_human_range(field, value):
    patient = {"weight_kg": 70, "sex": "male", field: value}
    assert list(errors_for(oral_input(patient=patient))) == [f"patient.{field}"]


def test_it_refuses_an_unknown_cns_depressant():
    errors = errors_for(oral_input(patient={"cns_depressants": ["opioid", "caffeine"]}))
    assert list(errors) == ["patient.cns_depressants.1"]


def test_it_requires_the_age_and_the_months_on_therapy():
    data = oral_input()
    data["patient"] = {}
    assert set(errors_for(data)) == {"patient.age_years", "patient.months_on_therapy"}


@pytest.mark.parametrize("value", [True, False, "10", [10], {"mg": 10}, math.nan, math.inf])
def test_it_refuses_non_numbers_and_booleans_as_doses(value):
    errors = errors_for(oral_input(doses=[{"time": "08:00", "amount_mg": value}]))
    assert list(errors) == ["doses.0.amount_mg"]


def test_it_refuses_a_huge_number_without_trouble():
    errors = errors_for(oral_input(doses=[{"time": "08:00", "amount_mg": 10**5000}]))
    assert list(errors) == ["doses.0.amount_mg"]


def test_it_names_unknown_fields_at_any_level():
    data = oral_input(colour="blue", patient={"eye_colour": "brown"})
    data["doses"][0]["unit"] = "mg"
    assert set(errors_for(data)) == {"colour", "patient.eye_colour", "doses.0.unit"}


def test_it_collects_every_error_at_once():
    errors = errors_for(
        {
            "product": "baclofen-oral-tablet",
            "doses": [{"time": "8am", "amount_mg": 7}, {"time": "20:00", "amount_mg": "ten"}],
            "start_date": "yesterday",
            "timezone": "Nowhere",
            "goal": {"type": "reduce", "target_daily_mg": -1},
            "patient": {"age_years": 200, "months_on_therapy": 3},
            "pace": {"length_days": -1},
        }
    )
    assert set(errors) == {
        "doses.0.time",
        "doses.0.amount_mg",
        "doses.1.amount_mg",
        "start_date",
        "timezone",
        "goal.target_daily_mg",
        "patient.age_years",
        "pace.length_days",
    }


def test_it_reports_target_above_current_together_with_other_errors():
    errors = errors_for(
        oral_input(goal={"type": "reduce", "target_daily_mg": 40}, timezone="Nowhere")
    )
    assert set(errors) == {"goal.target_daily_mg", "timezone"}


@pytest.mark.parametrize("data", [None, [], "plan", 42])
def test_it_refuses_a_request_that_is_not_an_object(data):
    with pytest.raises(taper.InvalidPlanInput) as caught:
        taper.parse_request(data)
    assert list(caught.value.errors) == ["__all__"]


def test_it_refuses_pump_settings_on_an_oral_plan():
    assert list(errors_for(oral_input(pump=pump_input()["pump"]))) == ["pump"]


def test_it_refuses_a_target_on_a_discontinue_goal():
    errors = errors_for(oral_input(goal={"type": "discontinue", "target_daily_mg": 10}))
    assert list(errors) == ["goal.target_daily_mg"]


def test_it_refuses_an_unknown_pace():
    assert list(errors_for(oral_input(pace="faster"))) == ["pace"]
    assert list(errors_for(oral_input(pace={"shape": "cliff"}))) == ["pace.shape"]


def test_it_keeps_error_messages_short_for_absurd_decimals():
    errors = errors_for(oral_input(doses=[{"time": "08:00", "amount_mg": Decimal("1E-999999")}]))
    assert all(len(message) < 200 for message in errors["doses.0.amount_mg"])
