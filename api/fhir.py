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
# Route codes by the catalogue's route (taper/products: "oral" or "intrathecal").
ROUTES = {
    "oral": ("26643006", "Oral route"),
    "intrathecal": ("72607000", "Intrathecal route"),
}
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
# HL7's Timezone Code extension (an IANA zone, valueCode), from the FHIR Extensions Pack
# for R4 (hl7.fhir.uv.extensions.r4); R4 core's own tz-code is limited to date/dateTime.
TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"
# Plan status → CarePlan.status. A step's MedicationRequest.status comes from its dates
# as well (step_status).
STATUSES = {
    "draft": "draft",
    "pending_review": "draft",
    "approved": "draft",
    "active": "active",
    "completed": "completed",
    "cancelled": "revoked",
    "superseded": "revoked",
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
    # The patient's home zone (IANA): the zone of every timeOfDay of their plans.
    timezone: str
    mrn: str = ""
    # From the record's own history (django-simple-history): its number of versions and
    # the last change.
    version: int = 1
    updated_at: dt.datetime | None = None


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
    """What the export needs of a catalogue product (api.selectors builds it)."""

    id: str
    drug: str
    name: str
    route: str
    form: str
    # The product's RxNorm code, only where the catalogue verified one code for the whole
    # product (a product of a single strength with its code); never guessed.
    rxnorm: str | None = None


@dataclass(frozen=True)
class StaffRecord:
    """A clinician or reviewer: a Practitioner. ``id`` is the user's id."""

    id: int
    name: str


@dataclass(frozen=True)
class RevisionRecord:
    """One revision of the plan that was put in force (the first version, a draft edit,
    or a hold / step back / slow-down that needed no review or was approved)."""

    number: int
    kind: str
    kind_label: str
    created_at: dt.datetime
    # When it took effect: its approval when a reviewer approved it, else its creation.
    in_force_at: dt.datetime
    effective_from: dt.date
    author: StaffRecord
    approver: StaffRecord | None
    # What changed, in the clinic's words (the engine's REVISED flag, else the kind).
    change: str
    output: dict[str, Any]


@dataclass(frozen=True)
class PlanExport:
    # FHIR_IDENTIFIER_SYSTEM: the base URI of every identifier system and resource id.
    identifier_system: str
    plan_id: int
    status: str
    created_at: dt.datetime
    patient: PatientRecord
    product: ProductRecord
    # The revisions put in force, oldest first; the last is the plan's current one.
    revisions: tuple[RevisionRecord, ...]
    doses: tuple[DoseRecord, ...]
    generated_at: dt.datetime
    # Today in the patient's zone: steps before it are completed, the one holding it is
    # active, later ones draft (docs/api.md).
    today: dt.date
    activated: bool = False
    # A cancelled or superseded plan: the day it ended and why, in words.
    ended_on: dt.date | None = None
    end_reason: str = ""
    # A plan a newer plan replaces: its last day; later steps never run.
    runs_until: dt.date | None = None

    @property
    def current(self) -> RevisionRecord:
        return self.revisions[-1]

    @property
    def output(self) -> dict[str, Any]:
        """The current revision's engine output (docs/plan-json.md), as stored."""
        return self.current.output


def number(value: Decimal | int | float) -> int | float:
    """JSON numbers as the engine writes them: integers when whole."""
    decimal = Decimal(str(value))
    return int(decimal) if decimal == decimal.to_integral_value() else float(decimal)


def resource_id(identifier_system: str, name: str) -> str:
    """The resource id of ``name`` (``patients/12``, ``plans/3/steps/2``): a UUID derived
    from the configured identifier system, never from the site's address or the time."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{identifier_system}/{name}"))


def _uuid(export: PlanExport, name: str) -> str:
    return f"urn:uuid:{resource_id(export.identifier_system, name)}"


def _identifier(export: PlanExport, kind: str, value: object) -> dict[str, str]:
    return {"system": f"{export.identifier_system}/{kind}", "value": str(value)}


def _instant(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _zone(name: str) -> dict[str, str]:
    return {"url": TIMEZONE_EXTENSION, "valueCode": name}


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
    if product.rxnorm is not None:
        code["coding"] = [{"system": RXNORM, "code": product.rxnorm}]
    return {
        "resourceType": "Medication",
        "id": _uuid(export, f"products/{product.id}").removeprefix("urn:uuid:"),
        "code": code,
        "form": {"text": product.form},
    }


def patient_resource(identifier_system: str, patient: PatientRecord) -> dict[str, Any]:
    """The Patient: the record's id and the clinic's MRN as identifiers, the home zone."""
    identifiers: list[dict[str, Any]] = [
        {"system": f"{identifier_system}/patient", "value": str(patient.id)}
    ]
    if patient.mrn:
        identifiers.append(
            {
                "use": "usual",
                "type": {"coding": [{"system": V2_0203, "code": "MR"}], "text": "MRN"},
                "system": f"{identifier_system}/mrn",
                "value": patient.mrn,
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": resource_id(identifier_system, f"patients/{patient.id}"),
        "meta": {"versionId": str(patient.version)},
        "extension": [_zone(patient.timezone)],
        "identifier": identifiers,
        "name": [{"family": patient.family_name, "given": [patient.given_name]}],
        "gender": patient.sex if patient.sex in ("female", "male") else "unknown",
        "birthDate": patient.birth_date.isoformat(),
    }
    if patient.updated_at is not None:
        resource["meta"]["lastUpdated"] = _instant(patient.updated_at)
    return resource


def _practitioner(export: PlanExport, staff: StaffRecord) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": resource_id(export.identifier_system, f"staff/{staff.id}"),
        "identifier": [_identifier(export, "staff", staff.id)],
        "name": [{"text": staff.name}],
    }


def _time_of_day(hhmm: str) -> str:
    return f"{hhmm}:00" if len(hhmm) == 5 else hhmm


@dataclass(frozen=True)
class _Step:
    """What one step of one revision holds: its period and its dosage instructions."""

    start: str
    end: str | None
    body: dict[str, Any]


def _oral_steps(export: PlanExport, output: dict[str, Any]) -> list[_Step]:
    zone = [_zone(export.patient.timezone)]
    steps = []
    for index, step in enumerate(output.get("steps", [])):
        dosages = [
            {
                "sequence": index + 1,
                "text": (
                    f"{number(dose['amount_mg'])} mg ({dose['units_text']}) at {dose['time']} "
                    f"every day from {step['start_date']} to {step['end_date']}"
                ),
                "timing": {
                    "extension": zone,
                    "repeat": {
                        "boundsPeriod": {"start": step["start_date"], "end": step["end_date"]},
                        "frequency": 1,
                        "period": 1,
                        "periodUnit": "d",
                        "timeOfDay": [_time_of_day(dose["time"])],
                    },
                },
                "route": _route(export.product),
                "doseAndRate": [{"doseQuantity": _mg(dose["amount_mg"])}],
            }
            for dose in step["doses"]
        ]
        body = {
            "note": [{"text": f"Step {index + 1}: {number(step['daily_total_mg'])} mg a day"}],
            "dosageInstruction": dosages,
        }
        steps.append(_Step(step["start_date"], step["end_date"], body))
    return steps


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


def _pump_steps(export: PlanExport, output: dict[str, Any]) -> list[_Step]:
    steps = []
    for index, (start, end, mcg) in enumerate(_pump_periods(output)):
        bounds = {"start": start, **({"end": end} if end else {})}
        dosage = {
            "sequence": index + 1,
            "text": f"{number(mcg)} mcg a day by intrathecal pump from {start}"
            + (f" to {end}" if end else ""),
            "timing": {"extension": [_zone(export.patient.timezone)],
                       "repeat": {"boundsPeriod": bounds}},
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
        steps.append(_Step(start, end, {"dosageInstruction": [dosage]}))
    return steps


def _steps(export: PlanExport, output: dict[str, Any]) -> list[_Step]:
    if export.product.route == "intrathecal":
        return _pump_steps(export, output)
    return _oral_steps(export, output)


@dataclass(frozen=True)
class _StepVersion:
    step: _Step
    # The revision that made this version of the step (or removed it).
    revision: RevisionRecord
    removed: bool = False


def _step_history(export: PlanExport) -> tuple[dict[int, _StepVersion], dict[int, list[int]]]:
    """Each step number's latest version over the revisions in force, and the step numbers
    each revision changed. A step keeps its number (and id) while a revision changes its
    dates or doses; a number the next revision no longer has is a removed step."""
    latest: dict[int, _StepVersion] = {}
    changed: dict[int, list[int]] = {}
    for revision in export.revisions:
        numbers = changed.setdefault(revision.number, [])
        steps = _steps(export, revision.output)
        for position, step in enumerate(steps, 1):
            before = latest.get(position)
            if before is None or before.removed or before.step != step:
                latest[position] = _StepVersion(step, revision)
                numbers.append(position)
        for position, version in sorted(latest.items()):
            if position > len(steps) and not version.removed:
                latest[position] = _StepVersion(version.step, revision, removed=True)
                numbers.append(position)
    return latest, changed


def _reason(text: str) -> list[dict[str, str]]:
    return [{"text": text}]


def step_status(export: PlanExport, version: _StepVersion) -> tuple[str, str | None]:
    """MedicationRequest.status of a step, and its statusReason text (docs/api.md)."""
    if version.removed:
        revision = version.revision
        if revision.kind == "draft_edit":
            return "entered-in-error", f"Removed from the draft by revision {revision.number}"
        return "stopped", (
            f"Removed by revision {revision.number} ({revision.kind_label}) "
            f"from {revision.effective_from.isoformat()}"
        )
    start, end = version.step.start, version.step.end
    if export.runs_until is not None and start > export.runs_until.isoformat():
        return "cancelled", export.end_reason or None
    if export.status in ("draft", "pending_review", "approved"):
        return "draft", None
    if export.status == "completed":
        return "completed", None
    if export.status in ("cancelled", "superseded"):
        ended_on = (export.ended_on or export.today).isoformat()
        if not export.activated:
            return "cancelled", export.end_reason or None
        if end is not None and end < ended_on:
            return "completed", None
        if start <= ended_on:
            return "stopped", export.end_reason or None
        return "cancelled", export.end_reason or None
    today = export.today.isoformat()
    if end is not None and end < today:
        return "completed", None
    if start <= today:
        return "active", None
    # A later step of a running plan: not yet actionable; it is active from its first day.
    return "draft", None


def _meta(revision: RevisionRecord) -> dict[str, str]:
    return {"versionId": str(revision.number), "lastUpdated": _instant(revision.in_force_at)}


def _requests(
    export: PlanExport, refs: dict[str, str], history: dict[int, _StepVersion]
) -> list[tuple[str, dict[str, Any]]]:
    requests = []
    for position, version in sorted(history.items()):
        status, reason = step_status(export, version)
        request: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "meta": _meta(version.revision),
            "identifier": [_identifier(export, "plan-step", f"{export.plan_id}-{position}")],
            "status": status,
        }
        if reason:
            request["statusReason"] = {"text": reason}
        request.update(
            {
                "intent": "plan",
                "groupIdentifier": _identifier(export, "plan", export.plan_id),
                "medicationReference": {"reference": refs["medication"]},
                "subject": {"reference": refs["patient"]},
                "authoredOn": _instant(version.revision.created_at),
                "requester": {"reference": _uuid(export, f"staff/{version.revision.author.id}")},
                "basedOn": [{"reference": refs["careplan"]}],
                **version.step.body,
            }
        )
        requests.append((f"plans/{export.plan_id}/steps/{position}", request))
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


def _provenance(
    export: PlanExport, revision: RevisionRecord, targets: list[str]
) -> dict[str, Any]:
    """Who made a revision, when, what it changed, and who approved it."""
    first = revision.number == 1
    agents: list[dict[str, Any]] = [
        {
            "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "author",
                                 "display": "Author"}]},
            "who": {"reference": _uuid(export, f"staff/{revision.author.id}")},
        }
    ]
    if revision.approver is not None:
        agents.append(
            {
                "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "verifier",
                                     "display": "Verifier"}],
                         "text": "Approved by the reviewer"},
                "who": {"reference": _uuid(export, f"staff/{revision.approver.id}")},
            }
        )
    return {
        "resourceType": "Provenance",
        "meta": {"versionId": "1", "lastUpdated": _instant(revision.in_force_at)},
        "target": [{"reference": ref} for ref in targets],
        "recorded": _instant(revision.created_at),
        "activity": {
            "coding": [
                {"system": DATA_OPERATION, "code": "CREATE" if first else "UPDATE",
                 "display": "create" if first else "revise"}
            ],
            "text": f"Revision {revision.number}: {revision.change}",
        },
        "agent": agents,
    }


def plan_resources(export: PlanExport) -> list[tuple[str, dict[str, Any]]]:
    """Every resource of the plan as (full URL, resource): Patient, Medication, CarePlan,
    one MedicationRequest per step (removed ones stopped), the dose log, a Provenance per
    revision and the Practitioners they name."""
    output = export.output
    careplan_status = STATUSES.get(export.status, "unknown")
    refs = {
        "patient": _uuid(export, f"patients/{export.patient.id}"),
        "medication": _uuid(export, f"products/{export.product.id}"),
        "careplan": _uuid(export, f"plans/{export.plan_id}"),
    }
    history, changed = _step_history(export)
    requests = _requests(export, refs, history)
    request_refs = [_uuid(export, name) for name, _ in requests]
    author = export.revisions[0].author
    careplan = {
        "resourceType": "CarePlan",
        "meta": _meta(export.current),
        "identifier": [_identifier(export, "plan", export.plan_id)],
        "status": careplan_status,
        "intent": "plan",
        "title": f"{export.product.name}: taper plan {export.plan_id}",
        "description": output.get("disclaimer", ""),
        "subject": {"reference": refs["patient"]},
        "period": {"start": output["start_date"], "end": output["end_date"]},
        "created": _instant(export.created_at),
        "author": {"reference": _uuid(export, f"staff/{author.id}")},
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
    provenances = [
        (
            f"plans/{export.plan_id}/revisions/{revision.number}/provenance",
            _provenance(
                export,
                revision,
                [refs["careplan"]]
                + [_uuid(export, f"plans/{export.plan_id}/steps/{n}")
                   for n in changed.get(revision.number, [])],
            ),
        )
        for revision in export.revisions
    ]
    staff: dict[int, StaffRecord] = {}
    for revision in export.revisions:
        for member in (revision.author, revision.approver):
            if member is not None:
                staff.setdefault(member.id, member)
    entries = [
        (refs["patient"], patient_resource(export.identifier_system, export.patient)),
        (refs["medication"], _medication(export)),
        (refs["careplan"], careplan),
        *[(_uuid(export, name), resource) for name, resource in requests],
        *[(_uuid(export, name), resource) for name, resource in administrations],
        *[(_uuid(export, name), resource) for name, resource in provenances],
        *[(_uuid(export, f"staff/{member.id}"), _practitioner(export, member))
          for member in staff.values()],
    ]
    for full_url, resource in entries:
        resource["id"] = full_url.removeprefix("urn:uuid:")
    return entries


def plan_bundle(export: PlanExport) -> dict[str, Any]:
    """The plan and everything it names as one Bundle (type collection); its id stays the
    same for the plan, its versionId is the current revision's number."""
    return {
        "resourceType": "Bundle",
        "id": resource_id(export.identifier_system, f"plans/{export.plan_id}/bundle"),
        "meta": _meta(export.current),
        "identifier": _identifier(export, "plan", export.plan_id),
        "type": "collection",
        "timestamp": _instant(export.generated_at),
        "entry": [
            {"fullUrl": full_url, "resource": resource}
            for full_url, resource in plan_resources(export)
        ],
    }
