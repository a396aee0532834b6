"""The clinician's path: patient → plan form with preview → draft → submit/activate → cancel."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from planner import services
from planner.models import (
    Patient,
    PlanFlag,
    PlanRevision,
    PlanStatus,
    Regimen,
    RegimenDose,
    TaperPlan,
)
from planner.roles import Role
from reminders.models import Dose, DoseStatus
from tests.support.clock import START
from tests.support.factories import make_staff
from tests.support.plans import engine_input, plan_post


@pytest.fixture
def logged_in(client: Client, alice: Any) -> Client:
    client.force_login(alice)
    return client


def test_a_clinician_adds_a_patient_with_messages_next_to_wrong_fields(
    logged_in: Client,
) -> None:
    response = logged_in.post(
        reverse("patient_new"),
        {
            "given_name": "Jo",
            "family_name": "Doe",
            "date_of_birth": "2990-01-01",
            "sex": "female",
            "home_timezone": "Europe/Paris",
            "weight_kg": "900",
            "pregnancy_trimester": "0",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "date_of_birth" in form.errors
    assert "weight_kg" in form.errors
    assert Patient.objects.count() == 0
    response = logged_in.post(
        reverse("patient_new"),
        {
            "given_name": "Jo",
            "family_name": "Doe",
            "date_of_birth": "1950-01-01",
            "sex": "female",
            "home_timezone": "Europe/Paris",
            "weight_kg": "70",
            "pregnancy_trimester": "0",
            "cns_depressants": ["opioid"],
        },
    )
    patient = Patient.objects.get()
    assert response["Location"] == reverse("patient", args=[patient.pk])
    assert patient.cns_depressants == ["opioid"]


def test_the_patient_form_records_an_mrn_once_per_clinic(
    logged_in: Client, patient: Patient
) -> None:
    fields = {
        "given_name": "Jo", "family_name": "Doe", "date_of_birth": "1950-01-01",
        "sex": "female", "home_timezone": "Europe/Paris", "pregnancy_trimester": "0",
    }
    Patient.objects.filter(pk=patient.pk).update(mrn="H-100")
    response = logged_in.post(reverse("patient_new"), {**fields, "mrn": "H-100"})
    assert response.context["form"].errors["mrn"] == [
        "MRN: another patient of this clinic has this MRN."
    ]
    response = logged_in.post(reverse("patient_new"), {**fields, "mrn": "H 100"})
    assert "MRN" in response.context["form"].errors["mrn"][0]
    # Saving a patient again keeps their own MRN.
    response = logged_in.post(
        reverse("patient_edit", args=[patient.pk]),
        {**fields, "home_timezone": patient.home_timezone, "mrn": "H-100"},
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.mrn == "H-100"
    assert "<dt>MRN</dt><dd>H-100</dd>" in logged_in.get(
        reverse("patient", args=[patient.pk])).content.decode()


def test_a_clinician_saves_a_draft_plan_with_the_engines_output(
    logged_in: Client, patient: Patient
) -> None:
    response = logged_in.post(reverse("plan_new", args=[patient.pk]), plan_post())
    plan = TaperPlan.objects.get()
    assert response["Location"] == reverse("plan", args=[plan.pk])
    revision = plan.current_revision
    assert revision is not None
    assert plan.status == PlanStatus.DRAFT
    assert revision.protocol_id == "baclofen-oral"
    assert revision.engine_output["duration_days"] == 14
    assert revision.start_date == START
    assert revision.engine_input["timezone"] == "America/New_York"
    assert [(d.time, d.amount_mg) for d in revision.regimen.doses.all()] == [
        (dt.time(8), 10),
        (dt.time(14), 10),
        (dt.time(20), 10),
    ]


def test_refusals_appear_next_to_their_field_and_nothing_is_saved(
    logged_in: Client, patient: Patient
) -> None:
    response = logged_in.post(reverse("plan_new", args=[patient.pk]), plan_post(dose_amount_2="7"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "dose_amount_2" in errors
    assert "7" in errors["dose_amount_2"][0]
    assert 'class="field-error"' in response.content.decode()
    assert TaperPlan.objects.count() == 0
    assert Regimen.objects.count() == 0


def test_a_too_short_taper_is_refused_on_the_length_field(
    logged_in: Client, patient: Patient
) -> None:
    response = logged_in.post(
        reverse("plan_new", args=[patient.pk]),
        plan_post(pace="custom", length_days="3", step_days="2"),
    )
    assert "length_days" in response.context["form"].errors
    assert TaperPlan.objects.count() == 0


def test_submitting_the_same_form_twice_creates_one_plan(
    logged_in: Client, patient: Patient
) -> None:
    first = logged_in.post(reverse("plan_new", args=[patient.pk]), plan_post())
    second = logged_in.post(reverse("plan_new", args=[patient.pk]), plan_post())
    assert TaperPlan.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_a_form_replayed_for_another_patient_is_refused_and_creates_nothing(
    logged_in: Client, patient: Patient
) -> None:
    first = logged_in.post(reverse("plan_new", args=[patient.pk]), plan_post())
    assert first.status_code == 302
    other = Patient.objects.create(
        clinic=patient.clinic, given_name="Ada", family_name="Other",
        date_of_birth=patient.date_of_birth, sex="female", home_timezone="UTC",
    )
    replay = logged_in.post(reverse("plan_new", args=[other.pk]), plan_post())
    assert replay.status_code == 200
    assert "already used for another patient" in " ".join(
        replay.context["form"].non_field_errors()
    )
    assert TaperPlan.objects.count() == 1
    assert not TaperPlan.objects.filter(patient=other).exists()


def test_the_live_preview_changes_with_the_pace(logged_in: Client, patient: Patient) -> None:
    url = reverse("plan_preview", args=[patient.pk])
    standard = logged_in.post(url, plan_post())
    slower = logged_in.post(url, plan_post(pace="slower"))
    assert standard.context["preview"]["output"]["duration_days"] == 14
    assert slower.context["preview"]["output"]["duration_days"] == 21
    assert "<svg" in slower.content.decode()
    assert TaperPlan.objects.count() == 0


def test_the_preview_puts_critical_flags_in_an_alert(logged_in: Client, patient: Patient) -> None:
    patient.creatinine_clearance_ml_min = 20
    patient.save()
    response = logged_in.post(reverse("plan_preview", args=[patient.pk]), plan_post())
    body = response.content.decode()
    assert 'class="critical-banner" role="alert"' in body
    assert "RENAL_SEVERE" in body


def test_the_preview_without_javascript_is_the_form_page(
    logged_in: Client, patient: Patient
) -> None:
    response = logged_in.post(reverse("plan_new", args=[patient.pk]), plan_post(preview="1"))
    assert response.status_code == 200
    assert response.context["preview"]["output"]["duration_days"] == 14
    assert TaperPlan.objects.count() == 0


def create_plan(patient: Patient, by: Any, **overrides: Any) -> TaperPlan:
    return services.plan_create(
        patient=patient, by=by, engine_input=engine_input(patient, **overrides)
    )


def test_an_unflagged_plan_is_activated_directly_and_its_doses_scheduled(
    alice: Any, patient: Patient
) -> None:
    plan = create_plan(patient, alice)
    assert not plan.requires_review
    services.plan_activate(plan=plan, by=alice)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    doses = Dose.objects.filter(plan=plan)
    assert doses.count() == len(plan.current_revision.engine_output["dose_events"])
    first = doses.first()
    assert first.local_time == dt.time(8)
    # 08:00 in New York on 1 March 2027 (EST, UTC-5).
    assert first.due_at == dt.datetime(2027, 3, 1, 13, 0, tzinfo=dt.UTC)


def test_a_flagged_plan_goes_to_review_and_cannot_start_before_approval(
    alice: Any, patient: Patient, django_user_model: Any, clinic: Any
) -> None:
    patient.seizure_history = True
    patient.creatinine_clearance_ml_min = 25
    patient.save()
    plan = create_plan(patient, alice)
    assert plan.requires_review
    with pytest.raises(ValidationError):
        services.plan_activate(plan=plan, by=alice)
    services.plan_submit(plan=plan, by=alice)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PENDING_REVIEW
    with pytest.raises(PermissionDenied):
        services.plan_approve(plan=plan, by=alice)
    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    services.plan_approve(plan=plan, by=bob)
    services.plan_activate(plan=plan, by=alice)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE


def test_the_clinic_can_require_review_of_every_plan(alice: Any, patient: Patient) -> None:
    patient.clinic.require_review_for_all_plans = True
    patient.clinic.save()
    plan = create_plan(patient, alice)
    assert plan.requires_review
    assert not plan.current_revision.requires_review


def test_activating_a_new_plan_replaces_the_running_one(alice: Any, patient: Patient) -> None:
    old = create_plan(patient, alice)
    services.plan_activate(plan=old, by=alice)
    new_start = START + dt.timedelta(days=4)
    new = create_plan(patient, alice, start_date=new_start.isoformat())
    services.plan_activate(plan=new, by=alice)
    old.refresh_from_db()
    # The old plan runs until the day before the new one starts, then ends superseded.
    assert (old.status, old.replaced_by, old.runs_until) == (
        PlanStatus.ACTIVE, new, new_start - dt.timedelta(days=1)
    )
    live = Dose.objects.filter(plan=old).exclude(status=DoseStatus.CANCELLED)
    assert max(live.values_list("local_date", flat=True)) == new_start - dt.timedelta(days=1)
    the_day_after = dt.datetime.combine(new_start + dt.timedelta(days=1), dt.time(12), dt.UTC)
    with time_machine.travel(the_day_after, tick=False):
        services.plans_complete(now=timezone.now())
    old.refresh_from_db()
    assert old.status == PlanStatus.SUPERSEDED
    assert TaperPlan.objects.filter(status=PlanStatus.ACTIVE).get() == new


def test_cancelling_an_active_plan_needs_a_reason_and_is_flagged_as_an_abrupt_stop(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    plan = create_plan(patient, alice)
    services.plan_activate(plan=plan, by=alice)
    page = logged_in.get(reverse("plan_cancel", args=[plan.pk]))
    assert "Stopping baclofen suddenly risks withdrawal" in page.content.decode()
    assert "replace it with a new taper" in page.content.decode()
    refused = logged_in.post(reverse("plan_cancel", args=[plan.pk]), {"reason": " "})
    assert refused.status_code == 200
    assert "Record why" in refused.content.decode()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    logged_in.post(reverse("plan_cancel", args=[plan.pk]), {"reason": "Severe reaction"})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED
    assert PlanFlag.objects.filter(revision=plan.current_revision, code="ABRUPT_STOP").exists()
    assert not Dose.objects.filter(plan=plan, status=DoseStatus.SCHEDULED).exists()


def test_the_database_refuses_two_active_plans_for_one_patient_and_drug(
    alice: Any, patient: Patient
) -> None:
    first = create_plan(patient, alice)
    second = create_plan(patient, alice)
    TaperPlan.objects.filter(pk=first.pk).update(status=PlanStatus.ACTIVE)
    with pytest.raises(IntegrityError), transaction.atomic():
        TaperPlan.objects.filter(pk=second.pk).update(status=PlanStatus.ACTIVE)


def test_the_database_refuses_an_active_plan_that_needed_review_and_has_none(
    alice: Any, patient: Patient
) -> None:
    plan = create_plan(patient, alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        TaperPlan.objects.filter(pk=plan.pk).update(
            status=PlanStatus.ACTIVE, requires_review=True, approved_at=None
        )


def test_the_database_refuses_a_non_positive_dose(alice: Any, patient: Patient) -> None:
    plan = create_plan(patient, alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        RegimenDose.objects.create(
            regimen=plan.current_revision.regimen, time=dt.time(23), amount_mg=0
        )


def test_the_plan_page_shows_table_chart_pharmacy_order_guidance_and_flags(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    patient.cns_depressants = ["opioid"]
    patient.save()
    plan = create_plan(patient, alice)
    body = logged_in.get(reverse("plan", args=[plan.pk])).content.decode()
    assert "<svg" in body
    assert "Pharmacy order" in body
    assert "Baclofen tablets, 10 mg" in body
    assert "Missed-dose guidance" in body
    assert "CNS_DEPRESSANT" in body
    assert "Source:" in body
    assert "Day-by-day schedule (14 days)" in body


def test_the_handout_has_the_schedule_and_warnings_and_nothing_clinic_internal(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    patient.cns_depressants = ["opioid"]
    patient.save()
    plan = create_plan(patient, alice)
    body = logged_in.get(reverse("plan_handout", args=[plan.pk])).content.decode()
    assert "Do not stop this medicine suddenly" in body
    # The tick grid: one column per dose time (issue #18), a box in each dose's cell.
    assert '<th scope="col">08:00' in body
    assert "☐ " in body
    assert "If you miss a dose" in body
    assert "Call emergency services now" in body
    assert "CNS_DEPRESSANT" not in body
    assert "protocol" not in body.lower()
    assert "Pharmacy order" not in body


def test_a_rejected_plan_returns_to_draft_with_the_comment_shown(
    logged_in: Client, alice: Any, patient: Patient, django_user_model: Any, clinic: Any
) -> None:
    patient.seizure_history = True
    patient.creatinine_clearance_ml_min = 25
    patient.save()
    plan = create_plan(patient, alice)
    services.plan_submit(plan=plan, by=alice)
    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    with pytest.raises(ValidationError):
        services.plan_reject(plan=plan, by=bob, comment="")
    services.plan_reject(plan=plan, by=bob, comment="Slow it down for the kidneys")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT
    body = logged_in.get(reverse("plan", args=[plan.pk])).content.decode()
    assert "Slow it down for the kidneys" in body


def test_revisions_keep_what_the_engine_was_given_and_returned(
    alice: Any, patient: Patient
) -> None:
    plan = create_plan(patient, alice)
    revision = PlanRevision.objects.get(plan=plan)
    assert revision.number == 1
    assert revision.engine_input["product"] == "baclofen-oral-tablet"
    assert {f.code for f in revision.flags.all()} == {
        f["code"] for f in revision.engine_output["flags"]
    }


def test_the_dashboard_puts_open_abrupt_stop_alerts_first(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    from reminders.dispatch import alert_raise
    from reminders.models import AlertReason

    plan = create_plan(patient, alice)
    services.plan_activate(plan=plan, by=alice)
    now = dt.datetime(2027, 3, 2, tzinfo=dt.UTC)
    alert_raise(plan=plan, reason=AlertReason.CONSECUTIVE_MISSED, since=now, now=now,
                detail="Two doses in a row were not taken.")
    body = logged_in.get(reverse("dashboard")).content.decode()
    # Issue #18's triage list: alerts, then plans needing action, then running plans.
    assert body.index("Open abrupt-stop alerts") < body.index("Needs action")
    assert body.index("Needs action") < body.index("Running plans")
    assert "Two doses in a row missed" in body
    assert "Sam Sample" in body.split("Needs action")[0]


def test_a_refused_patient_fact_is_named_as_part_of_the_patient_record(
    logged_in: Client, patient: Patient
) -> None:
    patient.creatinine_clearance_ml_min = 500
    patient.save()
    response = logged_in.post(reverse("plan_new", args=[patient.pk]), plan_post())
    errors = response.context["form"].non_field_errors()
    assert any(error.startswith("Patient record: ") for error in errors)
    assert TaperPlan.objects.count() == 0
