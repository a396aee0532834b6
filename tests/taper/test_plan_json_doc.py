"""docs/plan-json.md shows real engine output: its examples are run and compared here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import taper

DOC = Path(__file__).resolve().parents[2] / "docs" / "plan-json.md"
EXAMPLE = re.compile(r"Input:\s*```json\n(.*?)```\s*Output[^\n]*:\s*```json\n(.*?)```", re.DOTALL)


def examples() -> list[tuple[str, str]]:
    return EXAMPLE.findall(DOC.read_text())


def test_it_documents_twelve_examples():
    # 9 to 11: one per drug class of issue #22; 12: a switch to diazepam.
    assert len(examples()) == 12


@pytest.mark.parametrize(("given", "shown"), examples())
def test_it_returns_what_the_document_shows(given: str, shown: str) -> None:
    data = json.loads(given)
    actual: dict[str, object]
    try:
        actual = taper.plan_to_json(taper.plan(taper.parse_request(data)))
    except taper.InvalidPlanInput as exc:
        actual = {"errors": exc.errors}
    assert actual == json.loads(shown)
