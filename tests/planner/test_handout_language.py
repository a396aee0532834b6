"""The printed handout is the patient's paper (issue #22): it prints in the patient's
language, whatever the clinician's, with the engine's English sentences (missed-dose
advice, the tablets of each dose, the pharmacy's lines) written again in Spanish
(planner.patient_words). In English the same functions give the engine's own words."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

import taper
from planner import patient_words, services
from planner.models import Patient, TaperPlan
from planner.plan_reads import missed_dose_by_step
from portal.services import language_set
from taper.dispensing import pharmacy_order_from_plan_json
from tests.support.clock import START
from tests.support.plans import engine_input

# One plan of each drug class, as tests/support/plans.engine_input overrides.
PLANS: dict[str, dict[str, Any]] = {
    "baclofen": {},
    "benzodiazepine": {
        "product": "lorazepam-oral-tablet",
        "doses": [{"time": "08:00", "amount_mg": 1}, {"time": "22:00", "amount_mg": 1}],
    },
    "gabapentinoid": {
        "product": "gabapentin-oral-capsule",
        "doses": [{"time": "08:00", "amount_mg": 300}, {"time": "20:00", "amount_mg": 300}],
    },
}


def handout(client: Client, alice: Any, patient: Patient, overrides: dict[str, Any]) -> tuple[
    TaperPlan, str
]:
    plan = services.plan_create(
        patient=patient, by=alice, engine_input=engine_input(patient, **overrides)
    )
    client.force_login(alice)
    # The clinician reads English; the handout follows the patient.
    response = client.get(reverse("plan_handout", args=[plan.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return plan, response.content.decode()


@pytest.mark.parametrize("drug", list(PLANS))
def test_a_spanish_speaking_patients_handout_prints_in_spanish(
    client: Client, alice: Any, patient: Patient, drug: str
) -> None:
    language_set(patient=patient, language="es")
    plan, body = handout(client, alice, patient, PLANS[drug])
    output = plan.current_revision.engine_output
    assert '<html lang="es">' in body
    assert "Su plan para bajar su medicamento, paso a paso" in body
    assert "No deje este medicamento de golpe." in body
    assert "Si olvida una dosis" in body
    assert "Su medicamento de la farmacia" in body
    # No English sentence of the engine is left: each rule's text, each pharmacy line.
    for step in output["steps"]:
        for rule in step["missed_dose"]:
            assert rule["text"] not in body
    for rule in output.get("last_day_missed_dose") or []:
        assert rule["text"] not in body
    for english in ("If you miss", "Never take two doses", "Dispense", "Sig:", "No refills",
                    " tablets", " capsules", "tablet of", "capsule of", "Tick each dose",
                    "no more doses", "Your medicine", "Printed", "Prescribed by"):
        assert english not in body, english
    assert "Nunca tome dos dosis a la vez." in body
    assert "Dispensar" in body
    assert "Sin repeticiones." in body


def test_the_baclofen_handout_in_spanish_says_amounts_and_missed_doses_in_spanish(
    client: Client, alice: Any, patient: Patient
) -> None:
    language_set(patient=patient, language="es")
    _, body = handout(client, alice, patient, PLANS["baclofen"])
    assert "comprimidos de baclofeno de 10 mg" in body  # the medicine, on the box
    assert "1 comprimido de 10 mg" in body
    assert "½ comprimido de 5 mg" in body
    assert (
        "Si olvida la dosis de las 08:00, tómela en cuanto se acuerde, hasta las 11:00. "
        "Después de las 11:00, sáltela y tome la dosis de las 14:00 como siempre. Nunca "
        "tome dos dosis a la vez."
    ) in body
    assert (
        "Si olvida la dosis de las 20:00, tómela en cuanto se acuerde, hasta las 02:00 del "
        "día siguiente."
    ) in body
    assert "Si olvida la dosis de las 20:00 del 14 de marzo de 2027, el último día del plan" in body
    assert "Comprimidos de baclofeno de 10 mg. Dispensar 13 (trece) comprimidos" in body
    assert "Impreso el" in body
    assert "20 de febrero de 2027" in body
    assert "lun 1 mar" in body  # the tick grid's days


def test_the_benzodiazepine_and_gabapentin_handouts_in_spanish(
    client: Client, alice: Any, patient: Patient, django_user_model: Any
) -> None:
    language_set(patient=patient, language="es")
    _, lorazepam = handout(client, alice, patient, PLANS["benzodiazepine"])
    assert "comprimidos de lorazepam de" in lorazepam
    assert "comprimido de 1 mg" in lorazepam or "comprimidos de 1 mg" in lorazepam
    assert "Si olvida la dosis de las 22:00, tómela en cuanto se acuerde" in lorazepam
    assert "tome la dosis de las 08:00 como siempre" in lorazepam
    _, gabapentin = handout(client, alice, patient, PLANS["gabapentinoid"])
    assert "cápsulas de gabapentina de 300 mg" in gabapentin or (
        "cápsulas de gabapentin" in gabapentin
    )
    assert "1 cápsula de 300 mg" in gabapentin
    assert "Si olvida la dosis de las 08:00, tómela en cuanto se acuerde" in gabapentin
    assert "se permiten variaciones entre 15 °C y 30 °C" in gabapentin  # its storage


def test_an_english_speaking_patients_handout_stays_english_for_a_spanish_clinician(
    client: Client, alice: Any, patient: Patient
) -> None:
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    client.force_login(alice)
    body = client.get(
        reverse("plan_handout", args=[plan.pk]), HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    assert '<html lang="en">' in body
    assert "Your plan for lowering your medicine, step by step" in body
    assert "1 tablet of 10 mg" in body
    assert "Si olvida" not in body


@pytest.mark.parametrize("product", [p.id for p in taper.list_products() if not p.is_intrathecal])
def test_in_english_the_rewritten_sentences_are_the_engines_own(product: str) -> None:
    """The msgids repeat the engine's English word for word: an English page reads as the
    plan JSON does, and the engine's wording stays the one place the sentence is made."""
    item = taper.load_catalogue().product(product)
    assert item is not None
    strength = min(s.amount for s in item.strengths)
    amount = strength * 4 if not item.is_liquid else item.concentration_mg_per_ml * 10
    request = {
        "product": product,
        # Zolpidem is taken once, at bedtime; the others at three times a day.
        "doses": [{"time": "22:00", "amount_mg": float(amount), "role": "bedtime"}]
        if item.drug == "zolpidem"
        else [
            {"time": "08:00", "amount_mg": float(amount)},
            {"time": "14:00", "amount_mg": float(amount)},
            {"time": "21:00", "amount_mg": float(amount)},
        ],
        "start_date": START.isoformat(),
        "timezone": "America/New_York",
        "goal": {"type": "discontinue"},
        "patient": {"age_years": 50, "months_on_therapy": 6},
    }
    output = taper.plan_to_json(taper.plan(taper.parse_request(request)))
    with translation.override("en"):
        for group in missed_dose_by_step(output):
            for rule in patient_words.missed_dose_rules(group["rules"]):
                original = next(r for r in group["rules"] if r["time"] == rule["time"])
                assert rule["text"] == original["text"]
        order = pharmacy_order_from_plan_json(item, output, today=START)
        assert order is not None
        for line in order.lines:
            assert patient_words.pharmacy_line_text(item, line, order) == line.wording


def test_spanish_numbers_in_words() -> None:
    from decimal import Decimal

    with translation.override("es"):
        words = {n: patient_words.number_in_words(Decimal(n)) for n in
                 (0, 1, 16, 21, 30, 45, 90, 100, 101, 115, 500, 1000, 1234, 2000)}
    assert words == {
        0: "cero", 1: "uno", 16: "dieciséis", 21: "veintiuno", 30: "treinta",
        45: "cuarenta y cinco", 90: "noventa", 100: "cien", 101: "ciento uno",
        115: "ciento quince", 500: "quinientos", 1000: "mil",
        1234: "mil doscientos treinta y cuatro", 2000: "dos mil",
    }  # fmt: skip


@pytest.mark.parametrize(
    "times",
    [("08:00",), ("22:00",), ("08:00", "20:00"), ("06:00", "12:00", "23:30"), ("00:30", "13:00")],
)
def test_every_shape_of_missed_dose_advice_reads_as_the_engines_in_english(
    times: tuple[str, ...],
) -> None:
    import datetime as dt
    from decimal import Decimal

    from taper.missed_dose import missed_dose_guidance
    from taper.render import _missed_json

    guidance = missed_dose_guidance(tuple(dt.time.fromisoformat(t) for t in times), Decimal("0.5"))
    rules = [_missed_json(g) for g in guidance]
    with translation.override("en"):
        assert [r["text"] for r in patient_words.missed_dose_rules(rules)] == [
            r["text"] for r in rules
        ]
    with translation.override("es"):
        spanish = [r["text"] for r in patient_words.missed_dose_rules(rules)]
    assert all(text.startswith("Si olvida la dosis de las") for text in spanish)
