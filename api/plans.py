"""Plan requests of the API, turned into the engine's input.

Preview takes exactly the JSON of `manage.py taper_plan --input` and answers exactly
its output. Creating a plan for a stored patient takes the same JSON without
`timezone` and `patient`: those come from the patient record, as on the plan page,
so the API cannot plan for facts the record does not hold. The plan is then saved by
planner.services.plan_create, which runs the engine again and applies the review
rules whoever calls it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.utils import timezone

import taper
from planner import continuity, zones
from planner.engine_input import patient_facts
from planner.models import Patient, TaperPlan

# Keys of the engine input that the API's plan request may carry.
REGIMEN_KEYS = (
    "product", "doses", "pump", "start_date", "goal", "pace", "abrupt_stop_reason",
    "product_options", "switch_to",
)
API_ONLY_KEYS = ("months_on_therapy", "submission_key")
FROM_PATIENT_RECORD = ("timezone", "patient")
ZONE_REFUSAL = (
    "Use the IANA name of a real place, such as Europe/London or America/New_York "
    "(not UTC, Etc/… or an alias such as US/Eastern)."
)


class PlanRefused(Exception):
    """The request cannot be planned; `errors` maps dotted field paths to sentences."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("plan refused")
        self.errors = errors


def preview(data: Any) -> dict[str, Any]:
    """The plan JSON for an engine input, or PlanRefused with the engine's errors. The
    zone must be a real place (planner.zones), as on every patient record; the engine
    itself (and `manage.py taper_plan`) takes any zone zoneinfo knows."""
    if isinstance(data, dict) and "timezone" in data and not zones.is_home_zone(
        data["timezone"]
    ):
        raise PlanRefused({"timezone": [ZONE_REFUSAL]})
    try:
        return taper.plan_to_json(taper.plan(taper.parse_request(data)))
    except taper.InvalidPlanInput as refusal:
        raise PlanRefused(dict(refusal.errors)) from None


def _start_date(data: dict[str, Any]) -> dt.date:
    # Only for the patient's age on the first day; a bad date is the engine's to refuse.
    try:
        return dt.date.fromisoformat(str(data.get("start_date")))
    except ValueError:
        return timezone.localdate()


def _months(data: dict[str, Any]) -> Any:
    months = data.get("months_on_therapy")
    # The engine reports a missing number for oral plans; the pump needs none.
    if months is None and data.get("product") == "baclofen-intrathecal":
        return 0
    return months


def engine_input_for(patient: Patient, data: Any) -> dict[str, Any]:
    """The engine input of an API plan request for a stored patient."""
    if not isinstance(data, dict):
        raise PlanRefused({"__all__": ["Send a JSON object."]})
    errors: dict[str, list[str]] = {}
    for key in data:
        if key in FROM_PATIENT_RECORD:
            errors[key] = [f'"{key}" comes from the patient record; edit the patient instead.']
        elif key not in REGIMEN_KEYS and key not in API_ONLY_KEYS:
            errors[key] = [f'Unknown field "{key}".']
    key = data.get("submission_key")
    if key is not None and not (isinstance(key, str) and 0 < len(key) <= 64):
        errors["submission_key"] = ["Give a string of 1 to 64 characters."]
    if errors:
        raise PlanRefused(errors)
    engine_input = {key: data[key] for key in REGIMEN_KEYS if key in data}
    engine_input["timezone"] = patient.home_timezone
    engine_input["patient"] = patient_facts(patient, _start_date(data), 0)
    months = _months(data)
    if months is None:
        del engine_input["patient"]["months_on_therapy"]
    else:
        engine_input["patient"]["months_on_therapy"] = months
    try:
        engine_plan = taper.plan(taper.parse_request(engine_input))
    except taper.InvalidPlanInput as refusal:
        raise PlanRefused(
            {_api_field(key): messages for key, messages in refusal.errors.items()}
        ) from None
    late = continuity.start_refusal(engine_plan.start_date, patient.home_timezone, timezone.now())
    if late is not None:
        raise PlanRefused({"start_date": [late]})
    return engine_input


def _api_field(engine_key: str) -> str:
    """The API field an engine error belongs to; patient facts are the record's."""
    if engine_key == "patient.months_on_therapy":
        return "months_on_therapy"
    return engine_key


def same_request(plan: TaperPlan, engine_input: dict[str, Any]) -> bool:
    """Whether a repeated submission_key came with the request that made `plan`: the
    same regimen and months on therapy (the patient facts come from the record)."""
    first = plan.revisions.order_by("number").first()
    return first is not None and _request_part(first.engine_input) == _request_part(
        engine_input
    )


def _request_part(engine_input: dict[str, Any]) -> str:
    sent = {key: engine_input[key] for key in REGIMEN_KEYS if key in engine_input}
    sent["months_on_therapy"] = engine_input.get("patient", {}).get("months_on_therapy")
    return json.dumps(sent, sort_keys=True, default=str)


def submission_key_for(patient: Patient, key: str | None) -> str | None:
    """The stored one-time key of an API request: the caller's key, bound to the patient
    (keys are unique across all plans, and one caller's key must never find another
    patient's plan)."""
    if key is None:
        return None
    return hashlib.sha256(f"api:{patient.pk}:{key}".encode()).hexdigest()
