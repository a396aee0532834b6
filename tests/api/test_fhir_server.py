"""/fhir/r4/: every interaction in JSON and XML, the caller's clinic only, OperationOutcome
for every refusal (issue #23)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from fhir.resources import construct_fhir_element, get_fhir_model_class
from fhir.resources.bundle import Bundle
from rest_framework.test import APIClient

from api import fhir
from planner import services
from planner.models import AccessAction, AccessLogEntry, Clinic, Patient, TaperPlan
from tests.support.api import engine_input, token_client
from tests.support.fhir import schema_errors

SYSTEM = "https://taper-planner.invalid/fhir"
MID_PLAN = dt.datetime(2027, 3, 6, 12, tzinfo=dt.UTC)  # in the second step of the plan
JSON = "application/fhir+json; charset=utf-8"
XML = "application/fhir+xml; charset=utf-8"


def fhir_id(name: str) -> str:
    return fhir.resource_id(SYSTEM, name)


@pytest.fixture
def active(alice: Any, patient: Patient) -> TaperPlan:
    Patient.objects.filter(pk=patient.pk).update(mrn="H-0042")
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_activate(plan=plan, by=alice)
    plan.refresh_from_db()
    return plan


def get(client: Any, path: str, **params: str) -> Any:
    return client.get(f"/fhir/r4/{path}", params)


def parsed(response: Any, resource_type: str) -> Any:
    """The answer parsed by fhir.resources, in the format its Content-Type says."""
    content_type = response["Content-Type"]
    assert content_type in (JSON, XML)
    kind = "application/xml" if content_type == XML else "application/json"
    return get_fhir_model_class(resource_type).parse_raw(response.content, content_type=kind)


def issue(response: Any) -> tuple[str, str]:
    outcome = parsed(response, "OperationOutcome")
    (only,) = outcome.issue
    return only.code, only.diagnostics


def test_metadata_says_what_the_server_does_in_both_formats(client: Client) -> None:
    for params, content_type in (({}, JSON), ({"_format": "xml"}, XML)):
        response = get(client, "metadata", **params)
        assert response.status_code == 200
        assert response["Content-Type"] == content_type
        statement = parsed(response, "CapabilityStatement")
        assert statement.fhirVersion == "4.0.1"
        served = {r.type: r for r in statement.rest[0].resource}
        assert set(served) == {"Patient", "CarePlan", "MedicationRequest", "Bundle"}
        assert [p.name for p in served["MedicationRequest"].searchParam] == [
            "_id", "patient", "status"
        ]


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/fhir+xml", XML),
        ("application/xml;q=0.9, application/fhir+json", JSON),
        ("text/xml", XML),
        ("*/*", JSON),
    ],
)
def test_accept_chooses_the_format(
    api: APIClient, active: TaperPlan, accept: str, content_type: str
) -> None:
    response = api.get(
        f"/fhir/r4/Patient/{fhir_id(f'patients/{active.patient_id}')}", HTTP_ACCEPT=accept
    )
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert parsed(response, "Patient").identifier[1].value == "H-0042"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_each_read_answers_the_resource_of_the_export(
    api: APIClient, active: TaperPlan, fmt: str
) -> None:
    export = api.get(f"/api/v1/plans/{active.pk}/fhir/").json()
    for entry in export["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] not in ("Patient", "CarePlan", "MedicationRequest"):
            continue
        response = get(api, f"{resource['resourceType']}/{resource['id']}", _format=fmt)
        assert response.status_code == 200, resource["resourceType"]
        assert parsed(response, resource["resourceType"]).dict() == construct_fhir_element(
            resource["resourceType"], resource
        ).dict()
        assert response["ETag"] == f'W/"{resource["meta"]["versionId"]}"'
        assert response["Cache-Control"] == "no-store, private"
    response = get(api, f"Bundle/{export['id']}", _format=fmt)
    assert response.status_code == 200
    bundle = parsed(response, "Bundle")
    assert bundle.type == "collection"
    assert len(bundle.entry) == len(export["entry"])


def test_searches_answer_a_searchset_with_total_and_self_link(
    api: APIClient, active: TaperPlan, patient: Patient
) -> None:
    patient_id = fhir_id(f"patients/{patient.pk}")
    with time_machine.travel(MID_PLAN, tick=False):
        response = get(api, "MedicationRequest", patient=f"Patient/{patient_id}",
                       status="active")
    assert response.status_code == 200
    bundle = parsed(response, "Bundle")
    assert (bundle.type, bundle.total) == ("searchset", 1)
    assert bundle.link[0].relation == "self"
    assert bundle.link[0].url.endswith(
        f"/fhir/r4/MedicationRequest?patient=Patient%2F{patient_id}&status=active"
    )
    (entry,) = bundle.entry
    step = entry.resource
    assert step.status == "active"
    assert step.dosageInstruction[0].timing.repeat.boundsPeriod.start <= MID_PLAN.date()
    assert entry.fullUrl.endswith(f"/fhir/r4/MedicationRequest/{step.id}")
    with time_machine.travel(MID_PLAN, tick=False):
        statuses = [
            e.resource.status
            for e in parsed(get(api, "MedicationRequest", patient=patient_id,
                                _format="xml"), "Bundle").entry
        ]
    assert statuses == ["completed", "active", "draft"]
    careplans = parsed(get(api, "CarePlan", patient=patient_id, status="active,draft"),
                       "Bundle")
    assert careplans.total == 1
    assert careplans.entry[0].resource.id == fhir_id(f"plans/{active.pk}")
    none = parsed(get(api, "CarePlan", status="completed"), "Bundle")
    assert (none.total, none.entry) == (0, None)
    for value in ("H-0042", f"{SYSTEM}/mrn|H-0042", f"{SYSTEM}/patient|{patient.pk}"):
        found = parsed(get(api, "Patient", identifier=value), "Bundle")
        assert [e.resource.id for e in found.entry] == [patient_id]
    assert parsed(get(api, "Patient", identifier=f"{SYSTEM}/patient|H-0042"), "Bundle").total == 0
    assert parsed(get(api, "Patient", _id=patient_id), "Bundle").total == 1


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("Patient", {"name": "Sample"}, "name"),
        ("CarePlan", {"status": "finished"}, "status"),
        ("MedicationRequest", {"status": "active", "intent": "plan"}, "intent"),
        ("MedicationRequest", {"patient": "Patient/not an id"}, "patient"),
        ("MedicationRequest", {"status:not": "active"}, "status:not"),
        ("CarePlan", {"_id": ""}, "_id"),
    ],
)
def test_a_bad_search_parameter_is_a_400_naming_it(
    api: APIClient, active: TaperPlan, path: str, params: dict[str, str], parameter: str
) -> None:
    response = get(api, path, **params)
    assert response.status_code == 400
    code, message = issue(response)
    assert code == "invalid"
    assert f"'{parameter}'" in message


def test_other_clinics_and_unknown_ids_are_404(
    api: APIClient, active: TaperPlan, charlie: Any, other_clinic: Clinic
) -> None:
    theirs = token_client(charlie)
    paths = [
        f"Patient/{fhir_id(f'patients/{active.patient_id}')}",
        f"CarePlan/{fhir_id(f'plans/{active.pk}')}",
        f"MedicationRequest/{fhir_id(f'plans/{active.pk}/steps/1')}",
        f"Bundle/{fhir_id(f'plans/{active.pk}/bundle')}",
    ]
    for path in paths:
        assert api.get(f"/fhir/r4/{path}").status_code == 200, path
        response = theirs.get(f"/fhir/r4/{path}")
        assert response.status_code == 404, path
        assert issue(response)[0] == "not-found"
    # Their searches find nothing of ours.
    assert parsed(get(theirs, "MedicationRequest"), "Bundle").total == 0
    for path in ("Patient/12", "CarePlan/no-such-plan", "MedicationRequest/not-a-uuid",
                 f"MedicationRequest/{fhir_id(f'plans/{active.pk}/steps/9')}", "Observation",
                 "Patient/1/_history/1"):
        response = get(api, path)
        assert response.status_code == 404, path
        assert issue(response)[0] == "not-found"
        assert response["Cache-Control"] == "no-store, private"


def test_every_interaction_needs_a_token_of_clinic_staff(
    client: Client, active: TaperPlan, patient_user: Any
) -> None:
    step = fhir_id(f"plans/{active.pk}/steps/1")
    for path in ("Patient", f"MedicationRequest/{step}", "CarePlan"):
        response = get(client, path)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert issue(response)[0] == "login"
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Token " + "x" * 64)
    assert forged.get(f"/fhir/r4/MedicationRequest/{step}").status_code == 401
    client.force_login(patient_user)
    response = get(client, "Patient", _format="xml")
    assert response.status_code == 403
    assert response["Content-Type"] == XML
    assert issue(response)[0] == "forbidden"


def test_the_session_of_clinic_staff_reads_too(
    client: Client, alice: Any, active: TaperPlan
) -> None:
    client.force_login(alice)
    assert get(client, f"CarePlan/{fhir_id(f'plans/{active.pk}')}").status_code == 200


@pytest.mark.parametrize(
    ("params", "headers"),
    [({"_format": "yaml"}, {}), ({}, {"HTTP_ACCEPT": "text/html"})],
)
def test_an_unsupported_format_is_a_406(
    api: APIClient, active: TaperPlan, params: dict[str, str], headers: dict[str, Any]
) -> None:
    response = api.get("/fhir/r4/CarePlan", params, **headers)
    assert response.status_code == 406
    assert response["Content-Type"] == JSON
    assert issue(response)[0] == "not-supported"


def test_reads_are_in_the_access_log(api: APIClient, active: TaperPlan, alice: Any) -> None:
    get(api, f"Patient/{fhir_id(f'patients/{active.patient_id}')}")
    get(api, f"Bundle/{fhir_id(f'plans/{active.pk}/bundle')}")
    assert list(
        AccessLogEntry.objects.filter(user=alice).order_by("id").values_list("action", flat=True)
    ) == [AccessAction.API_READ, AccessAction.FHIR_EXPORT]


def test_writes_are_refused(api: APIClient, active: TaperPlan) -> None:
    response = api.post("/fhir/r4/Patient", {}, format="json")
    assert response.status_code == 405
    assert issue(response)[0] == "not-supported"


@pytest.mark.external
def test_every_answer_of_the_server_passes_the_official_r4_json_schema(
    api: APIClient, active: TaperPlan, patient: Patient
) -> None:
    answers = [
        get(api, "metadata"),
        get(api, "Patient"),
        get(api, "CarePlan"),
        get(api, "MedicationRequest"),
        get(api, "MedicationRequest", status="nonsense"),
        get(api, "Patient/unknown"),
        get(api, f"CarePlan/{fhir_id(f'plans/{active.pk}')}"),
        get(api, f"Patient/{fhir_id(f'patients/{patient.pk}')}"),
    ]
    statement = answers[0].json()
    # The package's schema is R4 as first published (json-schema/4.0, 4.0.0): its list of
    # FHIR versions ends before the 4.0.1 technical correction. That one value aside, the
    # CapabilityStatement must pass.
    errors = schema_errors(statement)
    assert len(errors) == 1
    assert errors[0].startswith("CapabilityStatement/fhirVersion: '4.0.1' is not one of")
    assert schema_errors({**statement, "fhirVersion": "4.0.0"}) == []
    for response in answers[1:]:
        resource = response.json()
        entries = resource.pop("entry", [])
        assert schema_errors(resource) == [], response.status_code
        for entry in entries:
            assert schema_errors(entry["resource"]) == []
    Bundle.parse_raw(answers[3].content)
