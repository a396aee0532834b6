"""`manage.py taper_plan` as a user runs it: bad input ends with exit status 2 and a
message naming the problem (the field, where there is one), never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.taper import oral_input

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DEBUG": "1", "LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "manage.py", "taper_plan", *args],
        cwd=ROOT, env=env, input=stdin, capture_output=True, timeout=60, check=False,
    )


def refused(body: bytes, *extra: str) -> tuple[str, Any]:
    """Runs the command twice on `body` from stdin: as text and as JSON."""
    text = run("--input", "-", *extra, stdin=body)
    assert text.returncode == 2, text.stderr
    assert b"Traceback" not in text.stderr
    as_json = run("--input", "-", "--format", "json", stdin=body)
    assert as_json.returncode == 2, as_json.stderr
    assert b"Traceback" not in as_json.stderr
    return text.stderr.decode(), json.loads(as_json.stdout)["errors"]


def test_a_valid_input_prints_the_plan() -> None:
    done = run("--input", "-", "--format", "json", stdin=json.dumps(oral_input()).encode())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["duration_days"] >= 14


@pytest.mark.parametrize(
    "body",
    [b"{", b"not json", b"", b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000],
    ids=["truncated", "text", "empty", "binary", "nested-deeply"],
)
def test_malformed_json_is_refused(body: bytes) -> None:
    text, errors = refused(body)
    assert "input: The input is not valid JSON" in text
    assert list(errors) == ["input"]


def test_nan_and_infinity_are_refused_as_not_numbers() -> None:
    body = json.dumps(oral_input()).replace('"amount_mg": 10', '"amount_mg": NaN', 1)
    text, errors = refused(body.encode())
    assert "NaN is not a number" in text
    assert list(errors) == ["input"]


def test_a_huge_body_is_refused_before_it_is_parsed() -> None:
    body = b'{"padding": "' + b"x" * 1_100_000 + b'"}'
    text, errors = refused(body)
    assert "larger than 1,000,000 bytes" in text
    assert list(errors) == ["input"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"doses": [{"time": "08:00", "amount_mg": "ten"}]}, "doses.0.amount_mg"),
        ({"doses": [{"time": "08:00", "amount_mg": 10**400}]}, "doses.0.amount_mg"),
        ({"doses": [{"time": "25:61", "amount_mg": 10}]}, "doses.0.time"),
        ({"patient": {"age_years": 10**30}}, "patient.age_years"),
        ({"start_date": 20260302}, "start_date"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"product": ["baclofen"]}, "product"),
    ],
    ids=["text-amount", "huge-amount", "bad-time", "huge-age", "date-as-number",
         "unknown-zone", "list-product"],
)
def test_wrong_types_and_huge_numbers_name_their_field(
    change: dict[str, Any], field: str
) -> None:
    data = oral_input()
    data.update(change)
    if "patient" in change:
        data["patient"] = {**oral_input()["patient"], **change["patient"]}
    text, errors = refused(json.dumps(data).encode())
    assert field in errors, errors
    assert f"{field}: " in text


def test_a_huge_number_is_called_too_large_not_quoted_as_another_number() -> None:
    data = oral_input(doses=[{"time": "08:00", "amount_mg": 10**400}])
    _text, errors = refused(json.dumps(data).encode())
    assert errors["doses.0.amount_mg"] == ["The dose is far too large to be real; check it."]


def test_a_missing_file_is_named() -> None:
    done = run("--input", "/nonexistent/plan.json")
    assert done.returncode == 2
    assert b"Cannot read /nonexistent/plan.json" in done.stderr
    assert b"Traceback" not in done.stderr
