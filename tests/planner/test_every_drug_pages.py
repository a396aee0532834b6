"""Issue #22 on the clinician's side: the drug is picked first, and a clonazepam (switched
to diazepam), a gabapentin and a zolpidem plan go through the form, the preview, the
plan page, the review page, the handout and the cancel page like a baclofen plan, each
naming its own medicine and its own withdrawal risk."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

import taper
from planner import medicines, services
from planner.models import Clinic, Patient, PlanStatus, TaperPlan
from planner.roles import Role
from tests.support.factories import make_staff
from tests.support.plans import plan_post, review_post

# Each drug class's plan as the clinician types it into the form.
DRUGS: dict[str, dict[str, Any]] = {
    "clonazepam": {
        "product": "clonazepam-oral-tablet",
        "switch_to": "diazepam-oral-tablet",
        "months_on_therapy": "60",
        "dose_time_1": "08:00", "dose_amount_1": "1",
        "dose_time_2": "20:00", "dose_amount_2": "1",
        "dose_time_3": None, "dose_amount_3": None,
    },
    "gabapentin": {
        "product": "gabapentin-oral-capsule",
        "months_on_therapy": "12",
        "dose_amount_1": "300", "dose_amount_2": "300", "dose_amount_3": "300",
    },
    "zolpidem": {
        "product": "zolpidem-oral-tablet",
        "months_on_therapy": "12",
        "dose_time_1": "22:00", "dose_amount_1": "10", "dose_role_1": "bedtime",
        "dose_time_2": None, "dose_amount_2": None,
        "dose_time_3": None, "dose_amount_3": None,
    },
}  # fmt: skip
CLASS_OF = {
    "clonazepam": "benzodiazepine-oral",
    "gabapentin": "gabapentinoid-oral",
    "zolpidem": "z-drug-oral",
}


@pytest.fixture
def logged_in(client: Client, alice: Any) -> Client:
    client.force_login(alice)
    return client


@pytest.fixture
def bob(django_user_model: Any, clinic: Clinic) -> Any:
    """A reviewer of the first clinic."""
    return make_staff(django_user_model, "bob", clinic, Role.REVIEWER)


def test_the_new_plan_form_asks_for_the_medicine_before_anything_else(
    logged_in: Client, patient: Patient
) -> None:
    page = logged_in.get(reverse("plan_new", args=[patient.pk])).content.decode()
    assert 'name="product"' in page
    assert 'name="dose_time_1"' not in page
    assert 'name="save"' not in page
    assert "Choose the medicine first" in page
    form = logged_in.get(reverse("plan_new", args=[patient.pk])).context["form"]
    offered = {value for _, group in form.fields["product"].choices[1:] for value, _ in group}
    assert offered == {product.id for product in taper.list_products()}


def test_choosing_a_medicine_shows_its_fields_without_errors_and_keeps_what_was_typed(
    logged_in: Client, patient: Patient
) -> None:
    response = logged_in.post(
        reverse("plan_new", args=[patient.pk]),
        {"product": "clonazepam-oral-tablet", "choose_product": "1", "months_on_therapy": "60"},
    )
    page = response.content.decode()
    form = response.context["form"]
    assert not form.is_bound
    assert 'name="dose_time_1"' in page
    assert 'name="switch_to"' in page
    assert 'value="60"' in page
    assert "field-error" not in page
    assert [value for value, _ in form.fields["tablet_strengths"].choices] == ["0.5", "1", "2"]
    assert "Clonazepam" in page
    assert "can be halved" in page
    assert not TaperPlan.objects.exists()


def test_only_a_benzodiazepine_other_than_diazepam_offers_the_switch(
    logged_in: Client, patient: Patient
) -> None:
    def offered(product: str) -> bool:
        response = logged_in.post(
            reverse("plan_new", args=[patient.pk]), {"product": product, "choose_product": "1"}
        )
        return 'name="switch_to"' in response.content.decode()

    assert offered("alprazolam-oral-tablet")
    assert not offered("diazepam-oral-tablet")
    assert not offered("gabapentin-oral-capsule")
    assert not offered("baclofen-oral-tablet")


def test_a_gabapentinoid_form_shows_the_kidney_function_of_the_patient_record(
    logged_in: Client, patient: Patient
) -> None:
    patient.creatinine_clearance_ml_min = 25
    patient.dialysis = True
    patient.save()
    page = logged_in.post(
        reverse("plan_new", args=[patient.pk]),
        {"product": "gabapentin-oral-capsule", "choose_product": "1"},
    ).content.decode()
    assert "creatinine clearance 25 mL/min; on dialysis" in page


def test_a_zolpidem_form_starts_its_first_dose_as_the_bedtime_dose(
    logged_in: Client, patient: Patient
) -> None:
    form = logged_in.post(
        reverse("plan_new", args=[patient.pk]),
        {"product": "zolpidem-oral-tablet", "choose_product": "1"},
    ).context["form"]
    assert form["dose_role_1"].value() == "bedtime"


def test_a_zolpidem_dose_without_the_bedtime_role_is_refused_next_to_the_role(
    logged_in: Client, patient: Patient
) -> None:
    response = logged_in.post(
        reverse("plan_new", args=[patient.pk]),
        plan_post(**{**DRUGS["zolpidem"], "dose_role_1": ""}, save="1"),
    )
    assert "bedtime" in response.context["form"].errors["dose_role_1"][0]
    assert not TaperPlan.objects.exists()


def test_the_switch_preview_shows_the_equivalence_with_its_factor_source_and_range(
    logged_in: Client, patient: Patient
) -> None:
    response = logged_in.post(
        reverse("plan_preview", args=[patient.pk]), plan_post(**DRUGS["clonazepam"])
    )
    page = response.content.decode()
    equivalence = response.context["preview"]["output"]["equivalence"]
    assert "Switch from Clonazepam" in page
    assert "to Diazepam" in page
    assert f"<strong>{equivalence['factor']} mg</strong>" in page
    assert f"{equivalence['range'][0]} to {equivalence['range'][1]}" in page
    assert "Joint Clinical Practice Guideline on Benzodiazepine Tapering" in page
    assert "EQUIVALENCE_SWITCH" in page
    assert "clonazepam-oral-tablet" not in page
    assert "diazepam-oral-tablet" not in page


@pytest.mark.parametrize("drug", sorted(DRUGS))
def test_a_plan_of_each_drug_class_goes_from_the_form_to_an_active_plan_through_the_pages(
    drug: str, logged_in: Client, client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    form = plan_post(**DRUGS[drug])
    preview = logged_in.post(reverse("plan_preview", args=[patient.pk]), form)
    assert preview.context["preview"] is not None, preview.context["form"].errors
    saved = logged_in.post(reverse("plan_new", args=[patient.pk]), {**form, "save": "1"})
    assert saved.status_code == 302, saved.context["form"].errors
    plan = TaperPlan.objects.get()
    assert plan.drug == drug
    assert plan.current_revision.engine_input.get("switch_to") == form.get("switch_to")
    name = medicines.product_name(form["product"])
    risk = medicines.WITHDRAWAL_RISK[CLASS_OF[drug]]
    for url in ("plan", "plan_handout", "plan_cancel"):
        page = logged_in.get(reverse(url, args=[plan.pk])).content.decode()
        assert "baclofen" not in page.lower(), url
        assert form["product"] not in page, url
    assert name in logged_in.get(reverse("plan", args=[plan.pk])).content.decode()
    handout = logged_in.get(reverse("plan_handout", args=[plan.pk])).content.decode()
    assert str(risk.patient_warning) in handout
    assert str(risk.warning_signs[0]) in handout
    if plan.requires_review:
        logged_in.post(reverse("plan_submit", args=[plan.pk]))
        client.force_login(bob)
        review = client.get(reverse("plan_review", args=[plan.pk])).content.decode()
        assert name in review
        assert "baclofen" not in review.lower()
        approved = client.post(reverse("plan_review", args=[plan.pk]), review_post(plan, "approve"))
        assert approved.status_code == 302
        client.force_login(alice)
    client.post(reverse("plan_activate", args=[plan.pk]))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    cancel = client.get(reverse("plan_cancel", args=[plan.pk])).content.decode()
    assert f"Stopping {drug} suddenly risks withdrawal" in cancel
    assert str(risk.clinician) in cancel.replace("&#x27;", "'")


ALERT_PLANS: dict[str, tuple[str, str, list[dict[str, Any]]]] = {
    "baclofen": ("baclofen-oral", "baclofen-oral-tablet", [{"time": "08:00", "amount_mg": 10}]),
    "clonazepam": ("benzodiazepine-oral", "clonazepam-oral-tablet",
                   [{"time": "08:00", "amount_mg": 1}, {"time": "20:00", "amount_mg": 1}]),
    "gabapentin": ("gabapentinoid-oral", "gabapentin-oral-capsule",
                   [{"time": "08:00", "amount_mg": 300}, {"time": "20:00", "amount_mg": 300}]),
    "zolpidem": ("z-drug-oral", "zolpidem-oral-tablet",
                 [{"time": "22:00", "amount_mg": 10, "role": "bedtime"}]),
}  # fmt: skip


@pytest.mark.parametrize("drug", list(ALERT_PLANS))
def test_the_abrupt_stop_alert_email_names_no_drug_and_its_page_names_the_risk(
    client: Client, alice: Any, patient: Patient, drug: str
) -> None:
    """The alert e-mail is PHI-minimal (a privacy review, issue #22): no drug, class,
    dose or symptom, only that an alert needs attention and the link to its page; the
    page, after sign-in, says what stopping this drug suddenly risks."""
    import datetime as dt

    from django.utils import timezone

    from reminders.messages import messages_for
    from reminders.models import AbruptStopAlert, AlertReason, Recipient, Reminder, ReminderKind
    from tests.support.plans import engine_input

    kind, product, doses = ALERT_PLANS[drug]
    plan = services.plan_create(
        patient=patient, by=alice, engine_input=engine_input(patient, product=product, doses=doses)
    )
    now = timezone.now()
    alert = AbruptStopAlert.objects.create(
        plan=plan, reason=AlertReason.SEVERE_SYMPTOMS, since=now - dt.timedelta(hours=2),
        raised_at=now, detail="Check-in reports: seizure. Consider holding the current step.",
    )  # fmt: skip
    row = Reminder.objects.create(
        plan=plan, kind=ReminderKind.ABRUPT_STOP_ALERT, recipient=Recipient.CLINIC,
        due_at=now, key=f"alert-{alert.pk}", context={"alert_id": alert.pk},
    )  # fmt: skip
    [message] = messages_for(row)
    risk = medicines.WITHDRAWAL_RISK[kind]
    for text in (message.subject, message.text, message.html()):
        lowered = text.lower()
        for word in (drug, "baclofen", "benzodiazepine", "gabapentinoid", "z-drug", "mg",
                     "seizure", "check-in reports", patient.given_name.lower()):
            assert word not in lowered, (word, text)
        assert str(risk.clinician).lower()[:40] not in lowered
    assert message.subject == f"Abrupt-stop alert needs attention: patient #{patient.pk}"
    assert f"/clinic/alerts/{alert.pk}/" in message.text
    client.force_login(alice)
    page = client.get(reverse("alert", args=[alert.pk])).content.decode()
    assert str(risk.clinician) in page.replace("&#x27;", "'")


def test_every_product_has_a_name_and_a_sourced_withdrawal_risk_of_its_own_class() -> None:
    for product in taper.list_products():
        kind = medicines.drug_class(product)
        assert kind in medicines.WITHDRAWAL_RISK, product.id
        risk = medicines.withdrawal_risk(product.id)
        assert risk is medicines.WITHDRAWAL_RISK[kind]
        assert risk.source
        assert risk.warning_signs
        assert risk.emergency_signs
        assert medicines.product_name(product.id) == product.name
    texts = {str(risk.patient_warning) for risk in medicines.WITHDRAWAL_RISK.values()}
    assert len(texts) == len(medicines.WITHDRAWAL_RISK)


def test_every_withdrawal_risk_text_reads_in_spanish() -> None:
    from django.utils import translation

    for kind, risk in medicines.WITHDRAWAL_RISK.items():
        texts = [risk.clinician, risk.patient_warning, *risk.warning_signs, *risk.emergency_signs]
        english = [str(text) for text in texts]
        with translation.override("es"):
            spanish = [str(text) for text in texts]
        assert all(es != en for es, en in zip(spanish, english, strict=True)), kind
    with translation.override("es"):
        assert [label for label, _ in medicines.product_choices()][2] == "Benzodiacepinas"
