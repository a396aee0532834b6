"""The FHIR export parses back with the R4 models of fhir.resources, and its amounts,
times of day and dates are the plan's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import fhir.resources
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
from planner.models import Patient, TaperPlan
from reminders.models import Dose, DoseStatus
from tests.support.api import engine_input
from tests.support.clock import START

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
    coding = medication.code.coding[0]
    assert (coding.system, coding.code) == ("http://www.nlm.nih.gov/research/umls/rxnorm", "1292")
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
