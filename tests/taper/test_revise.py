"""Revisions of a running oral plan: hold, step back, slow down (taper/revise.py)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import taper
from taper.request import Revision
from taper.rounding import format_amount
from tests.support.invariants import assert_invariants, oral_requests
from tests.support.taper import errors_for, oral_input, plan_for, pump_input

# The builders' plan: 30 mg a day as 10 mg at 08:00, 14:00 and 20:00, from 2026-03-02.
#   step 0  03-02..03-04  22.5  mg  08:00 10, 14:00 2.5, 20:00 10
#   step 1  03-05..03-07  15    mg  08:00 5, 20:00 10
#   step 2  03-08..03-11  10    mg  20:00 10
#   step 3  03-12..03-15   5    mg  20:00 5


def steps_of(plan: taper.TaperPlan) -> list[tuple[str, str, str, dict[str, str]]]:
    return [
        (
            step.start_date.isoformat(),
            step.end_date.isoformat(),
            format_amount(step.daily_total_mg),
            {f"{dose.time:%H:%M}": format_amount(dose.amount_mg) for dose in step.doses},
        )
        for step in plan.steps
    ]


def revised(*revisions: dict[str, Any]) -> taper.TaperPlan:
    return plan_for(oral_input(revisions=list(revisions)))


STEP_0 = ("2026-03-02", "2026-03-04", "22.5", {"08:00": "10", "14:00": "2.5", "20:00": "10"})
STEP_1 = {"08:00": "5", "20:00": "10"}
STEP_2 = {"20:00": "10"}
STEP_3 = {"20:00": "5"}


def test_the_unrevised_plan_is_the_one_the_examples_start_from():
    assert steps_of(plan_for(oral_input())) == [
        STEP_0,
        ("2026-03-05", "2026-03-07", "15", STEP_1),
        ("2026-03-08", "2026-03-11", "10", STEP_2),
        ("2026-03-12", "2026-03-15", "5", STEP_3),
    ]


def test_a_hold_keeps_the_dose_in_force_longer_and_moves_later_steps():
    plan = revised({"kind": "hold", "from_date": "2026-03-06", "days": 2})
    assert steps_of(plan) == [
        STEP_0,
        ("2026-03-05", "2026-03-09", "15", STEP_1),
        ("2026-03-10", "2026-03-13", "10", STEP_2),
        ("2026-03-14", "2026-03-17", "5", STEP_3),
    ]
    assert plan.duration_days == 16
    assert plan.end_date == date(2026, 3, 17)
    assert plan.effective_from == date(2026, 3, 6)


def test_a_step_back_returns_to_the_step_before_then_restarts_the_step_in_force():
    plan = revised({"kind": "step_back", "from_date": "2026-03-06"})
    assert steps_of(plan) == [
        STEP_0,
        ("2026-03-05", "2026-03-05", "15", STEP_1),
        # Back to step 0's regimen, 14:00 dose included, for one step interval (3 days).
        ("2026-03-06", "2026-03-08", "22.5", STEP_0[3]),
        # Step 1 again from its beginning, full length.
        ("2026-03-09", "2026-03-11", "15", STEP_1),
        ("2026-03-12", "2026-03-15", "10", STEP_2),
        ("2026-03-16", "2026-03-19", "5", STEP_3),
    ]
    assert [step.index for step in plan.steps] == [0, 1, 2, 3, 4, 5]


def test_a_step_back_in_the_first_step_returns_to_the_starting_regimen():
    plan = revised({"kind": "step_back", "from_date": "2026-03-02"})
    start = {"08:00": "10", "14:00": "10", "20:00": "10"}
    assert steps_of(plan) == [
        ("2026-03-02", "2026-03-04", "30", start),
        ("2026-03-05", "2026-03-07", *STEP_0[2:]),
        ("2026-03-08", "2026-03-10", "15", STEP_1),
        ("2026-03-11", "2026-03-14", "10", STEP_2),
        ("2026-03-15", "2026-03-18", "5", STEP_3),
    ]
    assert "the starting dose" in plan.flags[-1].message


def test_a_slow_down_stretches_the_rest_of_the_step_and_every_later_step_by_half():
    plan = revised({"kind": "slow_down", "from_date": "2026-03-06"})
    assert steps_of(plan) == [
        STEP_0,
        # 2 days of step 1 were left (03-06, 03-07): 3 days from 03-06.
        ("2026-03-05", "2026-03-08", "15", STEP_1),
        ("2026-03-09", "2026-03-14", "10", STEP_2),
        ("2026-03-15", "2026-03-20", "5", STEP_3),
    ]


def test_a_step_back_after_a_slow_down_lasts_the_stretched_interval():
    plan = revised(
        {"kind": "slow_down", "from_date": "2026-03-02"},
        {"kind": "step_back", "from_date": "2026-03-08"},
    )
    # Slowed: 5, 5, 6, 6 days; the step interval 3 becomes 5.
    assert steps_of(plan) == [
        ("2026-03-02", "2026-03-06", *STEP_0[2:]),
        ("2026-03-07", "2026-03-07", "15", STEP_1),
        ("2026-03-08", "2026-03-12", *STEP_0[2:]),
        ("2026-03-13", "2026-03-17", "15", STEP_1),
        ("2026-03-18", "2026-03-23", "10", STEP_2),
        ("2026-03-24", "2026-03-29", "5", STEP_3),
    ]


def test_revisions_apply_in_order_each_to_the_plan_as_it_stands():
    plan = revised(
        {"kind": "hold", "from_date": "2026-03-13", "days": 3},
        # 2026-03-17 is after the original end (03-15) but inside the held plan (03-18).
        {"kind": "hold", "from_date": "2026-03-17", "days": 1},
    )
    assert plan.end_date == date(2026, 3, 19)
    assert plan.effective_from == date(2026, 3, 17)


def test_it_recomputes_events_dispense_and_guidance_from_the_revised_steps():
    before = plan_for(oral_input())
    plan = revised({"kind": "step_back", "from_date": "2026-03-06"})
    assert len(plan.dose_events) == sum(step.days * len(step.doses) for step in plan.steps)
    assert [e.step_index for e in plan.dose_events if e.local_date == date(2026, 3, 6)] == [2] * 3
    needed = sum(dose.amount_mg * step.days for step in plan.steps for dose in step.doses)
    supplied = sum(
        s.strength_mg * s.count for s in plan.dispense if isinstance(s, taper.TabletSupply)
    )
    assert (
        supplied
        >= needed
        > sum(dose.amount_mg * step.days for step in before.steps for dose in step.doses)
    )
    assert plan.missed_dose == plan.steps[0].missed_dose == before.missed_dose
    step_back = plan.steps[2]
    assert [g.time.strftime("%H:%M") for g in step_back.missed_dose] == ["08:00", "14:00", "20:00"]


def test_it_keeps_the_flags_and_adds_one_info_flag_per_revision():
    data = oral_input(patient={"age_years": 70}, pace={"length_days": 10})
    before = plan_for(data)
    data["revisions"] = [
        {"kind": "hold", "from_date": "2026-03-03", "days": 4},
        {"kind": "slow_down", "from_date": "2026-03-05"},
    ]
    plan = plan_for(data)
    # STEP_TOO_LARGE names the dates of its cuts, which the hold moves; the rest stay.
    moved = {"STEP_TOO_LARGE"}
    assert {f.code for f in before.flags} <= {f.code for f in plan.flags}
    kept = [flag for flag in before.flags if flag.code not in moved]
    assert set(kept) <= set(plan.flags)
    added = [flag for flag in plan.flags if flag not in before.flags and flag.code not in moved]
    assert [(flag.code, flag.severity, flag.source) for flag in added] == [
        ("REVISED", "info", "clinic default"),
        ("REVISED", "info", "clinic default"),
    ]
    assert added[0].message.startswith("Revised from 2026-03-03: hold ")
    assert added[1].message.startswith("Revised from 2026-03-05: slow the rest of the taper")
    # Still faster than the protocol (as approved): review again; nothing new is raised.
    assert [f.code for f in plan.flags].count("FASTER_THAN_PROTOCOL") == 1
    assert plan.requires_review is before.requires_review is True


def test_a_revision_of_a_plan_needing_no_review_needs_none():
    plan = revised({"kind": "step_back", "from_date": "2026-03-10"})
    assert not plan.requires_review


def test_it_echoes_the_revisions_and_the_effective_date_in_json():
    plan = revised(
        {"kind": "hold", "from_date": "2026-03-04", "days": 2},
        {"kind": "step_back", "from_date": "2026-03-09"},
    )
    data = taper.plan_to_json(plan)
    assert data["revisions"] == [
        {"kind": "hold", "from_date": "2026-03-04", "days": 2},
        {"kind": "step_back", "from_date": "2026-03-09"},
    ]
    assert data["effective_from"] == "2026-03-09"
    assert plan.revisions == (
        Revision(kind="hold", from_date=date(2026, 3, 4), days=2),
        Revision(kind="step_back", from_date=date(2026, 3, 9)),
    )


def test_the_json_echo_rebuilds_the_same_plan():
    data = oral_input(
        revisions=[
            {"kind": "slow_down", "from_date": "2026-03-03"},
            {"kind": "hold", "from_date": "2026-03-09", "days": 5},
            {"kind": "step_back", "from_date": "2026-03-20"},
        ]
    )
    output = json.loads(json.dumps(taper.plan_to_json(plan_for(data))))
    again = plan_for({**data, "revisions": output["revisions"]})
    assert taper.plan_to_json(again) == output


def test_an_unrevised_plan_is_effective_from_its_start():
    data = taper.plan_to_json(plan_for(oral_input()))
    assert data["revisions"] == []
    assert data["effective_from"] == data["start_date"] == "2026-03-02"
    assert taper.plan_to_json(plan_for(pump_input()))["effective_from"] == "2026-03-02"


# --- Refusals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("revisions", "expected"),
    [
        ("hold", {"revisions": ["Revisions must be a list of {kind, from_date, days}."]}),
        (
            [{"kind": "hold", "from_date": "2026-03-05", "days": 1}] * 21,
            {"revisions": ["Enter at most 20 revisions."]},
        ),
        (["hold"], {"revisions.0": ["Each revision must be an object with kind and from_date."]}),
        (
            [{"kind": "pause", "from_date": "2026-03-05"}],
            {"revisions.0.kind": ['The kind must be "hold", "step_back" or "slow_down".']},
        ),
        (
            [{"kind": "slow_down"}],
            {"revisions.0.from_date": ["Enter a date as YYYY-MM-DD."]},
        ),
        (
            [{"kind": "hold", "from_date": "2026-03-05"}],
            {"revisions.0.days": ["Enter the days to hold. A hold lasts from 1 to 60 days."]},
        ),
        (
            [{"kind": "hold", "from_date": "2026-03-05", "days": 61}],
            {"revisions.0.days": ["The hold length must be from 1 to 60 days."]},
        ),
        (
            [{"kind": "hold", "from_date": "2026-03-05", "days": 1.5}],
            {"revisions.0.days": ["The hold length must be a whole number."]},
        ),
        (
            [{"kind": "step_back", "from_date": "2026-03-05", "days": 3}],
            {"revisions.0.days": ["Days apply only to a hold."]},
        ),
        (
            [{"kind": "step_back", "from_date": "2026-03-05", "reason": "dizzy"}],
            {"revisions.0.reason": ['Unknown field "reason".']},
        ),
        (
            [
                {"kind": "hold", "from_date": "2026-03-08", "days": 2},
                {"kind": "slow_down", "from_date": "2026-03-07"},
            ],
            {
                "revisions.1.from_date": [
                    "Revisions apply in order: this one cannot start before the previous one "
                    "(2026-03-08)."
                ]
            },
        ),
        (
            [{"kind": "step_back", "from_date": "2026-03-01"}],
            {
                "revisions.0.from_date": [
                    "Choose a date within the plan as it stands before this revision "
                    "(2026-03-02 to 2026-03-22: a hold or step back may start up to 7 days "
                    "after the last dosing day)."
                ]
            },
        ),
        (
            [{"kind": "step_back", "from_date": "2026-03-23"}],
            {
                "revisions.0.from_date": [
                    "Choose a date within the plan as it stands before this revision "
                    "(2026-03-02 to 2026-03-22: a hold or step back may start up to 7 days "
                    "after the last dosing day)."
                ]
            },
        ),
        (
            [{"kind": "slow_down", "from_date": "2026-03-16"}],
            {
                "revisions.0.from_date": [
                    "Choose a date within the plan as it stands before this revision "
                    "(2026-03-02 to 2026-03-15)."
                ]
            },
        ),
        (
            [
                {"kind": "hold", "from_date": "2026-03-15", "days": 1},
                {"kind": "slow_down", "from_date": "2026-03-17"},
            ],
            {
                "revisions.1.from_date": [
                    "Choose a date within the plan as it stands before this revision "
                    "(2026-03-02 to 2026-03-16)."
                ]
            },
        ),
    ],
)
def test_it_refuses_revisions_it_cannot_apply(revisions: object, expected: object) -> None:
    assert errors_for(oral_input(revisions=revisions)) == expected


def test_it_refuses_revisions_on_a_pump_plan():
    errors = errors_for(pump_input(revisions=[{"kind": "slow_down", "from_date": "2026-03-05"}]))
    assert errors == {
        "revisions": [
            "Revisions apply only to oral plans; a pump plan changes through its wean steps."
        ]
    }


def test_plan_checks_revisions_again_for_a_request_built_by_hand():
    request = taper.parse_request(oral_input())
    late = replace(request, revisions=(Revision(kind="slow_down", from_date=date(2026, 4, 1)),))
    with pytest.raises(taper.InvalidPlanInput) as refused:
        taper.plan(late)
    assert list(refused.value.errors) == ["revisions.0.from_date"]
    bad = replace(
        request,
        revisions=(
            Revision(kind="hold", from_date=date(2026, 3, 5), days=0),
            Revision(kind="step_back", from_date=date(2026, 3, 4), days=2),
        ),
    )
    with pytest.raises(taper.InvalidPlanInput) as refused:
        taper.plan(bad)
    assert sorted(refused.value.errors) == [
        "revisions.0.days",
        "revisions.1.days",
        "revisions.1.from_date",
    ]
    pump = taper.parse_request(pump_input())
    with pytest.raises(taper.InvalidPlanInput) as refused:
        taper.plan(replace(pump, revisions=late.revisions))
    assert list(refused.value.errors) == ["revisions"]


# --- Properties --------------------------------------------------------------------


@st.composite
def revised_requests(draw: st.DrawFn) -> tuple[dict[str, Any], list[taper.TaperPlan]]:
    """A random valid oral request with 1–4 random valid revisions, and the plan as it
    stood before each revision and after the last."""
    data = draw(oral_requests())
    data["revisions"] = []
    plans = [plan_for(data)]
    assume(plans[0].steps)  # a plan that stops now has nothing to revise
    earliest = plans[0].start_date
    for _ in range(draw(st.integers(1, 4))):
        current = plans[-1]
        span = (current.end_date - earliest).days
        day = earliest + timedelta(days=draw(st.integers(0, span)))
        kind = draw(st.sampled_from(["hold", "step_back", "slow_down"]))
        revision: dict[str, Any] = {"kind": kind, "from_date": day.isoformat()}
        if kind == "hold":
            revision["days"] = draw(st.integers(1, 60))
        data["revisions"] = [*data["revisions"], revision]
        plans.append(plan_for(data))
        earliest = day
    return data, plans


def days_of(plan: taper.TaperPlan) -> dict[date, taper.Step]:
    by_day = {}
    for step in plan.steps:
        day = step.start_date
        while day <= step.end_date:
            by_day[day] = step
            day += timedelta(days=1)
    return by_day


@settings(max_examples=200, deadline=None)
@given(revised_requests())
def test_a_revision_leaves_every_day_before_its_from_date_as_it_was(
    case: tuple[dict[str, Any], list[taper.TaperPlan]],
) -> None:
    data, plans = case
    for revision, before, after in zip(data["revisions"], plans, plans[1:], strict=False):
        cut = date.fromisoformat(revision["from_date"])
        assert after.effective_from == cut
        old_days, new_days = days_of(before), days_of(after)
        for day in (d for d in old_days if d < cut):
            old, new = old_days[day], new_days[day]
            assert (old.index, old.start_date, old.daily_total_mg, old.doses) == (
                new.index,
                new.start_date,
                new.daily_total_mg,
                new.doses,
            )
        old_events = [e for e in before.dose_events if e.local_date < cut]
        new_events = [e for e in after.dose_events if e.local_date < cut]
        assert [replace(e, catch_up_until=e.at) for e in old_events] == [
            replace(e, catch_up_until=e.at) for e in new_events
        ]
        for old_event, new_event in zip(old_events, new_events, strict=True):
            # Only the last evening before a step back can see its window close earlier:
            # the step back may bring back an earlier first dose time on the from_date.
            if old_event.catch_up_until != new_event.catch_up_until:
                assert revision["kind"] == "step_back"
                assert old_event.local_date == cut - timedelta(days=1)
                assert new_event.catch_up_until.astimezone(UTC) < (
                    old_event.catch_up_until.astimezone(UTC)
                )
        # Never faster, never shorter: no new flag but the revision's own.
        assert after.end_date >= before.end_date
        assert after.duration_days >= before.duration_days
        assert after.required_length_days == before.required_length_days
        # STEP_TOO_LARGE names the dates of its cuts, which a revision moves; a longer
        # plan may newly reach the expected delivery date, and must then say so.
        dated = {"STEP_TOO_LARGE", "DELIVERY_BEFORE_END"}
        added = Counter(f for f in after.flags if f.code not in dated) - Counter(
            f for f in before.flags if f.code not in dated
        )
        assert [flag.code for flag in added.elements()] == ["REVISED"]
        assert not Counter(f for f in before.flags if f.code not in dated) - Counter(
            f for f in after.flags if f.code not in dated
        )
        codes_before = {f.code for f in before.flags}
        codes_after = {f.code for f in after.flags}
        assert ("STEP_TOO_LARGE" in codes_after) == ("STEP_TOO_LARGE" in codes_before)
        newly = codes_after - codes_before - {"REVISED"}
        assert newly <= {"DELIVERY_BEFORE_END"}
        if not newly:
            assert after.requires_review == before.requires_review
        else:
            assert after.requires_review


@settings(max_examples=200, deadline=None)
@given(revised_requests())
def test_a_revised_plan_keeps_every_invariant(
    case: tuple[dict[str, Any], list[taper.TaperPlan]],
) -> None:
    data, plans = case
    request = taper.parse_request(data)
    plan = plans[-1]
    assert_invariants(data, request, plan)
    # A step back never goes above the starting regimen.
    assert max(step.daily_total_mg for step in plan.steps) <= request.daily_total_mg
    assert taper.plan_to_json(taper.plan(request)) == taper.plan_to_json(plan)
    assert json.loads(json.dumps(taper.plan_to_json(plan)))["revisions"] == data["revisions"]
    assert Decimal(0) < plan.steps[-1].daily_total_mg


def test_a_step_back_that_brings_a_dose_time_back_keeps_the_other_invariants():
    data = oral_input(
        doses=[{"time": "08:00", "amount_mg": 5}, {"time": "20:00", "amount_mg": 5}],
        revisions=[{"kind": "step_back", "from_date": "2026-03-09"}],
    )
    request = taper.parse_request(data)
    plan = taper.plan(request)
    assert [len(step.doses) for step in plan.steps] == [2, 1, 2, 1, 1]
    assert_invariants(data, request, plan)
