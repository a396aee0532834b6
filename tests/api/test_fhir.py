"""The FHIR export parses back with the R4 models of fhir.resources, and its amounts,
times of day and dates are the plan's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import fhir.resources
import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse
from fhir.resources.bundle import Bundle
from fhir.resources.careplan import CarePlan
from fhir.resources.medication import Medication
from fhir.resources.medicationadministration import MedicationAdministration
from fhir.resources.medicationrequest import MedicationRequest
from rest_framework.test import APIClient

from planner import services
from planner.models import Clinic, Patient, RevisionKind, TaperPlan
from reminders.models import Dose, DoseStatus
from tests.support.api import engine_input
from tests.support.clock import START
from tests.support.fhir import schema_errors

INTRATHECAL = {
    "product": "baclofen-intrathecal",
    "pump": {
        "concentration_mcg_per_ml": 500,
        "daily_dose_mcg": 300,
        "reservoir_ml": 20,
        "alarm_volume_ml": 2,
        "last_refill_date": "2027-02-15",
        "wean_steps": [
            {"visit_date": "2027-03-15", "daily_dose_mcg": 250},
            {"visit_date": "2027-04-12", "daily_dose_mcg": 200},
        ],
    },
}


def export(api: APIClient, plan: TaperPlan) -> tuple[Bundle, dict[str, list[Any]]]:
    response = api.get(reverse("api:plan-fhir", args=[plan.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    bundle = Bundle.parse_raw(response.content)
    by_type: dict[str, list[Any]] = {}
    for entry in bundle.entry:
        assert entry.fullUrl == f"urn:uuid:{entry.resource.id}"
        by_type.setdefault(entry.resource.resource_type, []).append(entry.resource)
    return bundle, by_type


def test_the_models_are_fhir_r4() -> None:
    assert fhir.resources.__fhir_version__ == "4.0.1"


def test_each_step_is_a_medication_request_with_the_plans_doses(
    api: APIClient, alice: Any, patient: Patient
) -> None:
    plan = services.plan_create(
        patient=patient, by=alice, engine_input=engine_input(patient, pace="slower")
    )
    output = plan.current_revision.engine_output
    bundle, resources = export(api, plan)
    assert bundle.type == "collection"
    requests: list[MedicationRequest] = resources["MedicationRequest"]
    assert len(requests) == len(output["steps"]) > 1
    for number, (request, step) in enumerate(zip(requests, output["steps"], strict=True), 1):
        assert (request.status, request.intent) == ("draft", "plan")
        assert len(request.dosageInstruction) == len(step["doses"])
        for dosage, dose in zip(request.dosageInstruction, step["doses"], strict=True):
            repeat = dosage.timing.repeat
            assert dosage.sequence == number
            assert repeat.boundsPeriod.start.isoformat() == step["start_date"]
            assert repeat.boundsPeriod.end.isoformat() == step["end_date"]
            assert repeat.timeOfDay == [dt.time.fromisoformat(dose["time"])]
            assert (repeat.frequency, repeat.period, repeat.periodUnit) == (1, 1, "d")
            quantity = dosage.doseAndRate[0].doseQuantity
            assert quantity.value == Decimal(str(dose["amount_mg"]))
            assert (quantity.system, quantity.code) == ("http://unitsofmeasure.org", "mg")
    (medication,) = resources["Medication"]
    assert isinstance(medication, Medication)
    # Baclofen tablets: no RxNorm code verified in the catalogue, so the name alone
    # (tests/api/test_fhir_products.py covers every product).
    assert medication.code.coding is None
    assert medication.code.text == "Baclofen tablets"
    assert all(r.medicationReference.reference == f"urn:uuid:{medication.id}" for r in requests)
    (careplan,) = resources["CarePlan"]
    assert isinstance(careplan, CarePlan)
    assert careplan.period.start.isoformat() == output["start_date"]
    assert careplan.period.end.isoformat() == output["end_date"]
    assert [a.reference.reference for a in careplan.activity] == [
        f"urn:uuid:{r.id}" for r in requests
    ]
    (fhir_patient,) = resources["Patient"]
    assert fhir_patient.birthDate == patient.date_of_birth
    assert careplan.subject.reference == f"urn:uuid:{fhir_patient.id}"


def test_the_dose_log_is_exported_as_administrations(
    api: APIClient, alice: Any, patient: Patient
) -> None:
    with time_machine.travel(dt.datetime(2027, 2, 20, 12, tzinfo=dt.UTC), tick=False):
        plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
        services.plan_activate(plan=plan, by=alice)
    doses = list(Dose.objects.filter(plan=plan).order_by("due_at"))
    answered = {doses[0].pk: DoseStatus.TAKEN, doses[1].pk: DoseStatus.MISSED,
                doses[2].pk: DoseStatus.SKIPPED}
    for pk, status in answered.items():
        Dose.objects.filter(pk=pk).update(status=status)
    _, resources = export(api, plan)
    administrations: list[MedicationAdministration] = resources["MedicationAdministration"]
    assert len(administrations) == 3
    requests = {f"urn:uuid:{r.id}": r for r in resources["MedicationRequest"]}
    zone = ZoneInfo(patient.home_timezone)
    for administration, dose in zip(administrations, doses[:3], strict=True):
        assert administration.identifier[0].value == str(dose.pk)
        assert administration.status == {
            DoseStatus.TAKEN: "completed", DoseStatus.MISSED: "not-done",
            DoseStatus.SKIPPED: "not-done",
        }[answered[dose.pk]]
        moment = administration.effectiveDateTime
        assert moment == dose.due_at
        local = moment.astimezone(zone)
        assert (local.date(), local.time()) == (dose.local_date, dose.local_time)
        assert administration.dosage.dose.value == dose.amount_mg
        # Its request is the step the dose belongs to, with the same time and amount.
        request = requests[administration.request.reference]
        assert any(
            d.timing.repeat.timeOfDay == [dose.local_time]
            and d.doseAndRate[0].doseQuantity.value == dose.amount_mg
            and d.timing.repeat.boundsPeriod.start <= dose.local_date
            <= d.timing.repeat.boundsPeriod.end
            for d in request.dosageInstruction
        )
    assert doses[0].local_date == START


def test_a_pump_plan_exports_each_daily_dose_with_its_dates(
    api: APIClient, alice: Any, patient: Patient
) -> None:
    data = {**engine_input(patient), **INTRATHECAL}
    for key in ("doses", "goal"):
        data.pop(key)
    plan = services.plan_create(patient=patient, by=alice, engine_input=data)
    _, resources = export(api, plan)
    periods = [
        (
            d.timing.repeat.boundsPeriod.start.isoformat(),
            d.timing.repeat.boundsPeriod.end and d.timing.repeat.boundsPeriod.end.isoformat(),
            d.doseAndRate[0].rateRatio.numerator.value,
            d.route.coding[0].code,
        )
        for r in resources["MedicationRequest"]
        for d in r.dosageInstruction
    ]
    assert periods == [
        ("2027-03-01", "2027-03-14", 300, "72607000"),
        ("2027-03-15", "2027-04-11", 250, "72607000"),
        ("2027-04-12", None, 200, "72607000"),
    ]


def test_the_plan_page_links_a_download_of_the_bundle(
    client: Any, alice: Any, patient: Patient, plan: TaperPlan
) -> None:
    client.force_login(alice)
    url = reverse("api:plan-fhir", args=[plan.pk]) + "?download=1"
    assert url in client.get(reverse("plan", args=[plan.pk])).content.decode()
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="taper-plan-{plan.pk}.fhir.json"'
    )
    Bundle.parse_raw(response.content)


def identities(node: Any) -> list[str]:
    """Every resource id, full URL, reference and identifier system in a bundle's JSON."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("id", "fullUrl", "reference", "system") and isinstance(value, str):
                found.append(f"{key}={value}")
            found.extend(identities(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(identities(item))
    return found


def test_moving_the_site_changes_no_id_and_no_identifier_system(
    api: APIClient, alice: Any, patient: Patient
) -> None:
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    url = reverse("api:plan-fhir", args=[plan.pk])
    with override_settings(SITE_URL="https://old.example.org"):
        before = identities(api.get(url).json())
    with override_settings(SITE_URL="https://new.example.net"):
        after = identities(api.get(url).json())
    assert before == after
    assert not any("example.org" in item or "example.net" in item for item in before)
    systems = {item for item in before if item.startswith("system=")}
    assert "system=https://taper-planner.invalid/fhir/patient" in systems


@override_settings(FHIR_IDENTIFIER_SYSTEM="https://fhir.example.org/taper")
def test_identifiers_are_under_the_configured_system(
    api: APIClient, alice: Any, patient: Patient
) -> None:
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    _, resources = export(api, plan)
    (fhir_patient,) = resources["Patient"]
    assert [(i.system, i.value) for i in fhir_patient.identifier] == [
        ("https://fhir.example.org/taper/patient", str(patient.pk))
    ]


# --- time zone, step status, revisions and provenance (#23) ----------------------------

TIMEZONE = "http://hl7.org/fhir/StructureDefinition/timezone"
MID_PLAN = dt.datetime(2027, 3, 6, 12, tzinfo=dt.UTC)  # in the second step of the plans


def bundle_json(api: APIClient, plan: TaperPlan) -> dict[str, Any]:
    response = api.get(reverse("api:plan-fhir", args=[plan.pk]))
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    Bundle.parse_obj(data)
    return data


def of_type(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == resource_type
    ]


def by_reference(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}


def step_dates(request: dict[str, Any]) -> tuple[str, str | None]:
    bounds = request["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]
    return bounds["start"], bounds.get("end")


@pytest.fixture
def reviewed(clinic: Clinic, alice: Any, bob: Any, patient: Patient) -> TaperPlan:
    """An active plan of a clinic that reviews every plan: approved by Bob, then held for
    three days from MID_PLAN, which Bob approved too."""
    clinic.require_review_for_all_plans = True
    clinic.save()
    patient.mrn = "H-0042"
    patient.save()
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_submit(plan=plan, by=alice)
    services.plan_approve(plan=plan, by=bob)
    services.plan_activate(plan=plan, by=alice)
    with time_machine.travel(MID_PLAN, tick=False):
        services.plan_revise(plan=plan, by=alice, kind=RevisionKind.HOLD,
                             from_date=MID_PLAN.date(), days=3)
    with time_machine.travel(MID_PLAN + dt.timedelta(hours=1), tick=False):
        services.revision_approve(plan=plan, by=bob)
    plan.refresh_from_db()
    return plan


def test_the_patients_zone_is_on_the_patient_and_on_every_timing(
    api: APIClient, reviewed: TaperPlan, patient: Patient
) -> None:
    bundle = bundle_json(api, reviewed)
    (fhir_patient,) = of_type(bundle, "Patient")
    zone = {"url": TIMEZONE, "valueCode": patient.home_timezone}
    assert fhir_patient["extension"] == [zone]
    timings = [d["timing"] for r in of_type(bundle, "MedicationRequest")
               for d in r["dosageInstruction"]]
    assert timings
    assert all(timing["extension"] == [zone] for timing in timings)
    # The clinic's MRN is an identifier beside the record's own.
    assert [(i["system"], i["value"]) for i in fhir_patient["identifier"]] == [
        ("https://taper-planner.invalid/fhir/patient", str(patient.pk)),
        ("https://taper-planner.invalid/fhir/mrn", "H-0042"),
    ]
    assert fhir_patient["identifier"][1]["type"]["coding"][0]["code"] == "MR"


def test_each_step_has_the_status_of_its_dates(api: APIClient, reviewed: TaperPlan) -> None:
    with time_machine.travel(MID_PLAN + dt.timedelta(hours=2), tick=False):
        requests = of_type(bundle_json(api, reviewed), "MedicationRequest")
    today = MID_PLAN.date().isoformat()
    statuses = []
    for request in requests:
        start, end = step_dates(request)
        expected = ("completed" if end and end < today
                    else "active" if start <= today else "draft")
        assert request["status"] == expected, (start, end)
        assert request["intent"] == "plan"
        statuses.append(request["status"])
    assert statuses.count("active") == 1
    assert "completed" in statuses
    assert "draft" in statuses
    # Before the plan starts every step is still to come; after its end all are completed.
    assert {r["status"] for r in of_type(bundle_json(api, reviewed), "MedicationRequest")} == {
        "draft"
    }
    after = dt.datetime.combine(reviewed.current_revision.end_date, dt.time(), tzinfo=dt.UTC)
    with time_machine.travel(after + dt.timedelta(days=2), tick=False):
        assert {r["status"] for r in of_type(bundle_json(api, reviewed),
                                              "MedicationRequest")} == {"completed"}


def test_a_revised_plan_has_versions_and_a_provenance_per_revision(
    api: APIClient, reviewed: TaperPlan, alice: Any, bob: Any
) -> None:
    bundle = bundle_json(api, reviewed)
    resources = by_reference(bundle)
    _first, second = reviewed.revisions.order_by("number")
    requests = of_type(bundle, "MedicationRequest")
    assert len(requests) == len(second.engine_output["steps"])
    held = MID_PLAN.date().isoformat()
    for request in requests:
        start, end = step_dates(request)
        # Steps that ended before the hold are revision 1's; the rest were changed by it.
        changed = end is None or end >= held
        assert request["meta"]["versionId"] == ("2" if changed else "1"), (start, end)
    (careplan,) = of_type(bundle, "CarePlan")
    assert careplan["meta"]["versionId"] == "2"
    assert bundle["meta"]["versionId"] == "2"
    provenances = of_type(bundle, "Provenance")
    assert [p["activity"]["coding"][0]["code"] for p in provenances] == ["CREATE", "UPDATE"]
    assert provenances[1]["activity"]["text"].startswith("Revision 2: Revised from 2027-03-06")
    assert provenances[1]["recorded"] == second.created_at.isoformat(timespec="seconds")
    assert provenances[1]["meta"]["lastUpdated"] == (
        MID_PLAN + dt.timedelta(hours=1)).isoformat(timespec="seconds")
    for provenance in provenances:
        roles = {
            agent["type"]["coding"][0]["code"]: resources[agent["who"]["reference"]]
            for agent in provenance["agent"]
        }
        assert roles["author"]["resourceType"] == "Practitioner"
        assert roles["author"]["identifier"][0]["value"] == str(alice.pk)
        assert roles["verifier"]["identifier"][0]["value"] == str(bob.pk)
        assert provenance["target"][0]["reference"] == f"urn:uuid:{careplan['id']}"
    # The second Provenance names exactly the steps the hold changed.
    changed_refs = {f"urn:uuid:{r['id']}" for r in requests if r["meta"]["versionId"] == "2"}
    assert {t["reference"] for t in provenances[1]["target"][1:]} == changed_refs
    assert len(of_type(bundle, "Practitioner")) == 2


def test_steps_a_draft_edit_removed_are_kept_as_entered_in_error(
    api: APIClient, alice: Any, patient: Patient
) -> None:
    larger = [{"time": "08:00", "amount_mg": 10}, {"time": "20:00", "amount_mg": 10}]
    plan = services.plan_create(
        patient=patient, by=alice, engine_input=engine_input(patient, doses=larger)
    )
    services.plan_draft_update(plan=plan, by=alice, engine_input=engine_input(patient))
    plan.refresh_from_db()
    kept = len(plan.current_revision.engine_output["steps"])
    requests = of_type(bundle_json(api, plan), "MedicationRequest")
    removed = requests[kept:]
    assert removed, "the smaller regimen has fewer steps"
    assert all(r["status"] == "draft" for r in requests[:kept])
    for request in removed:
        assert request["status"] == "entered-in-error"
        assert request["statusReason"]["text"] == "Removed from the draft by revision 2"
        assert request["meta"]["versionId"] == "2"


def test_a_cancelled_plan_stops_its_running_step_and_cancels_the_later_ones(
    api: APIClient, alice: Any, patient: Patient
) -> None:
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_activate(plan=plan, by=alice)
    with time_machine.travel(MID_PLAN, tick=False):
        services.plan_cancel(plan=plan, by=alice, reason="Moved to another clinic")
    with time_machine.travel(MID_PLAN + dt.timedelta(days=30), tick=False):
        bundle = bundle_json(api, plan)
    (careplan,) = of_type(bundle, "CarePlan")
    assert careplan["status"] == "revoked"
    statuses = [r["status"] for r in of_type(bundle, "MedicationRequest")]
    assert statuses[0] == "completed"
    assert statuses.count("stopped") == 1
    assert statuses[-1] == "cancelled"
    for request in of_type(bundle, "MedicationRequest"):
        if request["status"] in ("stopped", "cancelled"):
            assert request["statusReason"]["text"] == (
                "Plan cancelled on 2027-03-06: Moved to another clinic"
            )


def test_moving_the_site_changes_no_id_of_a_revised_plan(
    api: APIClient, reviewed: TaperPlan
) -> None:
    url = reverse("api:plan-fhir", args=[reviewed.pk])
    with override_settings(SITE_URL="http://old.example.org"):
        before = identities(api.get(url).json())
    with override_settings(SITE_URL="https://new.example.net"):
        after = identities(api.get(url).json())
    assert before == after
    assert any(item.startswith("reference=urn:uuid:") for item in before)


@pytest.mark.external
def test_every_exported_resource_passes_the_official_r4_json_schema(
    api: APIClient, reviewed: TaperPlan, alice: Any, patient: Patient
) -> None:
    pump = {**engine_input(patient), **INTRATHECAL}
    for key in ("doses", "goal"):
        pump.pop(key)
    pump_plan = services.plan_create(patient=patient, by=alice, engine_input=pump)
    for plan in (reviewed, pump_plan):
        bundle = bundle_json(api, plan)
        assert schema_errors({**bundle, "entry": []}) == []
        types = set()
        for entry in bundle["entry"]:
            assert schema_errors(entry["resource"]) == []
            types.add(entry["resource"]["resourceType"])
        assert {"Patient", "CarePlan", "MedicationRequest", "Provenance",
                "Practitioner", "Medication"} <= types
    # The schema is strict: a wrong field is found.
    assert schema_errors({"resourceType": "Patient", "gender": "female", "colour": 1})


def test_steps_a_replacement_takes_over_are_cancelled_with_the_reason(
    api: APIClient, alice: Any, patient: Patient
) -> None:
    """A replaced plan runs until the day before its replacement (issue #15): the steps
    after that never happen, so they are cancelled, not active or draft."""
    from tests.support.clock import START

    running = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_activate(plan=running, by=alice)
    new_start = START + dt.timedelta(days=5)
    replacement = services.plan_create(
        patient=patient, by=alice,
        engine_input=engine_input(patient, start_date=new_start.isoformat()),
    )  # fmt: skip
    services.plan_activate(plan=replacement, by=alice)
    _, by_type = export(api, running)
    steps = {
        request.dosageInstruction[0].timing.repeat.boundsPeriod.start: request
        for request in by_type["MedicationRequest"]
    }
    later = [request for start, request in steps.items() if start >= new_start]
    assert later
    for request in later:
        assert request.status == "cancelled"
        assert request.statusReason.text == f"Replaced by a new plan from {new_start}"
    assert all(r.status != "cancelled" for start, r in steps.items() if start < new_start)
