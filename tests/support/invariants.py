"""CLINICAL.md's invariants as a check on any oral plan, and a hypothesis strategy of
random valid oral regimens; tests/taper/test_properties.py and test_revise.py use both."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

import taper
from taper.limits import PREGNANCY_MAX_AGE_YEARS
from taper.render import plan_cuts
from taper.rounding import LiquidSupply, LiquidVolume, TabletSupply, TabletUnits

ORAL_PRODUCTS = {
    "baclofen-oral-tablet": Decimal("2.5"),
    "baclofen-oral-solution": Decimal("0.5"),
    "baclofen-oral-suspension": Decimal("2.5"),
}
ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",  # a 30-minute daylight-saving shift
    "Asia/Kolkata",
]


@st.composite
def oral_requests(draw: st.DrawFn) -> dict[str, Any]:
    product = draw(st.sampled_from(sorted(ORAL_PRODUCTS)))
    quantum = ORAL_PRODUCTS[product]
    minutes = draw(
        st.lists(st.integers(0, 24 * 60 - 1), min_size=1, max_size=4, unique=True).map(sorted)
    )
    per_dose_max = int(Decimal(60) / quantum)  # 4 × 60 = 240 mg, the plausibility limit
    quanta = draw(
        st.lists(st.integers(1, per_dose_max), min_size=len(minutes), max_size=len(minutes))
    )
    roles = draw(
        st.lists(
            st.sampled_from([None, "morning", "midday", "evening", "bedtime", "night"]),
            min_size=len(minutes),
            max_size=len(minutes),
        )
    )
    doses = [
        {"time": f"{m // 60:02d}:{m % 60:02d}", "amount_mg": float(q * quantum)}
        | ({"role": role} if role else {})
        for m, q, role in zip(minutes, quanta, roles, strict=True)
    ]
    daily_quanta = sum(quanta)
    goal: dict[str, Any] = {"type": "discontinue"}
    if daily_quanta > 1 and draw(st.booleans()):
        target = draw(st.integers(1, daily_quanta - 1))
        goal = {"type": "reduce", "target_daily_mg": float(target * quantum)}

    patient: dict[str, Any] = {
        "age_years": draw(st.integers(2, 100)),
        "months_on_therapy": draw(st.integers(0, 120)),
        "seizure_history": draw(st.booleans()),
        "pregnancy_trimester": draw(st.integers(0, 3)),
        "breastfeeding": draw(st.booleans()),
        "cns_depressants": draw(
            st.lists(
                st.sampled_from(["opioid", "benzodiazepine", "sleep_medication", "alcohol"]),
                unique=True,
            )
        ),
    }
    if draw(st.booleans()):
        patient["weight_kg"] = draw(st.integers(10, 150))
    if draw(st.booleans()):
        patient["height_cm"] = draw(st.integers(60, 200))
    if draw(st.booleans()):
        patient["dialysis"] = draw(st.booleans())
    if draw(st.booleans()):
        patient["expected_delivery_date"] = (
            date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 500)))
        ).isoformat()
    kidney = draw(st.sampled_from(["none", "crcl", "serum"]))
    if kidney == "crcl":
        patient["creatinine_clearance_ml_min"] = draw(st.integers(5, 150))
    elif kidney == "serum":
        patient.update(
            weight_kg=draw(st.integers(30, 150)),
            sex=draw(st.sampled_from(["female", "male"])),
            serum_creatinine_mg_dl=draw(st.sampled_from([0.6, 0.9, 1.2, 2.0, 3.5, 6.0])),
        )
        if patient["age_years"] < 18:
            patient["height_cm"] = draw(st.integers(60, 200))  # bedside Schwartz needs it
    if patient.get("sex") == "male" or patient["age_years"] > PREGNANCY_MAX_AGE_YEARS.value:
        patient["pregnancy_trimester"] = 0  # the engine refuses a pregnancy that cannot be

    data: dict[str, Any] = {
        "product": product,
        "doses": doses,
        "start_date": (date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 365)))).isoformat(),
        "timezone": draw(st.sampled_from(ZONES)),
        "goal": goal,
        "patient": patient,
    }
    pace = draw(st.sampled_from(["default", "standard", "slower", "custom", "abrupt"]))
    if pace in ("standard", "slower"):
        data["pace"] = pace
    elif pace == "custom":
        custom: dict[str, Any] = {}
        if draw(st.booleans()):
            custom["length_days"] = draw(st.integers(7, 120))
        if draw(st.booleans()):
            custom["step_days"] = draw(st.integers(2, 10))
        if draw(st.booleans()):
            custom["shape"] = draw(st.sampled_from(["linear", "proportional"]))
            if custom["shape"] == "proportional" and draw(st.booleans()):
                custom["percent_per_step"] = draw(st.integers(5, 50))
        data["pace"] = custom
    elif pace == "abrupt" and goal["type"] == "discontinue":
        data["pace"] = {"length_days": draw(st.integers(0, 6))}  # 0: stop now
        data["abrupt_stop_reason"] = "serious adverse reaction"
    return data


def daily_totals(plan: taper.TaperPlan) -> dict[date, Decimal]:
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for event in plan.dose_events:
        totals[event.local_date] += event.amount_mg
    return totals


def assert_invariants(
    data: dict[str, Any],
    request: taper.PlanRequest,
    plan: taper.TaperPlan,
    *,
    hard_floor_days: int = 7,
    review_below_age: int = 12,
    window: tuple[int, Decimal] | None = None,
) -> None:
    """CLINICAL.md's invariants; test_revise.py runs them on revised plans too.

    A step back (a clinician's revision) is the one place where the daily total may
    rise, and with it a dose time of an earlier step may come back: only on that
    revision's from_date, and never above the starting regimen.
    """
    step_backs = {r.from_date for r in request.revisions if r.kind == "step_back"}
    start_times = {dose.time for dose in request.doses}
    product = request.product
    quantum = product.dose_quantum_mg
    zone = ZoneInfo(request.timezone)
    codes = {flag.code for flag in plan.flags}
    age = request.patient.age_years
    assert age is not None

    # Review: critical flags, a plan faster or steeper than the protocol, any child under 12.
    assert plan.requires_review == (
        any(flag.severity == "critical" for flag in plan.flags)
        or bool(codes & {"FASTER_THAN_PROTOCOL", "STEP_TOO_LARGE"})
        or age < review_below_age
    )

    # 9. No cut larger than the protocol's largest cut, unless flagged and reviewed.
    assert plan.largest_cut_mg is not None
    cuts = plan_cuts(plan)
    window_too_large = window is not None and _window_too_large(request, plan, *window)
    if any(cut > plan.largest_cut_mg for cut in cuts):
        assert "STEP_TOO_LARGE" in codes
        assert plan.requires_review
    elif window_too_large:
        # The class guardrail (benzodiazepines: 25 % in any 14 days) raises it alone.
        assert "STEP_TOO_LARGE" in codes
        assert plan.requires_review
    else:
        assert "STEP_TOO_LARGE" not in codes
    if ("pace" not in data or isinstance(data["pace"], str)) and not window_too_large:
        assert "STEP_TOO_LARGE" not in codes  # the protocol's own pace keeps its limit
    # 10. Cuts never grow (a revision re-uses cuts the plan already had).
    if not request.revisions:
        assert all(later <= earlier for earlier, later in pairwise(cuts))

    if not plan.steps:  # "stop now": no further doses, an explicit abrupt stop
        assert request.pace.stop_now
        assert request.abrupt_stop_reason
        assert plan.dose_events == ()
        assert plan.dispense == ()
        assert plan.duration_days == 0
        assert {"ABRUPT_STOP", "FASTER_THAN_PROTOCOL"} <= codes  # STEP_TOO_LARGE: as above
        return

    # Steps are contiguous and cover start..end; the length is counted inclusively.
    assert plan.steps[0].start_date == plan.start_date == request.start_date
    for earlier, later in pairwise(plan.steps):
        assert later.start_date == earlier.end_date + timedelta(days=1)
    assert plan.steps[-1].end_date == plan.end_date
    assert (plan.end_date - plan.start_date).days + 1 == plan.duration_days
    if not request.revisions:  # a revision may end a step early (then steps back)
        for step in plan.steps:
            assert step.days >= min(plan.step_interval_days or 1, plan.duration_days)

    # 1. The daily total never increases from one day to the next (nor from today's dose).
    totals = daily_totals(plan)
    days = sorted(totals)
    assert days == [plan.start_date + timedelta(days=i) for i in range(plan.duration_days)]
    previous = request.daily_total_mg
    for day in days:
        if day in step_backs:
            assert totals[day] <= request.daily_total_mg
        else:
            assert totals[day] <= previous
        previous = totals[day]

    # 2. Every dose is a positive whole number of product units, built from what exists.
    for step in plan.steps:
        assert step.daily_total_mg == sum(dose.amount_mg for dose in step.doses)
        for dose in step.doses:
            assert dose.amount_mg > 0
            assert dose.amount_mg % quantum == 0
            if product.is_solid:
                halves = [u for u in dose.units if isinstance(u, TabletUnits) and u.count % 1]
                assert len(halves) <= 1
                assert all(u.count % Decimal("0.5") == 0 and u.count > 0 for u in dose.units)
                splittable = {s.amount for s in product.strengths if s.splittable}
                assert all(u.strength_mg in splittable for u in halves)
                made = sum(
                    u.strength_mg * u.count for u in dose.units if isinstance(u, TabletUnits)
                )
            else:
                (unit,) = dose.units
                assert isinstance(unit, LiquidVolume)
                made = unit.volume_ml * product.concentration_mg_per_ml
            assert made == dose.amount_mg

    # 3. Discontinue: nothing after the last day. Reduce: ends exactly at the target.
    assert max(event.local_date for event in plan.dose_events) == plan.end_date
    goal = request.goal
    assert goal is not None
    if goal.type == "reduce":
        assert plan.steps[-1].daily_total_mg == goal.target_daily_mg
        assert totals[plan.end_date] == goal.target_daily_mg

    # 4. At least as long as the protocol requires, unless flagged faster or an abrupt stop.
    if plan.duration_days < plan.required_length_days:
        assert "FASTER_THAN_PROTOCOL" in codes
        assert plan.requires_review
    if "pace" not in data or isinstance(data["pace"], str):
        assert plan.duration_days >= plan.required_length_days
    if goal.type == "discontinue" and plan.duration_days < hard_floor_days:
        assert "ABRUPT_STOP" in codes
        assert request.abrupt_stop_reason
    elif not request.revisions:  # a revision keeps the flags the plan was approved with
        assert "ABRUPT_STOP" not in codes

    # 5. No step adds a dose time; one that is gone never comes back.
    times = [{dose.time for dose in step.doses} for step in plan.steps]
    assert times[0] <= {dose.time for dose in request.doses}
    for (earlier_times, later_times), step in zip(pairwise(times), plan.steps[1:], strict=True):
        if step.start_date in step_backs:
            assert later_times <= start_times
        else:
            assert later_times <= earlier_times

    # 6. Dispensing covers every dose, per strength.
    if product.is_solid:
        needed: dict[Decimal, Decimal] = defaultdict(Decimal)
        for step in plan.steps:
            for dose in step.doses:
                for unit in dose.units:
                    assert isinstance(unit, TabletUnits)
                    needed[unit.strength_mg] += unit.count * step.days
        supplied = {s.strength_mg: s.count for s in plan.dispense if isinstance(s, TabletSupply)}
        for strength, count in needed.items():
            assert supplied[strength] >= count
    else:
        total_ml = sum(event.amount_mg for event in plan.dose_events) / (
            product.concentration_mg_per_ml
        )
        supplied_ml = [s.volume_ml for s in plan.dispense if isinstance(s, LiquidSupply)]
        assert sum(supplied_ml, Decimal(0)) >= total_ml

    # 7. Every dose time has guidance with a concrete "take it until HH:MM".
    for step in plan.steps:
        guided = {guidance.time for guidance in step.missed_dose}
        assert guided == {dose.time for dose in step.doses}
        for guidance in step.missed_dose:
            assert f"up to {guidance.take_until:%H:%M}" in guidance.text
    assert plan.missed_dose == plan.steps[0].missed_dose

    # Each catch-up window ends by the next dose in real time. Compare instants in UTC:
    # Python compares two datetimes of one zone by wall clock, ignoring fold.
    in_time = sorted(plan.dose_events, key=lambda e: e.at.astimezone(UTC))
    for event, following in zip(in_time, [*in_time[1:], None], strict=True):
        at, until = event.at.astimezone(UTC), event.catch_up_until.astimezone(UTC)
        assert at <= until
        if following is not None:
            assert until <= following.at.astimezone(UTC)

    # 8. Wall-clock times in the patient's zone; dose events match the steps.
    by_step = {step.index: step for step in plan.steps}
    expected_events = sum(step.days * len(step.doses) for step in plan.steps)
    assert len(plan.dose_events) == expected_events
    for event in plan.dose_events:
        step = by_step[event.step_index]
        assert step.start_date <= event.local_date <= step.end_date
        scheduled = {dose.time: dose.amount_mg for dose in step.doses}
        assert scheduled[event.local_time] == event.amount_mg
        assert event.slot == f"{event.local_time:%H:%M}"
        assert event.timezone == request.timezone
        assert event.at.tzinfo == zone
        wall = event.at.replace(tzinfo=None)
        naive = (event.local_date, event.local_time)
        exists = wall.date() == naive[0] and wall.time() == naive[1]
        # Only a time inside a spring-forward gap may move, and only forwards.
        assert exists or (wall > wall.combine(*naive) and event.at.utcoffset() is not None)


def _window_too_large(
    request: taper.PlanRequest, plan: taper.TaperPlan, days: int, percent: Decimal
) -> bool:
    """Whether any window of `days` days, from the day before the plan to its last dosing
    day (the final step to zero excepted), cuts more than `percent` % of its first day."""
    totals = daily_totals(plan)
    levels = [request.daily_total_mg] + [totals[day] for day in sorted(totals)]
    return any(
        (levels[i] - levels[min(i + days - 1, len(levels) - 1)]) * 100 > percent * levels[i]
        for i in range(len(levels) - 1)
    )


DRUG_PRODUCTS = (
    "diazepam-oral-tablet",
    "diazepam-oral-solution",
    "clonazepam-oral-tablet",
    "clonazepam-oral-odt",
    "lorazepam-oral-tablet",
    "alprazolam-oral-tablet",
    "zolpidem-oral-tablet",
    "gabapentin-oral-capsule",
    "gabapentin-oral-tablet",
    "gabapentin-oral-solution",
    "pregabalin-oral-capsule",
    "pregabalin-oral-solution",
)


@st.composite
def drug_requests(draw: st.DrawFn, product: str) -> dict[str, Any]:
    """Random valid regimens of one #22 product, within its protocol's own limits."""
    catalogue = taper.load_catalogue()
    found = catalogue.product(product)
    assert found is not None
    protocol = catalogue.protocol_for(found)
    assert isinstance(protocol, taper.OralProtocol)
    quantum = found.dose_quantum_mg
    most_times = min(4, protocol.max_doses_per_day.value)
    minutes = draw(
        st.lists(st.integers(0, 24 * 60 - 1), min_size=1, max_size=most_times, unique=True).map(
            sorted
        )
    )
    per_dose = min(
        protocol.implausible_single_dose_mg.value,
        protocol.implausible_daily_dose_mg.value / len(minutes),
    )
    # Up to 40 units a dose: long tapers without a few thousand-step plans.
    per_dose_max = max(1, min(40, int(per_dose / quantum)))
    quanta = draw(
        st.lists(st.integers(1, per_dose_max), min_size=len(minutes), max_size=len(minutes))
    )
    fixed_roles = protocol.dose_roles.value if protocol.dose_roles is not None else None
    doses = [
        {"time": f"{m // 60:02d}:{m % 60:02d}", "amount_mg": float(q * quantum)}
        | ({"role": draw(st.sampled_from(fixed_roles))} if fixed_roles else {})
        for m, q in zip(minutes, quanta, strict=True)
    ]
    daily_quanta = sum(quanta)
    goal: dict[str, Any] = {"type": "discontinue"}
    if daily_quanta > 1 and draw(st.booleans()):
        target = draw(st.integers(1, daily_quanta - 1))
        goal = {"type": "reduce", "target_daily_mg": float(target * quantum)}
    patient: dict[str, Any] = {
        "age_years": draw(st.integers(18, 100)),
        "months_on_therapy": draw(st.integers(0, 120)),
        "seizure_history": draw(st.booleans()),
        "breastfeeding": draw(st.booleans()),
        "cns_depressants": draw(
            st.lists(
                st.sampled_from(["opioid", "benzodiazepine", "sleep_medication", "alcohol"]),
                unique=True,
            )
        ),
    }
    if draw(st.booleans()):
        patient["creatinine_clearance_ml_min"] = draw(st.integers(5, 150))
    if draw(st.booleans()):
        patient["dialysis"] = draw(st.booleans())
    if patient["age_years"] <= PREGNANCY_MAX_AGE_YEARS.value:
        patient["pregnancy_trimester"] = draw(st.integers(0, 3))
    data: dict[str, Any] = {
        "product": product,
        "doses": doses,
        "start_date": (date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 365)))).isoformat(),
        "timezone": draw(st.sampled_from(ZONES)),
        "goal": goal,
        "patient": patient,
    }
    floor = protocol.hard_floor_days.value
    pace = draw(st.sampled_from(["default", "standard", "slower", "custom", "abrupt"]))
    if pace in ("standard", "slower"):
        data["pace"] = pace
    elif pace == "custom":
        custom: dict[str, Any] = {}
        if draw(st.booleans()):
            custom["length_days"] = draw(st.integers(floor, 180))
        if draw(st.booleans()):
            custom["step_days"] = draw(st.integers(protocol.min_step_interval_days.value, 30))
        if draw(st.booleans()):
            custom["shape"] = draw(st.sampled_from(["linear", "proportional"]))
            if custom["shape"] == "proportional" and draw(st.booleans()):
                low = int(protocol.min_percent_per_step.value + 1)
                custom["percent_per_step"] = draw(
                    st.integers(low, int(protocol.max_percent_per_step.value))
                )
        data["pace"] = custom
    elif pace == "abrupt" and goal["type"] == "discontinue":
        data["pace"] = {"length_days": draw(st.integers(0, floor - 1))}  # 0: stop now
        data["abrupt_stop_reason"] = "serious adverse reaction"
    return data


def drug_invariant_options(product: str) -> dict[str, Any]:
    """The protocol numbers assert_invariants needs for a #22 product."""
    catalogue = taper.load_catalogue()
    found = catalogue.product(product)
    assert found is not None
    protocol = catalogue.protocol_for(found)
    assert isinstance(protocol, taper.OralProtocol)
    window = None
    if protocol.window_days is not None and protocol.window_max_cut_percent is not None:
        window = (protocol.window_days.value, protocol.window_max_cut_percent.value)
    return {
        "hard_floor_days": protocol.hard_floor_days.value,
        "review_below_age": protocol.risks.review_every_plan_below_age_years.value,
        "window": window,
    }
