"""Whatever JSON-like value comes in, only InvalidPlanInput comes out, keyed by field path."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import taper
from taper.intake import PATIENT_FIELDS, PUMP_FIELDS, TOP_LEVEL_FIELDS
from tests.support.taper import oral_input, pump_input

KNOWN_PATH = re.compile(
    r"(__all__|product|start_date|timezone|abrupt_stop_reason|switch_to"
    r"|doses(\.\d+(\.(time|amount_mg))?)?"
    r"|goal(\.(type|target_daily_mg))?"
    r"|pace(\.(length_days|step_days|shape))?"
    rf"|patient(\.({'|'.join(PATIENT_FIELDS)}))?|patient\.cns_depressants\.\d+"
    rf"|pump(\.({'|'.join(PUMP_FIELDS)}))?"
    r"|pump\.wean_steps\.\d+(\.(visit_date|daily_dose_mcg))?"
    r"|revisions(\.\d+(\.(kind|from_date|days))?)?)"
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.text(min_size=300, max_size=2000)
    | st.sampled_from(
        [
            "08:00",
            "23:59",
            "2026-03-02",
            "2099-12-31",
            "Europe/London",
            "../../etc/passwd",
            "discontinue",
            "reduce",
            "slower",
            "proportional",
            "female",
            "opioid",
            "baclofen-oral-tablet",
            "baclofen-intrathecal",
            "hold",
            "step_back",
            "slow_down",
            "2026-03-06",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=25,
) | st.just([{"time": "08:00", "amount_mg": 5}] * 10_000)

LEAF_PATHS = [
    ("product",),
    ("doses",),
    ("doses", 0),
    ("doses", 0, "time"),
    ("doses", 0, "amount_mg"),
    ("doses", 1, "time"),
    ("start_date",),
    ("timezone",),
    ("goal",),
    ("goal", "type"),
    ("goal", "target_daily_mg"),
    ("pace",),
    ("pace", "length_days"),
    ("abrupt_stop_reason",),
    ("patient",),
    *[("patient", field) for field in PATIENT_FIELDS],
    ("pump",),
    *[("pump", field) for field in PUMP_FIELDS],
    ("pump", "wean_steps", 0, "visit_date"),
    ("revisions",),
    ("revisions", 0),
    ("revisions", 0, "kind"),
    ("revisions", 0, "from_date"),
    ("revisions", 0, "days"),
    ("revisions", 1, "kind"),
    ("unexpected",),
]


def check_outcome(data: Any) -> None:
    try:
        request = taper.parse_request(data)
    except taper.InvalidPlanInput as exc:
        check_errors(exc.errors)
        return
    try:
        plan = taper.plan(request)
    except taper.InvalidPlanInput as exc:
        check_errors(exc.errors)
        return
    json.dumps(taper.plan_to_json(plan))
    assert taper.plan_to_text(plan)


def check_errors(errors: dict[str, list[str]]) -> None:
    assert errors
    for path, messages in errors.items():
        assert messages
        assert all(isinstance(m, str) and m.strip() and len(m) < 600 for m in messages)
        unknown = all(m.startswith("Unknown field") for m in messages)
        assert KNOWN_PATH.fullmatch(path) or unknown, path


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(st.sampled_from([*TOP_LEVEL_FIELDS, "extra"]), json_values, max_size=9)
    | json_values
)
def test_it_raises_only_invalid_plan_input_for_arbitrary_json(data: Any) -> None:
    check_outcome(data)


@settings(max_examples=1000, deadline=None)
@given(
    base=st.sampled_from([oral_input(), pump_input()]),
    changes=st.lists(
        st.tuples(st.sampled_from(LEAF_PATHS), json_values | st.just(KeyError)),
        min_size=1,
        max_size=4,
    ),
)
def test_it_raises_only_invalid_plan_input_for_a_valid_request_with_bad_parts(
    base: dict[str, Any], changes: list[tuple[tuple[Any, ...], Any]]
) -> None:
    data = copy.deepcopy(base)
    for path, value in changes:
        put(data, path, value)
    check_outcome(data)


def put(data: Any, path: tuple[Any, ...], value: Any) -> None:
    """Set (or, for KeyError, delete) one value deep inside, creating parents as needed."""
    *parents, last = path
    for key in parents:
        if isinstance(data, dict):
            data = data.setdefault(key, {} if isinstance(key, str) else [])
        elif isinstance(data, list) and isinstance(key, int):
            while len(data) <= key:
                data.append({})
            data = data[key]
        else:
            return
    if isinstance(data, dict):
        if value is KeyError:
            data.pop(last, None)
        else:
            data[last] = value
    elif isinstance(data, list) and isinstance(last, int) and value is not KeyError:
        while len(data) <= last:
            data.append({})
        data[last] = value
