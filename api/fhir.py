"""A taper plan as a FHIR R4 (4.0.1) Bundle, for the clinic's EHR.

Plain data in, a JSON-ready dict out: no ORM and no request here (api.selectors
builds the `PlanExport` from the database). docs/api.md has the mapping table.

- each oral step is one MedicationRequest; FHIR's Dosage carries one dose per
  timing, so a step has one `dosageInstruction` per dose time, all with the step's
  number as `sequence`, its first and last day as `timing.repeat.boundsPeriod`, the
  time as `timeOfDay` and the amount as `doseAndRate.doseQuantity` (mg, UCUM);
- an intrathecal plan has one MedicationRequest per pump dose (the current one,
  then each wean visit's), with the daily dose as a `rateRatio` (mcg per day);
- the plan itself is a CarePlan whose activities point at those requests;
- the dose log (answered doses only) is MedicationAdministration resources.

Identifiers are URIs under the clinic's configured, stable identifier system
(`FHIR_IDENTIFIER_SYSTEM`, never the site's address, which may move) and resource ids
are UUIDs derived from them, so the same plan exports to the same ids every time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
# RxNorm's ingredient concept for baclofen. The product catalogue (taper/products)
# has no RxNorm codes for the products themselves, so only the ingredient is coded.
RXNORM_INGREDIENTS = {"baclofen": ("1292", "baclofen")}
ROUTES = {
    "oral": ("26643006", "Oral route"),
    "intrathecal": ("72607000", "Intrathecal route"),
}
# Plan status → (MedicationRequest.status, CarePlan.status).
STATUSES = {
    "draft": ("draft", "draft"),
    "pending_review": ("draft", "draft"),
    "approved": ("draft", "draft"),
    "active": ("active", "active"),
    "completed": ("completed", "completed"),
    "cancelled": ("cancelled", "revoked"),
    "superseded": ("stopped", "revoked"),
}
# Dose log status → (MedicationAdministration.status, statusReason text).
ADMINISTRATIONS = {
    "taken": ("completed", None),
    "missed": ("not-done", "Missed: not confirmed before its catch-up window closed"),
    "skipped": ("not-done", "Skipped, following the missed-dose guidance"),
}


@dataclass(frozen=True)
class PatientRecord:
    id: int
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str


@dataclass(frozen=True)
class DoseRecord:
    id: int
    local_date: dt.date
    local_time: dt.time
    timezone: str
    due_at: dt.datetime
    amount_mg: Decimal
    status: str


@dataclass(frozen=True)
class ProductRecord:
    id: str
    drug: str
    name: str
    route: str
    form: str


@dataclass(frozen=True)
class PlanExport:
    # FHIR_IDENTIFIER_SYSTEM: the base URI of every identifier system and resource id.
    identifier_system: str
    plan_id: int
    status: str
    created_at: dt.datetime
    revision_number: int
    patient: PatientRecord
    product: ProductRecord
    # The current revision's engine output (docs/plan-json.md), as stored.
    output: dict[str, Any]
    doses: tuple[DoseRecord, ...]
    generated_at: dt.datetime


def number(value: Decimal | int | float) -> int | float:
    """JSON numbers as the engine writes them: integers when whole."""
    decimal = Decimal(str(value))
    return int(decimal) if decimal == decimal.to_integral_value() else float(decimal)


def _uuid(export: PlanExport, name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{export.identifier_system}/{name}')}"


def _identifier(export: PlanExport, kind: str, value: object) -> dict[str, str]:
    return {"system": f"{export.identifier_system}/{kind}", "value": str(value)}


def _mg(amount: Decimal | int | float) -> dict[str, Any]:
    return {"value": number(amount), "unit": "mg", "system": UCUM, "code": "mg"}


def _route(product: ProductRecord) -> dict[str, Any]:
    code = ROUTES.get(product.route)
    if code is None:
        return {"text": product.route}
    return {"coding": [{"system": SNOMED, "code": code[0], "display": code[1]}], "text": code[1]}


def _medication(export: PlanExport) -> dict[str, Any]:
    product = export.product
    code: dict[str, Any] = {"text": product.name}
    ingredient = RXNORM_INGREDIENTS.get(product.drug)
    if ingredient is not None:
        code["coding"] = [{"system": RXNORM, "code": ingredient[0], "display": ingredient[1]}]
    return {
        "resourceType": "Medication",
        "id": _uuid(export, f"products/{product.id}").removeprefix("urn:uuid:"),
        "code": code,
        "form": {"text": product.form},
    }


def _patient(export: PlanExport) -> dict[str, Any]:
    patient = export.patient
    return {
        "resourceType": "Patient",
        "id": _uuid(export, f"patients/{patient.id}").removeprefix("urn:uuid:"),
        "identifier": [_identifier(export, "patient", patient.id)],
        "name": [{"family": patient.family_name, "given": [patient.given_name]}],
        "gender": patient.sex if patient.sex in ("female", "male") else "unknown",
        "birthDate": patient.birth_date.isoformat(),
    }


def _time_of_day(hhmm: str) -> str:
    return f"{hhmm}:00" if len(hhmm) == 5 else hhmm


def _oral_requests(export: PlanExport, base: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    requests = []
    for index, step in enumerate(export.output.get("steps", [])):
        dosages = [
            {
                "sequence": index + 1,
                "text": (
                    f"{number(dose['amount_mg'])} mg ({dose['units_text']}) at {dose['time']} "
                    f"every day from {step['start_date']} to {step['end_date']}"
                ),
                "timing": {
                    "repeat": {
                        "boundsPeriod": {"start": step["start_date"], "end": step["end_date"]},
                        "frequency": 1,
                        "period": 1,
                        "periodUnit": "d",
                        "timeOfDay": [_time_of_day(dose["time"])],
                    }
                },
                "route": _route(export.product),
                "doseAndRate": [{"doseQuantity": _mg(dose["amount_mg"])}],
            }
            for dose in step["doses"]
        ]
        request = {
            **base,
            "identifier": [_identifier(export, "plan-step", f"{export.plan_id}-{index + 1}")],
            "note": [{"text": f"Step {index + 1}: {number(step['daily_total_mg'])} mg a day"}],
            "dosageInstruction": dosages,
        }
        requests.append((f"plans/{export.plan_id}/steps/{index + 1}", request))
    return requests


def _pump_periods(output: dict[str, Any]) -> list[tuple[str, str | None, Any]]:
    """(first day, last day or None, daily mcg) for the current dose and each wean visit."""
    pump = output.get("pump") or {}
    changes = [(output["start_date"], pump.get("daily_dose_mcg"))] + [
        (step["visit_date"], step["daily_dose_mcg"]) for step in output.get("wean_steps", [])
    ]
    periods: list[tuple[str, str | None, Any]] = []
    for position, (start, mcg) in enumerate(changes):
        end = None
        if position + 1 < len(changes):
            following = dt.date.fromisoformat(changes[position + 1][0])
            end = (following - dt.timedelta(days=1)).isoformat()
        if end is None or end >= start:
            periods.append((start, end, mcg))
    return periods


def _pump_requests(export: PlanExport, base: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    requests = []
    for index, (start, end, mcg) in enumerate(_pump_periods(export.output)):
        bounds = {"start": start, **({"end": end} if end else {})}
        dosage = {
            "sequence": index + 1,
            "text": f"{number(mcg)} mcg a day by intrathecal pump from {start}"
            + (f" to {end}" if end else ""),
            "timing": {"repeat": {"boundsPeriod": bounds}},
            "route": _route(export.product),
            "doseAndRate": [
                {
                    "rateRatio": {
                        "numerator": {
                            "value": number(mcg), "unit": "mcg", "system": UCUM, "code": "ug"
                        },
                        "denominator": {"value": 1, "unit": "day", "system": UCUM, "code": "d"},
                    }
                }
            ],
        }
        request = {
            **base,
            "identifier": [_identifier(export, "plan-step", f"{export.plan_id}-{index + 1}")],
            "dosageInstruction": [dosage],
        }
        requests.append((f"plans/{export.plan_id}/steps/{index + 1}", request))
    return requests


def _step_for(output: dict[str, Any], day: dt.date) -> int | None:
    iso = day.isoformat()
    for index, step in enumerate(output.get("steps", [])):
        if step["start_date"] <= iso <= step["end_date"]:
            return index
    return None


def _administration(
    export: PlanExport,
    dose: DoseRecord,
    refs: dict[str, str],
    request_refs: list[str],
) -> dict[str, Any]:
    status, reason = ADMINISTRATIONS[dose.status]
    # The stored instant, shown with the offset of the patient's zone on that day.
    moment = dose.due_at.astimezone(ZoneInfo(dose.timezone))
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "identifier": [_identifier(export, "dose", dose.id)],
        "status": status,
        "medicationReference": {"reference": refs["medication"]},
        "subject": {"reference": refs["patient"]},
        "effectiveDateTime": moment.isoformat(timespec="seconds"),
        "dosage": {"route": _route(export.product), "dose": _mg(dose.amount_mg)},
    }
    if reason:
        resource["statusReason"] = [{"text": reason}]
    step = _step_for(export.output, dose.local_date)
    if step is not None and step < len(request_refs):
        resource["request"] = {"reference": request_refs[step]}
    return resource


def plan_bundle(export: PlanExport) -> dict[str, Any]:
    """The plan, its medication, its patient and its dose log as one Bundle."""
    output = export.output
    request_status, careplan_status = STATUSES.get(export.status, ("unknown", "unknown"))
    refs = {
        "patient": _uuid(export, f"patients/{export.patient.id}"),
        "medication": _uuid(export, f"products/{export.product.id}"),
        "careplan": _uuid(export, f"plans/{export.plan_id}"),
    }
    plan_identifier = _identifier(export, "plan", export.plan_id)
    base = {
        "resourceType": "MedicationRequest",
        "status": request_status,
        "intent": "plan",
        "groupIdentifier": plan_identifier,
        "medicationReference": {"reference": refs["medication"]},
        "subject": {"reference": refs["patient"]},
        "authoredOn": export.created_at.isoformat(timespec="seconds"),
        "basedOn": [{"reference": refs["careplan"]}],
    }
    if export.product.route == "intrathecal":
        requests = _pump_requests(export, base)
    else:
        requests = _oral_requests(export, base)
    request_refs = [_uuid(export, name) for name, _ in requests]
    careplan = {
        "resourceType": "CarePlan",
        "identifier": [plan_identifier],
        "status": careplan_status,
        "intent": "plan",
        "title": f"{export.product.name}: taper plan {export.plan_id}",
        "description": output.get("disclaimer", ""),
        "subject": {"reference": refs["patient"]},
        "period": {"start": output["start_date"], "end": output["end_date"]},
        "created": export.created_at.isoformat(timespec="seconds"),
        "activity": [{"reference": {"reference": ref}} for ref in request_refs],
        "note": [
            {"text": f"{flag['severity'].upper()} {flag['code']}: {flag['message']}"}
            for flag in output.get("flags", [])
        ],
    }
    if not careplan["note"]:
        del careplan["note"]
    administrations = [
        (f"doses/{dose.id}", _administration(export, dose, refs, request_refs))
        for dose in export.doses
        if dose.status in ADMINISTRATIONS
    ]
    entries = [
        (refs["patient"], _patient(export)),
        (refs["medication"], _medication(export)),
        (refs["careplan"], careplan),
        *[(_uuid(export, name), resource) for name, resource in requests],
        *[(_uuid(export, name), resource) for name, resource in administrations],
    ]
    for full_url, resource in entries:
        resource["id"] = full_url.removeprefix("urn:uuid:")
    return {
        "resourceType": "Bundle",
        "id": _uuid(export, f"plans/{export.plan_id}/revisions/{export.revision_number}")
        .removeprefix("urn:uuid:"),
        "meta": {"lastUpdated": export.generated_at.isoformat(timespec="seconds")},
        "identifier": plan_identifier,
        "type": "collection",
        "timestamp": export.generated_at.isoformat(timespec="seconds"),
        "entry": [{"fullUrl": full_url, "resource": resource} for full_url, resource in entries],
    }
