"""The patient's supply (issue #17): need from a day, run-out date, counted safely.

Golden cases are worked by hand in the comments; the properties run over random plans
from the engine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import taper
from taper.supply import (
    Dispensed,
    SupplyKey,
    earliest_run_out,
    needed_from,
    runs_out_on,
    supply_status,
    use_periods,
)
from tests.support.invariants import oral_requests
from tests.support.taper import oral_input, plan_for, pump_input

D = dt.date
TABLET = "baclofen-oral-tablet"


def one_step(
    units: list[dict[str, Any]],
    doses: int,
    start: str,
    end: str,
    product: str = TABLET,
    **extra: Any,
) -> dict[str, Any]:
    """A hand-written plan output: one step of `doses` identical doses a day."""
    return {
        "product": product,
        "start_date": start,
        "end_date": end,
        "steps": [
            {
                "start_date": start,
                "end_date": end,
                "doses": [{"units": units} for _ in range(doses)],
            }
        ],
        "dispense": [],
        **extra,
    }


def five(n: int | str, on: dt.date) -> Dispensed:
    return Dispensed(SupplyKey(TABLET, Decimal(5)), Decimal(str(n)), on)


def test_one_and_a_half_tablets_of_5_mg_three_times_a_day_run_out_by_hand() -> None:
    # 4½ tablets a day. 20 tablets: four full days use 18, 2 are left, and day 5
    # needs 4½: it is short, so the supply runs out on 5 March (not on the 6th, when
    # the last half would go).
    output = one_step([{"strength_mg": 5, "count": 1.5}], 3, "2027-03-01", "2027-03-10")
    periods = use_periods(output)
    key = SupplyKey(TABLET, Decimal(5))
    assert runs_out_on(periods, key, [five(20, D(2027, 3, 1))]) == D(2027, 3, 5)
    # 10 days × 4½ = 45 tablets for the whole plan; from the 3rd, 8 days = 36.
    assert needed_from(periods, key, D(2027, 3, 1)) == 45
    assert needed_from(periods, key, D(2027, 3, 3)) == 36
    # 45 tablets are exactly enough: no run-out in the plan.
    assert runs_out_on(periods, key, [five(45, D(2027, 3, 1))]) is None
    assert runs_out_on(periods, key, [five(44, D(2027, 3, 1))]) == D(2027, 3, 10)


def test_a_half_tablet_uses_a_whole_one_over_two_doses_and_needs_round_up() -> None:
    # ½ × 10 mg once a day for 5 days: 2½ tablets, so 3 to dispense. 2 tablets give
    # 4 halves: days 1–4, and day 5 is short.
    output = one_step([{"strength_mg": 10, "count": 0.5}], 1, "2027-03-01", "2027-03-05")
    periods = use_periods(output)
    key = SupplyKey(TABLET, Decimal(10))
    assert needed_from(periods, key, D(2027, 3, 1)) == 3
    two = Dispensed(key, Decimal(2), D(2027, 3, 1))
    assert runs_out_on(periods, key, [two]) == D(2027, 3, 5)


def test_a_liquid_is_counted_in_ml() -> None:
    # 7.5 mL twice a day = 15 mL a day; 100 mL lasts 6 days (90 mL), day 7 is short.
    solution = "baclofen-oral-solution"
    output = one_step([{"volume_ml": 7.5}], 2, "2027-03-01", "2027-03-14", product=solution)
    periods = use_periods(output)
    key = SupplyKey(solution, None)
    assert needed_from(periods, key, D(2027, 3, 1)) == Decimal("210")
    assert needed_from(periods, key, D(2027, 3, 14)) == Decimal("15")
    assert runs_out_on(periods, key, [Dispensed(key, Decimal(100), D(2027, 3, 1))]) == D(2027, 3, 7)
    lines = supply_status(
        output, [Dispensed(key, Decimal(100), D(2027, 3, 1))], today=D(2027, 3, 2)
    )
    assert [(line.unit, line.needed, line.dispensed) for line in lines] == [
        ("mL", Decimal("195.0"), Decimal(100))
    ]


def test_a_second_dispensing_moves_the_run_out_date() -> None:
    # 4½ a day; 20 on the 1st covers 4 days leaving 2; 10 more on the 5th make 12:
    # two more days (9), 3 left, and the 7th is short.
    output = one_step([{"strength_mg": 5, "count": 1.5}], 3, "2027-03-01", "2027-03-10")
    periods = use_periods(output)
    key = SupplyKey(TABLET, Decimal(5))
    given = [five(20, D(2027, 3, 1)), five(10, D(2027, 3, 5))]
    assert runs_out_on(periods, key, given) == D(2027, 3, 7)
    # Dispensed after running out: the days in between were short already.
    assert runs_out_on(periods, key, [five(20, D(2027, 3, 1)), five(40, D(2027, 3, 8))]) == D(
        2027, 3, 5
    )


def test_maintenance_after_a_reduce_plan_keeps_using_supply() -> None:
    output = one_step(
        [{"strength_mg": 5, "count": 1}],
        2,
        "2027-03-01",
        "2027-03-05",
        maintenance={"doses": [{"units": [{"strength_mg": 5, "count": 1}]}]},
    )
    periods = use_periods(output)
    key = SupplyKey(TABLET, Decimal(5))
    # 10 for the steps, then 1 a day: 15 tablets last to the 10th.
    assert runs_out_on(periods, key, [five(15, D(2027, 3, 1))]) == D(2027, 3, 11)
    assert needed_from(periods, key, D(2027, 3, 1)) == 10  # the steps only


def test_nothing_recorded_means_the_plans_dispensing_list_on_its_first_day() -> None:
    output = taper.plan_to_json(plan_for(oral_input()))
    lines = supply_status(output, None, today=D(2026, 3, 2))
    assert lines
    assert all(line.runs_out_on is None for line in lines)
    assert [(line.key.strength_mg, line.dispensed) for line in lines] == [
        (Decimal(str(item["strength_mg"])), Decimal(item["count"])) for item in output["dispense"]
    ]
    assert all(line.last_dispensed_on == D(2026, 3, 2) for line in lines)
    assert earliest_run_out(lines) is None


def test_a_pump_plan_has_no_supply_here() -> None:
    output = taper.plan_to_json(plan_for(pump_input()))
    assert supply_status(output, None, today=D(2026, 3, 2)) == ()


def test_a_switch_plan_counts_each_product_apart() -> None:
    data = oral_input(
        product="lorazepam-oral-tablet",
        doses=[{"time": "08:00", "amount_mg": 1}, {"time": "20:00", "amount_mg": 1}],
        switch_to="diazepam-oral-tablet",
    )
    output = taper.plan_to_json(plan_for(data))
    lines = supply_status(output, None, today=D(2026, 3, 2))
    assert {line.key.product for line in lines} == {"lorazepam-oral-tablet", "diazepam-oral-tablet"}
    assert all(line.runs_out_on is None for line in lines)


def _used_through(output: dict[str, Any], key: SupplyKey, last: dt.date) -> Decimal:
    """Day by day, the way a patient would count: what the doses use up to `last`."""
    total = Decimal(0)
    for period in use_periods(output):
        day = period.start
        while day <= last and (period.end is None or day <= period.end):
            total += period.per_day.get(key, Decimal(0))
            day += dt.timedelta(days=1)
    return total


@settings(max_examples=150, deadline=None)
@given(oral_requests(), st.integers(min_value=0, max_value=400), st.integers(0, 20))
def test_the_supply_is_never_reported_larger_than_what_was_dispensed(
    data: dict[str, Any], quantity: int, late: int
) -> None:
    output = taper.plan_to_json(taper.plan(taper.parse_request(data)))
    start = dt.date.fromisoformat(output["start_date"])
    # The plan's own list always covers the plan (CLINICAL.md invariant 6) when it has
    # no maintenance to go on with.
    default = supply_status(output, None, today=start)
    if not output.get("maintenance"):
        assert all(line.runs_out_on is None for line in default)
    for line in default:
        key = line.key
        given = [Dispensed(key, Decimal(quantity), start + dt.timedelta(days=late))]
        end = runs_out_on(use_periods(output), key, given)
        if end is None:
            # Covered to the end: the doses of the steps fit in what was given.
            assert _used_through(output, key, dt.date.fromisoformat(output["end_date"])) <= quantity
            continue
        # Every day before the run-out day fits in what was given; that day does not.
        if end > given[0].on:
            assert (
                _used_through(output, key, end - dt.timedelta(days=1))
                - _used_through(output, key, given[0].on - dt.timedelta(days=1))
                <= quantity
            )
        assert (
            _used_through(output, key, end)
            - _used_through(output, key, given[0].on - dt.timedelta(days=1))
            > quantity
            or end < given[0].on
            or end == start
        )
        # More given never runs out earlier.
        more = [Dispensed(key, Decimal(quantity + 7), given[0].on)]
        later = runs_out_on(use_periods(output), key, more)
        assert later is None or later >= end
