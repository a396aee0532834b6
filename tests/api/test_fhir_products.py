"""The FHIR export for every catalogue product: route, dose form and RxNorm code come from
the product catalogue (taper/products), never from per-drug constants; a code is exported
only where the catalogue verified one for the whole product."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fhir.resources.bundle import Bundle

import taper
from api import fhir
from tests.support.clock import NOW
from tests.support.fhir import schema_errors

SYSTEM = "https://clinic.example/fhir-ids"
ORAL_PRODUCTS = [p.id for p in taper.list_products() if not p.is_intrathecal]


def _engine_output(product: taper.Product) -> dict[str, Any]:
    """A small valid discontinue plan of the product: two dose steps at bedtime."""
    data = {
        "product": product.id,
        "doses": [
            {"time": "21:00", "amount_mg": float(2 * product.dose_quantum_mg), "role": "bedtime"}
        ],
        "start_date": "2027-03-01",
        "timezone": "Europe/London",
        "goal": {"type": "discontinue"},
        "patient": {"age_years": 50, "months_on_therapy": 3},
    }
    return taper.plan_to_json(taper.plan(taper.parse_request(data)))


def _export(product: taper.Product) -> fhir.PlanExport:
    clinician = fhir.StaffRecord(id=1, name="Dr A")
    revision = fhir.RevisionRecord(
        number=1,
        kind="initial",
        kind_label="Initial plan",
        created_at=NOW,
        in_force_at=NOW,
        effective_from=dt.date(2027, 3, 1),
        author=clinician,
        approver=None,
        change="Initial plan",
        output=_engine_output(product),
    )
    return fhir.PlanExport(
        identifier_system=SYSTEM,
        plan_id=7,
        status="draft",
        created_at=NOW,
        patient=fhir.PatientRecord(
            id=3,
            given_name="Test",
            family_name="Patient",
            birth_date=dt.date(1977, 1, 1),
            sex="female",
            timezone="Europe/London",
        ),
        product=fhir.ProductRecord(
            id=product.id,
            drug=product.drug,
            name=product.name,
            route=product.route,
            form=product.form,
            rxnorm=product.rxnorm,
        ),
        revisions=(revision,),
        doses=(),
        generated_at=NOW,
        today=dt.date(2027, 2, 20),
    )


def _resources(product: taper.Product) -> dict[str, list[dict[str, Any]]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    bundle = fhir.plan_bundle(_export(product))
    Bundle.parse_obj(bundle)  # the R4 models of fhir.resources accept it
    for entry in bundle["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return by_type


def _product(product_id: str) -> taper.Product:
    found = taper.load_catalogue().product(product_id)
    assert found is not None
    return found


@pytest.mark.parametrize("product_id", ORAL_PRODUCTS)
def test_medication_route_and_form_come_from_the_catalogue(product_id: str) -> None:
    product = _product(product_id)
    resources = _resources(product)
    (medication,) = resources["Medication"]
    assert medication["code"]["text"] == product.name
    assert medication["form"] == {"text": product.form}
    if product.rxnorm is None:
        assert "coding" not in medication["code"]
    else:
        assert medication["code"]["coding"] == [{"system": fhir.RXNORM, "code": product.rxnorm}]
    route_code, route_name = fhir.ROUTES[product.route]
    for request in resources["MedicationRequest"]:
        for dosage in request["dosageInstruction"]:
            assert dosage["route"]["coding"][0]["code"] == route_code
            assert dosage["route"]["text"] == route_name


def test_only_products_the_catalogue_codes_as_a_whole_carry_an_rxnorm_code() -> None:
    coded = {p.id: p.rxnorm for p in taper.list_products() if p.rxnorm is not None}
    # Oral solutions of one concentration whose code the catalogue verified (openFDA NDC).
    assert coded == {"diazepam-oral-solution": "309843", "gabapentin-oral-solution": "283523"}
    # A code per tablet strength names that strength only: not the product.
    alprazolam = _product("alprazolam-oral-tablet")
    assert any(strength.rxnorm for strength in alprazolam.strengths)
    assert alprazolam.rxnorm is None
    assert "coding" not in _resources(alprazolam)["Medication"][0]["code"]
    # Baclofen has none in the catalogue, so it is exported by name alone.
    assert _product("baclofen-oral-tablet").rxnorm is None


@pytest.mark.external
@pytest.mark.parametrize("product_id", ORAL_PRODUCTS)
def test_every_products_export_passes_the_official_r4_json_schema(product_id: str) -> None:
    bundle = fhir.plan_bundle(_export(_product(product_id)))
    assert schema_errors({**bundle, "entry": []}) == []
    for entry in bundle["entry"]:
        assert schema_errors(entry["resource"]) == []
