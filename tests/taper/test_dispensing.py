"""A pharmacy order (issue #18): from today, rounded up to the catalogue's packs and
bottles, with prescription wording and storage."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import taper
from taper.catalogue import load_catalogue
from taper.dispensing import (
    fewest_packs,
    number_in_words,
    pack_sizes,
    pharmacy_order_from_plan_json,
)
from taper.rounding import format_amount


def plan_json(product: str, doses: list[dict[str, object]]) -> dict[str, Any]:
    data = {
        "product": product,
        "doses": doses,
        "start_date": "2027-03-01",
        "timezone": "Europe/London",
        "goal": {"type": "discontinue"},
        "patient": {"age_years": 50, "months_on_therapy": 3},
    }
    return taper.plan_to_json(taper.plan(taper.parse_request(data)))


def product(product_id: str) -> taper.Product:
    found = load_catalogue().product(product_id)
    assert found is not None
    return found


def test_packs_are_the_smallest_total_that_covers_the_need_then_the_fewest() -> None:
    sizes = (Decimal(30), Decimal(90), Decimal(100))
    assert fewest_packs(Decimal(95), sizes) == ((Decimal(100), 1),)
    assert fewest_packs(Decimal(120), sizes) == ((Decimal(90), 1), (Decimal(30), 1))
    assert fewest_packs(Decimal(0), sizes) == ()
    assert fewest_packs(Decimal(7), ()) == ()


def test_pack_sizes_come_from_the_catalogue_in_the_products_own_unit() -> None:
    assert pack_sizes(product("lorazepam-oral-tablet")) == tuple(
        Decimal(n) for n in (30, 90, 100, 500, 1000)
    )
    assert pack_sizes(product("gabapentin-oral-solution")) == (Decimal(470), Decimal(473))
    assert pack_sizes(product("baclofen-oral-tablet")) == ()  # none in the catalogue


def test_the_order_counts_from_today_and_rounds_up_to_bottles_with_wording() -> None:
    doses: list[dict[str, object]] = [
        {"time": "08:00", "amount_mg": 1}, {"time": "20:00", "amount_mg": 1}
    ]
    out = plan_json("lorazepam-oral-tablet", doses)
    lorazepam = product("lorazepam-oral-tablet")
    whole = pharmacy_order_from_plan_json(lorazepam, out, today=date(2027, 2, 20))
    assert whole is not None
    assert whole.from_date == date(2027, 3, 1)  # not before the plan's first day
    needed = {line.strength_mg: line.needed for line in whole.lines}
    engine = {Decimal(str(i["strength_mg"])): Decimal(i["count"]) for i in out["dispense"]}
    assert needed == engine  # the same count as the engine's whole-plan dispensing
    for line in whole.lines:
        assert line.quantity >= line.needed
        assert line.quantity == sum(size * n for size, n in line.packs)
        assert line.wording.startswith(f"Lorazepam {line.strength_text} tablets.")
        assert f"Dispense {format_amount(line.quantity)} (" in line.wording
        assert "No refills." in line.wording
    later = pharmacy_order_from_plan_json(lorazepam, out, today=date(2027, 3, 20))
    assert later is not None
    assert later.from_date == date(2027, 3, 20)
    assert sum(line.needed for line in later.lines) < sum(line.needed for line in whole.lines)
    ended = pharmacy_order_from_plan_json(lorazepam, out, today=date(2029, 1, 1))
    assert ended is None


def test_a_liquid_is_ordered_in_bottles_with_its_storage() -> None:
    solution = product("gabapentin-oral-solution")
    out = plan_json("gabapentin-oral-solution", [{"time": "08:00", "amount_mg": 300}])
    order = pharmacy_order_from_plan_json(solution, out, today=date(2027, 3, 1))
    assert order is not None
    (line,) = order.lines
    assert line.unit == "mL"
    assert line.packs
    assert line.quantity >= line.needed
    assert "mL (" in line.wording
    assert "millilitres)" in line.wording
    assert order.storage is not None
    assert "2°C to 8°C" in order.storage


def test_without_pack_sizes_the_exact_quantity_is_ordered_and_said() -> None:
    out = plan_json("baclofen-oral-tablet", [{"time": "08:00", "amount_mg": 10}])
    order = pharmacy_order_from_plan_json(product("baclofen-oral-tablet"), out,
                                          today=date(2027, 3, 1))
    assert order is not None
    assert all(line.quantity == line.needed and not line.packs for line in order.lines)
    assert all("the catalogue lists no pack size" in line.wording for line in order.lines)


def test_quantities_are_written_in_words() -> None:
    assert number_in_words(Decimal(90)) == "ninety"
    assert number_in_words(Decimal(1234)) == "one thousand two hundred thirty-four"
    assert number_in_words(Decimal(100)) == "one hundred"
    assert number_in_words(Decimal("2.5")) == "2.5"
