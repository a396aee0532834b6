"""My plan and the "I missed a dose" page say the amounts and the missed-dose advice in
the patient's language (issue #22): the engine's English (`units_text`, each rule's
`text`) never reaches a Spanish-speaking patient."""

from __future__ import annotations

from typing import Any

import time_machine
from django.test import Client
from django.urls import reverse

from planner.models import Patient, TaperPlan
from portal import services
from tests.support.plans import at_new_york


def test_my_plan_in_spanish_names_tablets_and_missed_dose_advice_in_spanish(
    sam_client: Client, plan: TaperPlan, patient: Patient
) -> None:
    services.language_set(patient=patient, language="es")
    with time_machine.travel(at_new_york("2027-03-02", "09:00"), tick=False):
        body = sam_client.get(reverse("patient_plan")).content.decode()
    output = plan.current_revision.engine_output
    assert "10 mg (1 comprimido de 10 mg)" in body
    assert "2,5 mg (½ comprimido de 5 mg)" in body
    assert (
        "Si olvida la dosis de las 08:00, tómela en cuanto se acuerde, hasta las 11:00. "
        "Después de las 11:00, sáltela y tome la dosis de las 14:00 como siempre."
    ) in body
    for step in output["steps"]:
        for dose in step["doses"]:
            assert f"({dose['units_text']})" not in body
        for rule in step["missed_dose"]:
            assert rule["text"] not in body
    assert "If you miss" not in body


def test_my_plan_in_english_says_the_engines_advice_and_tablets_in_words(
    sam_client: Client, plan: TaperPlan
) -> None:
    with time_machine.travel(at_new_york("2027-03-02", "09:00"), tick=False):
        body = sam_client.get(reverse("patient_plan")).content.decode()
    assert "10 mg (1 tablet of 10 mg)" in body
    for step in plan.current_revision.engine_output["steps"]:
        for rule in step["missed_dose"]:
            assert rule["text"] in body  # the next dose by its time, as the engine says


def test_the_missed_dose_page_says_the_amount_in_spanish(
    sam_client: Client, plan: TaperPlan, patient: Patient
) -> None:
    services.language_set(patient=patient, language="es")
    with time_machine.travel(at_new_york("2027-03-01", "15:00"), tick=False):
        body = sam_client.get(reverse("patient_missed")).content.decode()
    assert "½ comprimido de 5 mg (2,5 mg)" in body  # the 14:00 dose of step 1
    assert "× 5 mg" not in body


def test_my_plan_warns_of_what_stopping_this_drug_suddenly_risks_in_spanish(
    client: Client, alice: Any, patient: Patient, django_user_model: Any
) -> None:
    """A zolpidem plan does not read the baclofen or benzodiazepine warning."""
    import datetime as dt

    from planner import medicines
    from planner import services as plan_services
    from tests.support.factories import patient_account
    from tests.support.plans import engine_input

    sam = patient_account(django_user_model, patient, "sam")
    plan = plan_services.plan_create(
        patient=patient, by=alice, engine_input=engine_input(
            patient, product="zolpidem-oral-tablet",
            doses=[{"time": "22:00", "amount_mg": 10, "role": "bedtime"}],
        ),
    )  # fmt: skip
    with time_machine.travel(dt.datetime(2027, 2, 25, tzinfo=dt.UTC)):
        plan_services.plan_activate(plan=plan, by=alice)
    services.language_set(patient=patient, language="es")
    client.force_login(sam)
    with time_machine.travel(at_new_york("2027-03-02", "09:00"), tick=False):
        body = client.get(reverse("patient_plan")).content.decode()
    from django.utils import translation

    with translation.override("es"):
        warning = str(medicines.WITHDRAWAL_RISK["z-drug-oral"].patient_warning)
    assert warning in body
    assert "alucinaciones" not in body
