"""The read-only FHIR R4 server of /fhir/r4/: reads and searches within the caller's
clinic, answered with the resources api.fhir builds for the plan export.

Resource ids are UUIDs derived from names (api.fhir.resource_id), so a read looks the
id up among the clinic's own patients and plans: an id of another clinic, or none at
all, is not found (404), exactly as in the JSON API. docs/api.md describes the endpoint.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import QueryDict

from api import fhir, selectors
from planner.models import Patient, StaffMember, TaperPlan

# FHIR's id syntax (http://hl7.org/fhir/R4/datatypes.html#id).
ID = re.compile(r"\A[A-Za-z0-9\-.]{1,64}\Z")
# Parameters every interaction takes: the format (api.fhir_views) only.
COMMON = frozenset({"_format"})
CAREPLAN_STATUSES = frozenset(
    {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
)
REQUEST_STATUSES = frozenset(
    {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft",
     "unknown"}
)
SEARCH_PARAMETERS: dict[str, frozenset[str]] = {
    "Patient": frozenset({"_id", "identifier"}),
    "CarePlan": frozenset({"_id", "patient", "status"}),
    "MedicationRequest": frozenset({"_id", "patient", "status"}),
}
# A plan has far fewer steps than this (weekly steps over years); a MedicationRequest id
# is looked up among the clinic's plans up to this step number.
MAX_STEPS = 1000


class NotFound(Exception):
    """No such resource in the caller's clinic."""


class BadParameter(Exception):
    """A search parameter that is unknown, repeated or malformed; ``name`` names it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class Found:
    """What a read or search found, and the patients whose data it shows (for the
    access log)."""

    resources: list[dict[str, Any]]
    patients: list[Patient]


def _system() -> str:
    system: str = settings.FHIR_IDENTIFIER_SYSTEM
    return system


def _id_of(name: str) -> str:
    return fhir.resource_id(_system(), name)


def _find(candidates: Iterable[int], name: Callable[[int], str], wanted: str) -> int:
    if not ID.match(wanted):
        raise NotFound
    for pk in candidates:
        if _id_of(name(pk)) == wanted:
            return pk
    raise NotFound


def _patient(staff: StaffMember, resource_id: str) -> Patient:
    pks = selectors.clinic_patients(staff).values_list("pk", flat=True)
    pk = _find(pks, lambda pk: f"patients/{pk}", resource_id)
    return selectors.clinic_patient(staff, pk)


def _plan_by(staff: StaffMember, name: Callable[[int], str], resource_id: str) -> TaperPlan:
    pks = selectors.clinic_plans(staff).filter(current_revision__isnull=False)
    pk = _find(pks.values_list("pk", flat=True), name, resource_id)
    return selectors.clinic_plan(staff, pk)


def _step_plan(staff: StaffMember, resource_id: str) -> TaperPlan:
    """The plan one of whose steps has this id. The step ids of a plan share the prefix
    of their name, so each plan costs one SHA-1 prefix and a short digest per step."""
    try:
        wanted = uuid.UUID(resource_id)
    except ValueError:
        raise NotFound from None
    if str(wanted) != resource_id:
        raise NotFound
    plans = selectors.clinic_plans(staff).filter(current_revision__isnull=False)
    for pk in plans.values_list("pk", flat=True):
        prefix = hashlib.sha1(  # the uuid5 of api.fhir.resource_id, not a secret
            uuid.NAMESPACE_URL.bytes + f"{_system()}/plans/{pk}/steps/".encode(),
            usedforsecurity=False,
        )
        for step in range(1, MAX_STEPS + 1):
            digest = prefix.copy()
            digest.update(str(step).encode())
            if uuid.UUID(bytes=digest.digest()[:16], version=5) == wanted:
                return selectors.clinic_plan(staff, pk)
    raise NotFound


def _plan_resources(plan: TaperPlan, resource_type: str) -> list[dict[str, Any]]:
    return [
        resource
        for _, resource in fhir.plan_resources(selectors.plan_export(plan))
        if resource["resourceType"] == resource_type
    ]


def read(staff: StaffMember, resource_type: str, resource_id: str) -> Found:
    """One resource of the clinic by its id; NotFound otherwise."""
    if resource_type == "Patient":
        patient = _patient(staff, resource_id)
        resource = fhir.patient_resource(_system(), selectors.patient_record(patient))
        return Found([resource], [patient])
    if resource_type == "Bundle":
        plan = _plan_by(staff, lambda pk: f"plans/{pk}/bundle", resource_id)
        return Found([fhir.plan_bundle(selectors.plan_export(plan))], [plan.patient])
    if resource_type == "CarePlan":
        plan = _plan_by(staff, lambda pk: f"plans/{pk}", resource_id)
    elif resource_type == "MedicationRequest":
        plan = _step_plan(staff, resource_id)
    else:
        raise NotFound
    for resource in _plan_resources(plan, resource_type):
        if resource["id"] == resource_id:
            return Found([resource], [plan.patient])
    raise NotFound


def _single(query: QueryDict, name: str) -> str | None:
    values = query.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadParameter(name, f"Search parameter '{name}' is given more than once.")
    value = values[0].strip()
    if not value:
        raise BadParameter(name, f"Search parameter '{name}' is empty.")
    return value


def _ids(query: QueryDict) -> set[str] | None:
    value = _single(query, "_id")
    if value is None:
        return None
    ids = {part.strip() for part in value.split(",")}
    if not all(ID.match(part) for part in ids):
        raise BadParameter("_id", "Search parameter '_id' must be resource ids, comma-separated.")
    return ids


def _statuses(query: QueryDict, allowed: frozenset[str]) -> set[str] | None:
    value = _single(query, "status")
    if value is None:
        return None
    statuses = {part.strip() for part in value.split(",")}
    unknown = sorted(statuses - allowed)
    if unknown:
        raise BadParameter(
            "status",
            f"Search parameter 'status': unknown status {', '.join(unknown)}; one of "
            f"{', '.join(sorted(allowed))}.",
        )
    return statuses


def _patient_filter(staff: StaffMember, query: QueryDict) -> list[Patient] | None:
    value = _single(query, "patient")
    if value is None:
        return None
    resource_id = value.removeprefix("Patient/")
    if not ID.match(resource_id):
        raise BadParameter(
            "patient", "Search parameter 'patient' must be a Patient id or 'Patient/<id>'."
        )
    try:
        return [_patient(staff, resource_id)]
    except NotFound:
        return []


def _identifier_matches(staff: StaffMember, value: str) -> list[Patient]:
    system, _, code = value.rpartition("|")
    patients = selectors.clinic_patients(staff)
    base = _system()
    by_mrn: list[Patient] = []
    if system in ("", f"{base}/mrn") and code:
        by_mrn = list(patients.filter(mrn=code))
    by_id: list[Patient] = []
    if system in ("", f"{base}/patient") and code.isdigit():
        by_id = list(patients.filter(pk=int(code)))
    return list({patient.pk: patient for patient in [*by_id, *by_mrn]}.values())


def search(staff: StaffMember, resource_type: str, query: QueryDict) -> Found:
    """The clinic's resources of a type that match every parameter given."""
    allowed = SEARCH_PARAMETERS.get(resource_type)
    if allowed is None:
        raise NotFound
    for name in query:
        if name not in allowed | COMMON:
            raise BadParameter(
                name,
                f"Unknown search parameter '{name}' for {resource_type}; supported: "
                f"{', '.join(sorted(allowed))}.",
            )
    ids = _ids(query)
    if resource_type == "Patient":
        identifier = _single(query, "identifier")
        if identifier is not None:
            patients = _identifier_matches(staff, identifier)
        else:
            patients = list(selectors.clinic_patients(staff))
        resources = [
            fhir.patient_resource(_system(), selectors.patient_record(patient))
            for patient in patients
        ]
        found = [(r, p) for r, p in zip(resources, patients, strict=True)
                 if ids is None or r["id"] in ids]
        return Found([r for r, _ in found], [p for _, p in found])
    statuses = _statuses(
        query, CAREPLAN_STATUSES if resource_type == "CarePlan" else REQUEST_STATUSES
    )
    only = _patient_filter(staff, query)
    plans = selectors.clinic_plans(staff).filter(current_revision__isnull=False)
    if only is not None:
        plans = plans.filter(patient__in=only)
    matches: list[dict[str, Any]] = []
    shown: dict[int, Patient] = {}
    for plan in plans:
        for resource in _plan_resources(plan, resource_type):
            if ids is not None and resource["id"] not in ids:
                continue
            if statuses is not None and resource["status"] not in statuses:
                continue
            matches.append(resource)
            shown[plan.patient_id] = plan.patient
    return Found(matches, list(shown.values()))


def capability_statement(base_url: str) -> dict[str, Any]:
    """What this server does (GET metadata)."""

    def entry(resource_type: str, params: dict[str, str], search: bool = True) -> dict[str, Any]:
        interactions = [{"code": "read"}] + ([{"code": "search-type"}] if search else [])
        described: dict[str, Any] = {
            "type": resource_type,
            "interaction": interactions,
            "versioning": "versioned",
            "readHistory": False,
        }
        if params:
            described["searchParam"] = [
                {"name": name, "type": kind} for name, kind in params.items()
            ]
        return described

    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        # The date this statement last changed (a fixed date, not today).
        "date": "2026-12-04",
        "kind": "instance",
        "software": {"name": "Taper Planner"},
        "implementation": {
            "description": "Taper plans of the caller's clinic, read-only",
            "url": base_url,
        },
        "fhirVersion": "4.0.1",
        "format": ["json", "xml"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Authorization: Token <key> (an API token of a clinician or "
                "reviewer, manage.py api_token) or the site's session; only the caller's "
                "clinic is visible: other ids are 404.",
                "resource": [
                    entry("Patient", {"_id": "token", "identifier": "token"}),
                    entry("CarePlan", {"_id": "token", "patient": "reference",
                                       "status": "token"}),
                    entry("MedicationRequest", {"_id": "token", "patient": "reference",
                                                "status": "token"}),
                    entry("Bundle", {}, search=False),
                ],
            }
        ],
    }
