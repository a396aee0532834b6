"""Typical patients, input and expected output as readable JSON (see golden/README.md).

Run `python -m tests.taper.test_golden --write` to rewrite the expected files after a
deliberate change, then hand-check the diff against CLINICAL.md before committing it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import taper

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(path.name.removesuffix(".input.json") for path in GOLDEN.glob("*.input.json"))


def outcome(name: str) -> tuple[str, Any]:
    data = json.loads((GOLDEN / f"{name}.input.json").read_text())
    try:
        plan = taper.plan(taper.parse_request(data))
    except taper.InvalidPlanInput as exc:
        return "errors", {"errors": exc.errors}
    return "expected", taper.plan_to_json(plan)


@pytest.mark.parametrize("name", CASES)
def test_it_matches_the_hand_checked_golden_output(name: str) -> None:
    kind, actual = outcome(name)
    expected = json.loads((GOLDEN / f"{name}.{kind}.json").read_text())
    assert actual == expected


def test_it_keeps_the_golden_outputs_json_serialisable() -> None:
    for name in CASES:
        _, actual = outcome(name)
        assert json.loads(json.dumps(actual)) == actual


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    for name in CASES:
        kind, actual = outcome(name)
        text = json.dumps(actual, indent=2, ensure_ascii=False) + "\n"
        (GOLDEN / f"{name}.{kind}.json").write_text(text)
        print(f"wrote {name}.{kind}.json")
