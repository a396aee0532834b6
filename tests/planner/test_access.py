"""Clinicians see only their own clinic: every clinician view, for every kind of outsider."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from planner import services
from planner.models import Patient, TaperPlan
from tests.support.plans import engine_input

PATIENT_VIEWS = ["patient", "patient_edit", "plan_new", "patient_calendar"]
PATIENT_POST_VIEWS = ["plan_preview", "patient_calendar"]
PLAN_VIEWS = ["plan", "plan_handout", "plan_cancel", "plan_calendar", "plan_revise", "plan_edit",
              "plan_review", "plan_audit"]
PLAN_POST_VIEWS = ["plan_submit", "plan_activate", "plan_cancel", "plan_revise", "plan_review",
                   "plan_refill"]
LIST_VIEWS = ["dashboard", "patients", "patient_new", "review_queue"]


@pytest.fixture
def plan(alice: Any, patient: Patient) -> TaperPlan:
    return services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))


@pytest.fixture
def patient_user(django_user_model: Any, patient: Patient) -> Any:
    user = django_user_model.objects.create_user(username="pat", password="pw-for-tests-1")
    user.groups.add(Group.objects.get(name="patient"))
    patient.user = user
    patient.save()
    return user


def object_urls(patient: Patient, plan: TaperPlan) -> list[tuple[str, str]]:
    urls = [("get", reverse(name, args=[patient.pk])) for name in PATIENT_VIEWS]
    urls += [("post", reverse(name, args=[patient.pk])) for name in PATIENT_POST_VIEWS]
    urls += [("get", reverse(name, args=[plan.pk])) for name in PLAN_VIEWS]
    urls += [("post", reverse(name, args=[plan.pk])) for name in PLAN_POST_VIEWS]
    return urls


def test_a_clinician_of_another_clinic_gets_404_for_every_object(
    client: Client, charlie: Any, patient: Patient, plan: TaperPlan
) -> None:
    client.force_login(charlie)
    for method, url in object_urls(patient, plan):
        response = getattr(client, method)(url, {"reason": "x"} if method == "post" else None)
        assert response.status_code == 404, (method, url)
    plan.refresh_from_db()
    assert plan.status == "draft"


def test_another_clinics_lists_do_not_show_the_patient(
    client: Client, charlie: Any, patient: Patient, plan: TaperPlan
) -> None:
    client.force_login(charlie)
    for name in ["dashboard", "patients"]:
        assert "Sam Sample" not in client.get(reverse(name)).content.decode()


def test_a_patient_is_refused_every_clinician_page(
    client: Client, patient_user: Any, patient: Patient, plan: TaperPlan
) -> None:
    client.force_login(patient_user)
    urls = object_urls(patient, plan) + [("get", reverse(name)) for name in LIST_VIEWS]
    for method, url in urls:
        assert getattr(client, method)(url).status_code == 403, (method, url)


def test_an_anonymous_visitor_is_sent_to_log_in_from_every_clinician_page(
    client: Client, patient: Patient, plan: TaperPlan
) -> None:
    urls = object_urls(patient, plan) + [("get", reverse(name)) for name in LIST_VIEWS]
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith(reverse("login"))


def test_a_reviewer_can_read_but_not_change_plans(
    client: Client, django_user_model: Any, clinic: Any, patient: Patient, plan: TaperPlan
) -> None:
    from planner.roles import Role
    from tests.support.factories import make_staff

    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    client.force_login(bob)
    assert client.get(reverse("plan", args=[plan.pk])).status_code == 200
    assert client.post(reverse("plan_activate", args=[plan.pk])).status_code == 403
    assert client.get(reverse("plan_revise", args=[plan.pk])).status_code == 403
    assert client.get(reverse("plan_new", args=[patient.pk])).status_code == 403


def add_patients_with_plans(clinic: Any, author: Any, count: int) -> None:
    for i in range(count):
        patient = Patient.objects.create(
            clinic=clinic,
            given_name=f"P{i}",
            family_name="Load",
            sex="female",
            date_of_birth=dt.date(1970, 1, 1),
            home_timezone="Europe/London",
        )
        plan = services.plan_create(patient=patient, by=author, engine_input=engine_input(patient))
        services.plan_activate(plan=plan, by=author)


@pytest.mark.parametrize("name", ["dashboard", "patients"])
def test_list_pages_keep_a_constant_number_of_queries(
    client: Client, alice: Any, clinic: Any, name: str, django_assert_max_num_queries: Any
) -> None:
    client.force_login(alice)
    add_patients_with_plans(clinic, alice, 2)
    # 19: the dashboard's own 16 (session, user, staff, roles, notices, queue size, open
    # alerts and their events, plans with missed doses or a revision waiting, plans
    # needing action, the running plans' count and page, the page's adherence: issue
    # #18's triage list), the staff banner's two (is this staff, when were reminders last
    # dispatched) and whether to show clinicians' links (clinic.context_processors).
    with django_assert_max_num_queries(19) as few:
        client.get(reverse(name))
    add_patients_with_plans(clinic, alice, 6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse(name))
