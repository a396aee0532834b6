"""`seed_demo`: the fictional clinic, staff and patient that `make run` loads."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory, override_settings
from django.utils import timezone

from planner.models import Clinic, Patient, PlanStatus, StaffMember, TaperPlan
from planner.roles import Role, has_role
from reminders.models import Dose, Reminder, ReminderKind


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_it_loads_a_clinic_with_a_clinician_a_reviewer_and_a_patient() -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    User = get_user_model()
    clinician = User.objects.get(username="clinician")
    reviewer = User.objects.get(username="reviewer")
    patient_user = User.objects.get(username="patient")
    assert has_role(clinician, Role.CLINICIAN)
    assert has_role(reviewer, Role.REVIEWER)
    # A clinic reviewer with the clinic's admin pages, not a superuser (issue #16).
    assert reviewer.is_staff
    assert not reviewer.is_superuser
    assert has_role(patient_user, Role.PATIENT)
    clinic = Clinic.objects.get()
    assert set(StaffMember.objects.values_list("user__username", flat=True)) == {
        "clinician",
        "reviewer",
    }
    assert Patient.objects.get(user=patient_user).clinic == clinic
    # Fictional numbers for every "call your clinic" (issue #17).
    assert (clinic.phone, clinic.out_of_hours_phone) == ("+1 555 0100", "+1 555 0199")
    assert clinic.opening_hours
    assert "demo-clinician-pass" in out.getvalue()
    plan = TaperPlan.objects.get(patient__user=patient_user, status=PlanStatus.ACTIVE)
    first = Dose.objects.filter(plan=plan).order_by("due_at").first()
    assert dt.timedelta(minutes=1) <= first.due_at - timezone.now() <= dt.timedelta(minutes=2)
    assert Reminder.objects.filter(dose=first, kind=ReminderKind.DOSE).exists()
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="clinician", password="demo-clinician-pass") == clinician


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_it_loads_a_benzodiazepine_and_a_gabapentin_patient_each_on_a_running_taper() -> None:
    call_command("seed_demo", stdout=StringIO())
    running = {
        plan.drug: plan
        for plan in TaperPlan.objects.filter(status=PlanStatus.ACTIVE, patient__user=None)
    }
    assert set(running) == {"clonazepam", "gabapentin"}
    switch = running["clonazepam"].current_revision.engine_output["equivalence"]
    assert switch["to_product"] == "diazepam-oral-tablet"
    assert running["gabapentin"].patient.creatinine_clearance_ml_min is not None


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_loading_twice_changes_nothing() -> None:
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    assert Clinic.objects.count() == 1
    assert Patient.objects.count() == 3
    assert get_user_model().objects.count() == 3
    # Each run starts a fresh demo baclofen taper; the earlier one is superseded, not left
    # running. The benzodiazepine and gabapentin patients keep their one plan each.
    active = TaperPlan.objects.filter(status=PlanStatus.ACTIVE)
    assert sorted(active.values_list("drug", flat=True)) == [
        "baclofen", "clonazepam", "gabapentin"
    ]
    assert TaperPlan.objects.filter(status=PlanStatus.SUPERSEDED).count() == 1
    assert TaperPlan.objects.count() == 4


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_it_refuses_to_create_known_passwords_in_production() -> None:
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo", stdout=StringIO())
    assert get_user_model().objects.count() == 0


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_the_demo_reviewer_reads_the_demo_clinic_in_the_admin_and_no_other() -> None:
    from django.test import Client

    call_command("seed_demo", stdout=StringIO())
    elsewhere = Clinic.objects.create(name="Elsewhere Demo Clinic")
    Patient.objects.create(clinic=elsewhere, given_name="Not", family_name="Yours",
                           date_of_birth=dt.date(1970, 1, 1), sex="male",
                           home_timezone="Europe/Paris")
    client = Client()
    signed_in = client.post(
        "/accounts/login/", {"username": "reviewer", "password": "demo-reviewer-pass"}
    )
    assert signed_in.status_code == 302
    assert client.get("/admin/").status_code == 200
    listing = client.get("/admin/planner/patient/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Example" in page  # the demo patient
    assert "Yours" not in page
    clinics = client.get("/admin/planner/clinic/").content.decode()
    assert "Riverside Demo Clinic" in clinics
    assert "Elsewhere Demo Clinic" not in clinics
