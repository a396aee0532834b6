"""Plan requests as the clinician would type them, with sensible defaults to override."""

from __future__ import annotations

from typing import Any

import taper


def oral_input(**overrides: Any) -> dict[str, Any]:
    """30 mg a day of tablets in three doses, a 45-year-old on it for three months."""
    data: dict[str, Any] = {
        "product": "baclofen-oral-tablet",
        "doses": [
            {"time": "08:00", "amount_mg": 10},
            {"time": "14:00", "amount_mg": 10},
            {"time": "20:00", "amount_mg": 10},
        ],
        "start_date": "2026-03-02",
        "timezone": "Europe/London",
        "goal": {"type": "discontinue"},
        "patient": {"age_years": 45, "months_on_therapy": 3},
    }
    patient = overrides.pop("patient", {})
    data.update(overrides)
    data["patient"] = {**data["patient"], **patient}
    return data


def pump_input(**overrides: Any) -> dict[str, Any]:
    """A 500 mcg/mL pump at 100 mcg a day: 20 mL reservoir, alarm at 2 mL."""
    pump = {
        "concentration_mcg_per_ml": 500,
        "daily_dose_mcg": 100,
        "reservoir_ml": 20,
        "alarm_volume_ml": 2,
        "last_refill_date": "2026-03-01",
    }
    pump.update(overrides.pop("pump", {}))
    data: dict[str, Any] = {
        "product": "baclofen-intrathecal",
        "pump": pump,
        "start_date": "2026-03-02",
        "timezone": "America/New_York",
        "patient": {"age_years": 40},
    }
    patient = overrides.pop("patient", {})
    data.update(overrides)
    data["patient"] = {**data["patient"], **patient}
    return data


def plan_for(data: dict[str, Any]) -> taper.TaperPlan:
    return taper.plan(taper.parse_request(data))


def errors_for(data: dict[str, Any]) -> dict[str, list[str]]:
    try:
        taper.parse_request(data)
    except taper.InvalidPlanInput as exc:
        return exc.errors
    raise AssertionError("the request was accepted")


def flag_codes(plan: taper.TaperPlan) -> set[str]:
    return {flag.code for flag in plan.flags}
