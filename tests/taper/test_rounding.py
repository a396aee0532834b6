"""Doses as tablets and halves, or millilitres, and what to dispense."""

from __future__ import annotations

from decimal import Decimal

import pytest

import taper
from taper.rounding import dose_units, format_amount, units_text
from tests.support.taper import oral_input, plan_for

D = Decimal


def product(product_id: str) -> taper.Product:
    found = taper.load_catalogue().product(product_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("2.5", "½ × 5 mg"),
        ("5", "1 × 5 mg"),
        ("7.5", "1½ × 5 mg"),
        ("12.5", "1 × 10 mg + ½ × 5 mg"),
        ("15", "1 × 10 mg + 1 × 5 mg"),
        ("22.5", "1 × 20 mg + ½ × 5 mg"),
        ("35", "1 × 20 mg + 1 × 10 mg + 1 × 5 mg"),
        ("40", "2 × 20 mg"),
    ],
)
def test_it_builds_a_tablet_dose_from_the_fewest_pieces_with_at_most_one_half(amount, expected):
    assert units_text(dose_units(product("baclofen-oral-tablet"), D(amount))) == expected


def test_it_measures_oral_solution_in_millilitres_at_1_mg_per_ml():
    assert units_text(dose_units(product("baclofen-oral-solution"), D("7.5"))) == "7.5 mL"


def test_it_measures_oral_suspension_in_millilitres_at_5_mg_per_ml():
    assert units_text(dose_units(product("baclofen-oral-suspension"), D("12.5"))) == "2.5 mL"


def test_it_dispenses_whole_tablets_sharing_halves_between_doses():
    plan = plan_for(oral_input())
    # Steps 10/2.5/10, 5/–/10, –/–/10, –/–/5 for 3, 3, 4, 4 days.
    # 5 mg halves: 3 + 6 + 0 + 8 = 17 → 9 tablets; 10 mg: 6 + 3 + 4 = 13.
    assert [(s.strength_mg, s.count) for s in plan.dispense] == [(10, 13), (5, 9)]


def test_it_dispenses_the_total_volume_of_a_liquid():
    plan = plan_for(oral_input(product="baclofen-oral-solution"))
    total = sum(event.amount_mg for event in plan.dose_events)  # 1 mg per mL
    assert [s.volume_ml for s in plan.dispense] == [total]


def test_it_writes_amounts_without_trailing_zeros_or_exponents():
    assert [format_amount(D(x)) for x in ("2.50", "100", "1E+2", "0.0")] == [
        "2.5",
        "100",
        "100",
        "0",
    ]
