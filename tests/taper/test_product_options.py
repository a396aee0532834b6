"""Strengths and splitting (issue #18): `product_options` narrows the tablets a plan may
use; the engine rounds within them or refuses, and every invariant still holds."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import taper
from taper.render import plan_cuts
from taper.rounding import TabletSupply, TabletUnits
from tests.support.invariants import assert_invariants, oral_requests

GOLDEN = Path(__file__).parent / "golden"


def request_data(**options: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "product": "baclofen-oral-tablet",
        "doses": [{"time": t, "amount_mg": 20} for t in ("08:00", "14:00", "20:00")],
        "start_date": "2027-03-01",
        "timezone": "Europe/London",
        "goal": {"type": "discontinue"},
        "patient": {"age_years": 78, "months_on_therapy": 12},
    }
    if options:
        data["product_options"] = options
    return data


def refusal(data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(taper.InvalidPlanInput) as refused:
        taper.plan(taper.parse_request(data))
    return refused.value.errors


def strengths_used(plan: taper.TaperPlan) -> set[Decimal]:
    return {
        unit.strength_mg
        for step in plan.steps
        for dose in step.doses
        for unit in dose.units
        if isinstance(unit, TabletUnits)
    }


def test_every_strength_with_halves_plans_exactly_as_without_options() -> None:
    for path in sorted(GOLDEN.glob("*.input.json")):
        data = json.loads(path.read_text())
        expected = path.with_name(path.name.replace(".input.json", ".expected.json"))
        if data.get("product") != "baclofen-oral-tablet" or not expected.exists():
            continue
        without = taper.plan_to_json(taper.plan(taper.parse_request(data)))
        data["product_options"] = {"strengths_mg": [5, 10, 20], "allow_halves": True}
        with_all = taper.plan_to_json(taper.plan(taper.parse_request(data)))
        assert with_all.pop("product_options")["strengths_used_mg"] == [5, 10, 20]
        assert with_all == without


def test_a_shelf_of_10_mg_tablets_with_halves_makes_every_dose_from_them() -> None:
    plan = taper.plan(taper.parse_request(request_data(strengths_mg=[10], allow_halves=True)))
    assert strengths_used(plan) == {Decimal(10)}
    assert all(dose.amount_mg % 5 == 0 for step in plan.steps for dose in step.doses)
    assert plan.largest_cut_mg is not None
    assert max(plan_cuts(plan)) <= plan.largest_cut_mg
    out = taper.plan_to_json(plan)
    assert out["product_options"] == {
        "strengths_mg": [10], "allow_halves": True, "fewest_strengths": False,
        "strengths_used_mg": [10], "dose_step_mg": 5,
    }  # fmt: skip
    assert [item["strength_mg"] for item in out["dispense"]] == [10]


def test_strengths_that_force_a_cut_larger_than_the_protocols_are_refused() -> None:
    errors = refusal(request_data(strengths_mg=[10, 20], allow_halves=False))
    (message,) = errors["product_options.strengths_mg"]
    assert "smallest dose step is 10 mg" in message
    assert "largest cut for this patient (7.5 mg)" in message


def test_a_current_dose_the_chosen_strengths_cannot_make_is_refused_on_its_field() -> None:
    data = request_data(strengths_mg=[20], allow_halves=False)
    data["doses"][0]["amount_mg"] = 15
    errors = refusal(data)
    assert "15 mg cannot be given with 20 mg tablets" in errors["doses.0.amount_mg"][0]


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"strengths_mg": [7]}, "product_options.strengths_mg.0", "not a strength"),
        ({"strengths_mg": [10, 10]}, "product_options.strengths_mg.1", "listed twice"),
        ({"strengths_mg": []}, "product_options.strengths_mg", "at least one strength"),
        ({"strengths_mg": ["ten"]}, "product_options.strengths_mg.0", ""),
        ({"allow_halves": "yes"}, "product_options.allow_halves", "true or false"),
        ({"colour": "red"}, "product_options.colour", "Unknown field"),
    ],
)
def test_options_that_cannot_be_read_are_refused_naming_the_field(
    options: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(taper.InvalidPlanInput) as refused:
        taper.parse_request(request_data(**options))
    assert words in " ".join(refused.value.errors[field])


def test_options_apply_to_tablets_and_capsules_only() -> None:
    data = request_data(strengths_mg=[1])
    data["product"] = "baclofen-oral-solution"
    with pytest.raises(taper.InvalidPlanInput) as refused:
        taper.parse_request(data)
    assert "only to tablets and capsules" in refused.value.errors["product_options"][0]


def test_fewest_strengths_keeps_every_dose_and_uses_fewer_strengths() -> None:
    all_three = taper.plan(taper.parse_request(request_data(strengths_mg=[5, 10, 20])))
    fewest = taper.plan(
        taper.parse_request(request_data(strengths_mg=[5, 10, 20], fewest_strengths=True))
    )
    assert len(strengths_used(all_three)) == 3
    assert strengths_used(fewest) == {Decimal(5)}  # only 5 mg makes 2.5 mg steps alone
    assert [
        [(d.time, d.amount_mg) for d in step.doses] for step in fewest.steps
    ] == [[(d.time, d.amount_mg) for d in step.doses] for step in all_three.steps]
    assert [s.strength_mg for s in fewest.dispense if isinstance(s, TabletSupply)] == [Decimal(5)]


@st.composite
def shelf_requests(draw: st.DrawFn) -> dict[str, Any]:
    data = draw(oral_requests())
    data["product"] = "baclofen-oral-tablet"
    strengths = draw(st.lists(st.sampled_from([5, 10, 20]), min_size=1, unique=True))
    halves = draw(st.booleans())
    data["product_options"] = {
        "strengths_mg": strengths,
        "allow_halves": halves,
        "fewest_strengths": draw(st.booleans()),
    }
    # Mostly doses the shelf can make (every baclofen tablet is scored or halved by the
    # clinic's rule), sometimes the drawn ones, which it may refuse.
    if draw(st.integers(0, 4)):
        step = Decimal(min(strengths)) / (2 if halves else 1)
        most = max(1, int(60 / step))
        for dose in data["doses"]:
            dose["amount_mg"] = float(step * draw(st.integers(1, most)))
        daily = sum(Decimal(str(dose["amount_mg"])) for dose in data["doses"])
        units = int(daily / step)
        if data["goal"]["type"] == "reduce":
            if units > 1:
                data["goal"]["target_daily_mg"] = float(step * draw(st.integers(1, units - 1)))
            else:
                data["goal"] = {"type": "discontinue"}
    return data


MEASURABLE_FIELDS = ("product_options", "doses.", "goal.target_daily_mg")


@settings(max_examples=300, deadline=None)
@given(shelf_requests())
def test_any_shelf_keeps_every_invariant_or_is_refused_with_a_clear_error(
    data: dict[str, Any],
) -> None:
    # The same regimen on the tablet catalogue's own dose step, without options, is valid.
    plain = copy.deepcopy(data)
    del plain["product_options"]
    try:
        taper.parse_request(plain)
    except taper.InvalidPlanInput:
        event("invalid without options")
        return  # e.g. a 2.5 mg solution dose that tablets cannot make: not this test's
    refused: dict[str, list[str]] = {}
    try:
        request = taper.parse_request(data)
        plan = taper.plan(request)
    except taper.InvalidPlanInput as error:
        refused = error.errors
    if refused:
        # Only what the shelf cannot measure, said on the field that caused it.
        assert all(path.startswith(MEASURABLE_FIELDS) for path in refused), refused
        assert all(message for messages in refused.values() for message in messages)
        event("refused: " + ", ".join(sorted({p.split(".")[0] for p in refused})))
        return
    event("planned")
    assert_invariants(data, request, plan)
    chosen = {Decimal(amount) for amount in data["product_options"]["strengths_mg"]}
    assert strengths_used(plan) <= chosen
    if not data["product_options"]["allow_halves"]:
        assert all(
            unit.count % 1 == 0
            for step in plan.steps for dose in step.doses for unit in dose.units
            if isinstance(unit, TabletUnits)
        )  # fmt: skip
    request_pace = data.get("pace")
    if request_pace is None or isinstance(request_pace, str):
        # The protocol's own pace: the shelf never makes a cut larger than the protocol's.
        assert plan.largest_cut_mg is not None
        assert all(cut <= plan.largest_cut_mg for cut in plan_cuts(plan))
