"""The admin is clinic-scoped (issue #16): staff with admin access see only their own
clinic's rows, in lists, pages, history and drop-downs; only a true superuser sees all."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from planner.admin_scope import CLINIC_SCOPES, UNSCOPED
from planner.demo import reviewer_admin_permissions
from planner.models import AccessAction, AccessLogEntry, Clinic, Patient, TaperPlan
from reminders import feeds
from reminders.models import Dose, FeedToken, Reminder
from tests.support.clock import NOW
from tests.support.plans import active_plan


@pytest.fixture
def two_clinics(alice: Any, charlie: Any, patient: Patient, other_clinic: Clinic) -> Patient:
    """A plan, doses, reminders, a feed token and an access-log row in each clinic;
    returns the other clinic's patient."""
    other = Patient.objects.create(
        clinic=other_clinic, given_name="Ola", family_name="Otherclinic",
        date_of_birth=dt.date(1975, 5, 5), sex="female", home_timezone="Europe/Oslo",
    )
    for who, by in ((patient, alice), (other, charlie)):
        plan = active_plan(who, by)
        feeds.feed_token_issue(patient=who, by=by)
        AccessLogEntry.objects.create(user=by, patient=who, plan=plan,
                                      action=AccessAction.PLAN_PAGE, at=NOW)
    return other


@pytest.fixture
def clinic_admin(alice: Any) -> Client:
    """Alice, a clinician of the first clinic, given admin access (not a superuser)."""
    alice.is_staff = True
    alice.save()
    alice.user_permissions.set(reviewer_admin_permissions())
    client = Client()
    client.force_login(alice)
    return client


def test_every_model_in_the_admin_says_how_it_belongs_to_a_clinic() -> None:
    labels = {model._meta.label for model in admin.site._registry}
    assert labels - set(CLINIC_SCOPES) - UNSCOPED == set()


def changelist_rows(client: Client, model: Any) -> set[Any]:
    meta = model._meta
    response = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    assert response.status_code == 200, meta.label
    return {row.pk for row in response.context["cl"].queryset}


@pytest.mark.parametrize(
    "model", [Patient, TaperPlan, Dose, Reminder, FeedToken, AccessLogEntry, Clinic]
)
def test_lists_hold_only_the_own_clinics_rows(
    clinic_admin: Client, two_clinics: Patient, patient: Patient, model: Any
) -> None:
    rows = changelist_rows(clinic_admin, model)
    scope = CLINIC_SCOPES[model._meta.label](patient.clinic)
    assert rows == set(model.objects.filter(scope).values_list("pk", flat=True))
    assert rows, "the own clinic has rows of every kind here"
    assert rows != set(model.objects.values_list("pk", flat=True))


def test_every_scoped_list_hides_the_other_clinic(
    clinic_admin: Client, two_clinics: Patient
) -> None:
    for model in admin.site._registry:
        label = model._meta.label
        if label in UNSCOPED:
            continue
        rows = changelist_rows(clinic_admin, model)
        theirs = set(
            model._default_manager.filter(CLINIC_SCOPES[label](two_clinics.clinic))
            .values_list("pk", flat=True)
        )
        assert not rows & theirs, label


def test_the_other_clinics_rows_do_not_open_nor_their_history(
    clinic_admin: Client, two_clinics: Patient
) -> None:
    plan = two_clinics.plans.get()
    for name, pk in (("planner_patient", two_clinics.pk), ("planner_taperplan", plan.pk)):
        change = clinic_admin.get(reverse(f"admin:{name}_change", args=[pk]))
        assert change.status_code == 302  # the admin's "does not exist" redirect
        assert Patient.objects.get(pk=two_clinics.pk).family_name not in change.content.decode()
        history = clinic_admin.get(reverse(f"admin:{name}_history", args=[pk]))
        assert history.status_code == 404
        version = plan.history.first() if name == "planner_taperplan" else None
        if version is not None:
            revert = reverse(f"admin:{name}_simple_history", args=[pk, version.history_id])
            assert clinic_admin.get(revert).status_code == 404


def test_drop_downs_offer_only_the_own_clinic(
    clinic_admin: Client, alice: Any, two_clinics: Patient, patient: Patient
) -> None:
    from django.contrib.auth.models import Permission

    alice.user_permissions.add(Permission.objects.get(codename="change_patient"))
    response = clinic_admin.get(reverse("admin:planner_patient_change", args=[patient.pk]))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.fields["clinic"].queryset) == [patient.clinic]
    assert set(form.fields["user"].queryset) <= {alice, patient.user} - {None}
    assert two_clinics.clinic.name not in response.content.decode()


def test_staff_without_a_clinic_see_nothing(
    django_user_model: Any, two_clinics: Patient
) -> None:
    stranger = django_user_model.objects.create_user(username="s", password="pw-for-tests-1",
                                                     is_staff=True)
    stranger.user_permissions.set(reviewer_admin_permissions())
    client = Client()
    client.force_login(stranger)
    assert changelist_rows(client, Patient) == set()


def test_a_true_superuser_sees_every_clinic(
    django_user_model: Any, two_clinics: Patient
) -> None:
    root = django_user_model.objects.create_superuser(username="root", password="pw-1-root")
    client = Client()
    client.force_login(root)
    assert changelist_rows(client, Patient) == set(Patient.objects.values_list("pk", flat=True))
