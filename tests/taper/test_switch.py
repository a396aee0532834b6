"""Switching a benzodiazepine to diazepam before the taper (taper/switch.py, issue #22)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taper
from taper.equivalence import load_equivalence
from tests.support.invariants import drug_requests

D = Decimal
DIAZEPAM = "diazepam-oral-tablet"
TABLE = "benzodiazepine-to-diazepam/1"
# Every benzodiazepine of the catalogue that is not diazepam already.
SWITCHABLE = (
    "alprazolam-oral-tablet",
    "clonazepam-oral-tablet",
    "clonazepam-oral-odt",
    "lorazepam-oral-tablet",
)
ALPRAZOLAM_TID: dict[str, Any] = {
    "product": "alprazolam-oral-tablet",
    "switch_to": DIAZEPAM,
    "start_date": "2027-03-01",
    "timezone": "Europe/London",
    "doses": [
        {"time": "08:00", "amount_mg": 1},
        {"time": "14:00", "amount_mg": 1},
        {"time": "22:00", "amount_mg": 1},
    ],
    "goal": {"type": "discontinue"},
    "patient": {"age_years": 45, "months_on_therapy": 6},
}


def make(data: dict[str, Any]) -> taper.TaperPlan:
    return taper.plan(taper.parse_request(data))


def refusal(data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(taper.InvalidPlanInput) as refused:
        taper.parse_request(data)
    return refused.value.errors


def test_alprazolam_1_mg_three_times_daily_switched_to_diazepam():
    """Hand-derived (docs/drugs.md "Switching to diazepam"):

    - Factor 20 mg diazepam per mg alprazolam: the 2025 joint guideline's Table 7, Ashton
      column (alprazolam 0.5 mg ~ diazepam 10 mg); the VA/DoD column (1 mg ~ 10 mg) gives
      10, so the range is [10, 20]. 1 mg → 20 mg = 2 × 10 mg; 60 mg diazepam a day.
    - Substitution, 4 days per dose time (protocol 2), the latest dose first:
      01–04 Mar 22:00 diazepam; 05–08 Mar 14:00 too; from 09 Mar all three, for 4 + 14
      (`switch_hold_days`) = 18 days, to 26 Mar. The equivalent total is 60 mg every day
      (3 × 1 × 20).
    - Taper of diazepam from 27 Mar: 10 % of the current total, half up to 1 mg, at least
      1 mg, every 14 days (45 years, 6 months: no slowing): 60 → 54 (6) → 49 (5.4 → 5)
      → 44 (4.9 → 5) → 40 (4.4 → 4) → 36 → 32 (3.6 → 4) → 29 (3.2 → 3) → 26 → 23 → 21
      (2.3 → 2) → 19 → 17 → 15 → 13 (1.5 → 2) → 12 (1.3 → 1) → 11 → … → 1: 26 steps.
    - 3 + 26 = 29 steps; 4 + 4 + 18 + 26 × 14 = 390 days, 2027-03-01 to 2028-03-24 (2028
      is a leap year). First cut 6 mg off the midday dose (midday first): 20 / 14 / 20.
    - Alprazolam to dispense: 1 mg × (2 doses × 4 days + 1 × 4) = 12 tablets.
    - Flags: STEP_TOO_LARGE (3 → 2 and 2 → 1 mg are over 25 % in 14 days), the boxed
      warning, EQUIVALENCE_SWITCH; review required.
    """
    plan = make(ALPRAZOLAM_TID)
    assert plan.protocol_id == "benzodiazepine-oral"
    assert plan.protocol_version == "2"
    assert plan.equivalence is not None
    assert plan.equivalence.factor == 20
    assert plan.equivalence.range == (10, 20)
    assert len(plan.steps) == 29
    assert plan.duration_days == 390
    assert (plan.start_date, plan.end_date) == (date(2027, 3, 1), date(2028, 3, 24))

    alp, dzp = "alprazolam-oral-tablet", DIAZEPAM
    expected_substitution = [
        (date(2027, 3, 1), [(alp, D(1)), (alp, D(1)), (dzp, D(20))]),
        (date(2027, 3, 5), [(alp, D(1)), (dzp, D(20)), (dzp, D(20))]),
        (date(2027, 3, 9), [(dzp, D(20)), (dzp, D(20)), (dzp, D(20))]),
    ]
    for step, (start, doses) in zip(plan.steps, expected_substitution, strict=False):
        assert step.start_date == start
        assert step.days == (18 if step.index == 2 else 4)
        assert step.daily_total_mg == 60
        assert [(dose.product_id, dose.amount_mg) for dose in step.doses] == doses
    assert [dose.units_text for dose in plan.steps[0].doses] == [
        "1 × 1 mg",
        "1 × 1 mg",
        "2 × 10 mg",
    ]

    taper_levels = [step.daily_total_mg for step in plan.steps[3:]]
    assert taper_levels == [D(n) for n in (54, 49, 44, 40, 36, 32, 29, 26, 23, 21, 19, 17, 15)] + [
        D(n) for n in range(13, 0, -1)
    ]
    assert all(step.days == 14 for step in plan.steps[3:])
    assert plan.steps[3].start_date == date(2027, 3, 27)
    assert [dose.amount_mg for dose in plan.steps[3].doses] == [20, 14, 20]
    assert {dose.product_id for step in plan.steps[3:] for dose in step.doses} == {dzp}
    assert plan.largest_cut_mg == 6

    json = taper.plan_to_json(plan)
    assert json["switch_to"] == dzp
    equivalence = json["equivalence"]
    assert {k: equivalence[k] for k in ("from_product", "to_product", "factor", "range")} == {
        "from_product": alp,
        "to_product": dzp,
        "factor": 20,
        "range": [10, 20],
    }
    assert "Table 7" in equivalence["source"]
    assert "Ashton" in equivalence["source"]
    assert equivalence["factor_choice"].startswith("clinic choice")
    assert json["cuts_mg"][:4] == [6, 5, 5, 4]
    assert {"product": alp, "strength_mg": 1, "count": 12} in json["dispense"]
    assert json["dose_events"][0]["product"] == alp
    assert json["dose_events"][2]["product"] == dzp

    codes = [flag.code for flag in plan.flags]
    assert codes == ["STEP_TOO_LARGE", "BENZODIAZEPINE_BOXED_WARNING", "EQUIVALENCE_SWITCH"]
    switch_flag = plan.flags[2]
    assert switch_flag.severity == "warning"
    assert "3 mg a day becomes 60 mg diazepam" in switch_flag.message
    assert "30 to 60 mg a day" in switch_flag.message
    assert plan.requires_review


def _switch_requests(product: str) -> st.SearchStrategy[dict[str, Any]]:
    def adapt(data: dict[str, Any]) -> dict[str, Any]:
        data = {**data, "switch_to": DIAZEPAM, "goal": {"type": "discontinue"}}
        if "abrupt_stop_reason" in data:  # a switch is never an abrupt stop
            del data["abrupt_stop_reason"]
            del data["pace"]
        return data

    return drug_requests(product).map(adapt)


def _equivalent_by_day(plan: taper.TaperPlan, factor: Decimal) -> dict[date, Decimal]:
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for event in plan.dose_events:
        weight = D(1) if event.product_id == DIAZEPAM else factor
        totals[event.local_date] += event.amount_mg * weight
    return totals


@pytest.mark.parametrize("product", SWITCHABLE)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_switch_keeps_the_first_law_for_every_benzodiazepine(
    product: str, data: st.DataObject
) -> None:
    request_data = data.draw(_switch_requests(product))
    entry = load_equivalence(TABLE).entry(taper_drug(product))
    assert entry is not None
    converted = [
        math.ceil(D(str(dose["amount_mg"])) * entry.factor) for dose in request_data["doses"]
    ]
    if max(converted) > 100 or sum(converted) > 200:
        # Beyond what a diazepam plan accepts: refused on switch_to, nothing planned.
        assert "switch_to" in refusal(request_data)
        return
    request = taper.parse_request(request_data)
    plan = taper.plan(request)
    codes = {flag.code for flag in plan.flags}
    assert "EQUIVALENCE_SWITCH" in codes
    assert plan.requires_review

    # One dose time at a time, the latest first, each for the protocol's 4 days; then 14
    # days on diazepam alone (in the last substitution step) before its taper.
    times = sorted(dose.time for dose in request.doses)
    count = len(times)
    substitution = plan.steps[:count]
    for k, step in enumerate(substitution, start=1):
        assert step.days == (4 + 14 if k == count else 4)
        switched = {dose.time for dose in step.doses if dose.product_id == DIAZEPAM}
        assert switched == set(times[-k:])
        assert {dose.time for dose in step.doses} == set(times)
    assert plan.steps[count].start_date == plan.start_date + timedelta(days=4 * count + 14)

    # No day without doses, from the first day to the last.
    by_day = _equivalent_by_day(plan, entry.factor)
    day = plan.start_date
    while day <= plan.end_date:
        assert by_day[day] > 0, day
        day += timedelta(days=1)
    # The substitution never lowers the equivalent daily total (doses rounded up).
    before = request.daily_total_mg * entry.factor
    substitution_days = [d for d in sorted(by_day) if d < plan.steps[count].start_date]
    assert all(by_day[d] >= before for d in substitution_days)
    # The step totals are these equivalent totals.
    for step in plan.steps:
        assert by_day[step.start_date] == step.daily_total_mg

    # After it, the protocol's guardrails: a cut above the largest cut, or more than 25 %
    # in any 14 days (the last step to zero excepted), is flagged for review.
    levels = [before] + [by_day[d] for d in sorted(by_day)]
    cuts = [a - b for a, b in pairwise(levels) if b < a]
    assert plan.largest_cut_mg is not None
    window = any(
        (levels[i] - levels[min(i + 13, len(levels) - 1)]) * 100 > 25 * levels[i]
        for i in range(len(levels) - 1)
    )
    if any(cut > plan.largest_cut_mg for cut in cuts) or window:
        assert "STEP_TOO_LARGE" in codes
    # Diazepam doses are whole 1 mg steps built from 2, 5 and 10 mg tablets (halves of 2
    # and 10 mg only).
    for step in plan.steps:
        for dose in step.doses:
            if dose.product_id == DIAZEPAM:
                assert dose.amount_mg % 1 == 0
                units = [unit for unit in dose.units if isinstance(unit, taper.TabletUnits)]
                assert len(units) == len(dose.units)
                assert sum((u.strength_mg * u.count for u in units), D(0)) == dose.amount_mg
                for unit in units:
                    assert unit.strength_mg in (D(2), D(5), D(10))
                    assert unit.count % 1 == 0 or unit.strength_mg in (D(2), D(10))


def taper_drug(product: str) -> str:
    found = taper.load_catalogue().product(product)
    assert found is not None
    return found.drug


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"switch_to": "no-such-product"}, "switch_to", 'Unknown product "no-such-product"'),
        ({"switch_to": 7}, "switch_to", "product id"),
        ({"switch_to": "clonazepam-oral-tablet"}, "switch_to", 'Only a switch to "diazepam'),
        (
            {"product": "gabapentin-oral-capsule", "doses": [{"time": "08:00", "amount_mg": 300}]},
            "switch_to",
            "applies only to benzodiazepine plans",
        ),
        (
            {
                "product": "zolpidem-oral-tablet",
                "doses": [{"time": "22:00", "amount_mg": 5, "role": "bedtime"}],
            },
            "switch_to",
            "applies only to benzodiazepine plans",
        ),
        (
            {"product": "diazepam-oral-solution", "doses": [{"time": "08:00", "amount_mg": 5}]},
            "switch_to",
            "already diazepam",
        ),
        ({"protocol_version": "1"}, "switch_to", "version 1, which has no equivalence table"),
        ({"goal": {"type": "reduce", "target_daily_mg": 1}}, "goal.type", "reduce goal"),
        (
            {"doses": [{"time": "08:00", "amount_mg": 6}]},
            "switch_to",
            "exceed what Diazepam tablets can be planned with",
        ),
    ],
)
def test_a_switch_it_cannot_make_is_refused_naming_the_field(
    change: dict[str, Any], field: str, words: str
) -> None:
    errors = refusal({**ALPRAZOLAM_TID, **change})
    assert field in errors
    assert any(words in message for message in errors[field]), errors


def test_protocol_version_1_stays_loadable_and_plans_as_before_without_a_switch():
    data = {k: v for k, v in ALPRAZOLAM_TID.items() if k != "switch_to"}
    old = make({**data, "protocol_version": "1"})
    new = make(data)
    assert old.protocol_version == "1"
    assert new.protocol_version == "2"
    assert old.steps == new.steps
    assert old.flags == new.flags
    assert old.equivalence is None


def test_the_equivalence_table_covers_every_switchable_benzodiazepine_with_its_sources():
    table = load_equivalence(TABLE)
    assert table.to_product == DIAZEPAM
    assert table.factor_choice.startswith("clinic choice")
    for product in SWITCHABLE:
        entry = table.entry(taper_drug(product))
        assert entry is not None
        low, high = entry.range
        assert low <= entry.factor <= high
        assert entry.factor_source.startswith("guideline value")
        assert "Table 7" in entry.factor_source
        assert "VA/DoD" in entry.range_source
        assert "Ashton" in entry.range_source
    # The guideline's Table 7 (Ashton column, VA/DoD column) per 10 mg diazepam.
    assert [(e.drug, e.factor, e.range) for e in table.entries] == [
        ("alprazolam", 20, (10, 20)),
        ("clonazepam", 20, (10, 20)),
        ("lorazepam", 10, (5, 10)),
    ]


def test_the_text_plan_names_each_doses_drug_and_the_switch():
    text = taper.plan_to_text(make(ALPRAZOLAM_TID))
    assert (
        "Switch to diazepam-oral-tablet at 20 mg per mg (recorded range 10–20; table "
        "benzodiazepine-to-diazepam/1)" in text
    )
    first_step = next(line for line in text.splitlines() if line.startswith("1 "))
    assert first_step.count("alprazolam 1 mg (1 × 1 mg)") == 2
    assert "diazepam 20 mg (2 × 10 mg)" in first_step
    assert "12 × alprazolam 1 mg tablets" in text
