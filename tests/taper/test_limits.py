"""The engine refuses a pregnancy that cannot be true (taper.limits), by the field."""

from __future__ import annotations

from typing import Any

import pytest

import taper


def refusals(**patient: Any) -> Any:
    with pytest.raises(taper.InvalidPlanInput) as refused:
        taper.parse_request({"product": "baclofen-intrathecal", "patient": patient})
    return refused.value.errors


def test_a_male_patient_cannot_be_pregnant():
    errors = refusals(age_years=40, sex="male", pregnancy_trimester=2)
    assert "cannot be pregnant" in errors["patient.pregnancy_trimester"][0]


def test_a_pregnancy_past_the_clinic_age_limit_is_refused():
    assert "up to age 60" in refusals(age_years=70, pregnancy_trimester=1)[
        "patient.pregnancy_trimester"][0]
    assert "patient.pregnancy_trimester" not in refusals(age_years=60, pregnancy_trimester=1)
    assert "patient.pregnancy_trimester" not in refusals(age_years=70, pregnancy_trimester=0)
