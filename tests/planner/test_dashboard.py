"""The clinic dashboard as a triage list that stays fast at scale (issue #18): open
alerts first, then plans needing action, then running plans a page at a time and
searchable; the same number of queries whatever the clinic's size."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic import selectors
from planner import services
from planner.models import Patient, TaperPlan
from reminders import checkin
from reminders.models import (
    AbruptStopAlert,
    AlertReason,
    CheckIn,
    CheckInLevel,
    Dose,
    DoseStatus,
)
from tests.support.plans import engine_input


@pytest.fixture
def logged_in(client: Client, alice: Any) -> Client:
    client.force_login(alice)
    return client


def add_clinic_load(clinic: Any, author: Any, running: int, *, first: int = 0) -> None:
    """``running`` running plans, plus in every batch one draft, one alert and one plan
    with a missed dose in the last 24 hours."""
    plans = []
    for i in range(first, first + running):
        patient = Patient.objects.create(
            clinic=clinic, given_name=f"P{i}", family_name=f"Load {i:04d}", sex="female",
            date_of_birth=dt.date(1970, 1, 1), home_timezone="Europe/London",
        )
        plan = services.plan_create(patient=patient, by=author, engine_input=engine_input(patient))
        services.plan_activate(plan=plan, by=author)
        plans.append(plan)
    services.plan_create(patient=plans[0].patient, by=author,
                         engine_input=engine_input(plans[0].patient))
    now = timezone.now()
    AbruptStopAlert.objects.create(plan=plans[1], reason=AlertReason.CONSECUTIVE_MISSED,
                                   since=now, raised_at=now)
    dose = Dose.objects.filter(plan=plans[2]).order_by("due_at").first()
    Dose.objects.filter(pk=dose.pk).update(status=DoseStatus.MISSED, due_at=now)
    # Symptoms rising: a moderate check-in after the plan's current version (made at
    # the same frozen moment).
    CheckIn.objects.create(plan=plans[3], answered_at=now + dt.timedelta(seconds=1),
                           answers={}, severe=False, level=CheckInLevel.MODERATE)


def dashboard_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries.captured_queries)


def test_the_dashboard_makes_the_same_queries_at_two_sizes(
    logged_in: Client, alice: Any, clinic: Any
) -> None:
    add_clinic_load(clinic, alice, 4)
    # The first request pushes the staff session's expiry ahead (a write, at most once a
    # minute: planner.middleware); the ones measured here are the minute's others.
    logged_in.get(reverse("dashboard"))
    small = {url: dashboard_queries(logged_in, url) for url in (
        reverse("dashboard"), reverse("dashboard") + "?q=load", reverse("dashboard") + "?page=2",
    )}  # fmt: skip
    add_clinic_load(clinic, alice, 56, first=4)
    assert TaperPlan.objects.filter(status="active").count() == 60
    for url, count in small.items():
        assert dashboard_queries(logged_in, url) == count, url


def test_the_dashboard_stays_within_its_query_budget(
    logged_in: Client, alice: Any, clinic: Any, django_assert_max_num_queries: Any
) -> None:
    add_clinic_load(clinic, alice, 30)
    logged_in.get(reverse("dashboard"))  # the minute's session write (planner.middleware)
    # Session, user, staff and clinic, the user's groups (once: planner.roles), open
    # alerts and their events, plans needing action (which, in one query of four indexed
    # parts, then their rows), the plans with symptoms rising (#17), the running plans'
    # count (bounded) and page, the page's adherence, notices and when reminders were
    # last dispatched: 14 (a reviewer's page also counts the review queue).
    with django_assert_max_num_queries(14):
        assert logged_in.get(reverse("dashboard")).context["rising"]


def test_alerts_then_plans_needing_action_then_running_plans_a_page_at_a_time(
    logged_in: Client, alice: Any, clinic: Any
) -> None:
    add_clinic_load(clinic, alice, 30)
    response = logged_in.get(reverse("dashboard"))
    body = response.content.decode()
    assert body.index("Open abrupt-stop alerts") < body.index("Needs action")
    assert body.index("Needs action") < body.index("Running plans")
    whys = [row["why"] for row in response.context["action_rows"]]
    assert whys[0] == "Missed doses in the last 24 h"
    assert "Draft: activate or change it" in whys
    rest = response.context["rest"]
    assert len(response.context["rest_rows"]) == selectors.DASHBOARD_PAGE_SIZE
    assert rest.count == 29  # 30 running, the one with a missed dose above
    assert "Page 1 of 2 (29 plans)" in body
    second = logged_in.get(reverse("dashboard") + "?page=2").context["rest_rows"]
    assert len(second) == 4
    # A page that does not exist shows the last, never an error.
    assert logged_in.get(reverse("dashboard") + "?page=99").status_code == 200
    assert logged_in.get(reverse("dashboard") + "?page=x").status_code == 200


def test_the_running_plans_are_searchable_by_the_patients_name(
    logged_in: Client, alice: Any, clinic: Any
) -> None:
    add_clinic_load(clinic, alice, 12)
    rows = logged_in.get(reverse("dashboard") + "?q=load+0007").context["rest_rows"]
    assert [row["name"] for row in rows] == ["P7 Load 0007"]
    body = logged_in.get(reverse("dashboard") + "?q=nobody").content.decode()
    assert "No running plan of a patient named “nobody”." in body


def test_a_running_plans_adherence_counts_the_last_24_hours(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    from tests.support.plans import active_plan

    plan = active_plan(patient, alice)
    doses = list(Dose.objects.filter(plan=plan).order_by("due_at")[:3])
    now = timezone.now()
    for dose, status in zip(doses, (DoseStatus.TAKEN, DoseStatus.TAKEN, DoseStatus.SCHEDULED),
                            strict=True):
        Dose.objects.filter(pk=dose.pk).update(status=status, due_at=now - dt.timedelta(hours=2))
    rows = logged_in.get(reverse("dashboard")).context["rest_rows"]
    assert [(r["taken"], r["due"], r["missed"]) for r in rows] == [(2, 3, 0)]


def test_the_load_test_sweeps_patient_counts_and_prints_the_ratio() -> None:
    import argparse

    from ops import load_test

    assert load_test.patient_sizes("1000,100,10000") == [100, 1000, 10000]
    with pytest.raises(argparse.ArgumentTypeError):
        load_test.patient_sizes("100,lots")
    runs = {
        100: [load_test.Result("clinic", p50_ms=20.0), load_test.Result("me", p50_ms=10.0)],
        10000: [load_test.Result("clinic", p50_ms=25.0), load_test.Result("me", p50_ms=10.0)],
    }
    lines = load_test.sweep_ratios(runs)
    assert lines[0] == "clinic     100: 20.0 ms (1.00 ×), 10000: 25.0 ms (1.25 ×)"
    assert lines[1].endswith("10000: 10.0 ms (1.00 ×)")


def test_the_running_plans_are_counted_only_up_to_a_limit(
    logged_in: Client, alice: Any, clinic: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting every running plan on each request grew with the clinic (issue #18):
    past RUNNING_COUNT_LIMIT the page says "more than" and still pages on."""
    add_clinic_load(clinic, alice, 30)
    monkeypatch.setattr(selectors, "RUNNING_COUNT_LIMIT", 10)
    first = logged_in.get(reverse("dashboard"))
    body = first.content.decode()
    assert first.context["rest"].count is None
    assert "Page 1 (more than 10 plans: find a patient by name above)" in body
    assert "page=2#running-h" in body
    names = [row["name"] for row in first.context["rest_rows"]]
    second = logged_in.get(reverse("dashboard") + "?page=2").context["rest_rows"]
    assert [row["name"] for row in second] == [
        "P26 Load 0026", "P27 Load 0027", "P28 Load 0028", "P29 Load 0029"
    ]
    assert names[0] == "P0 Load 0000"
    assert "P2 Load 0002" not in names
    # Past the last page: nothing there, and a way back.
    beyond = logged_in.get(reverse("dashboard") + "?page=9")
    assert beyond.context["rest_rows"] == []
    assert "page=8#running-h" in beyond.content.decode()


def test_each_row_links_to_its_patient_and_plan(
    logged_in: Client, alice: Any, clinic: Any
) -> None:
    add_clinic_load(clinic, alice, 4)
    response = logged_in.get(reverse("dashboard"))
    body = response.content.decode()
    for key in ("action_rows", "rest_rows", "rising"):
        for row in response.context[key]:
            plan = TaperPlan.objects.select_related("patient").get(
                pk=row["plan"].pk if key == "rising" else row["pk"]
            )
            assert row["plan_url"] == reverse("plan", args=[plan.pk])
            assert row["patient_url"] == reverse("patient", args=[plan.patient_id])
            assert f'<a href="{row["plan_url"]}">Plan {plan.pk}</a>' in body
            assert f'<a href="{row["patient_url"]}">{plan.patient}</a>' in body
    rising = response.context["rising"][0]
    assert rising["hold_url"] == reverse("plan_hold_symptoms", args=[rising["plan"].pk])
    # One step of the plan, as the hold itself counts it, from two keys of its output.
    full = TaperPlan.objects.select_related("current_revision").get(pk=rising["plan"].pk)
    assert rising["hold_days"] == checkin.hold_days(full) == 3


def test_needs_action_shows_missed_doses_first_and_at_most_its_limit(
    logged_in: Client, alice: Any, clinic: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_clinic_load(clinic, alice, 6)
    for plan in TaperPlan.objects.filter(status="active").order_by("id")[3:6]:
        services.plan_create(patient=plan.patient, by=alice,
                             engine_input=engine_input(plan.patient))
    monkeypatch.setattr(selectors, "ACTION_LIMIT", 3)
    response = logged_in.get(reverse("dashboard"))
    rows = response.context["action_rows"]
    assert [row["why"] for row in rows] == [
        "Missed doses in the last 24 h", *["Draft: activate or change it"] * 2
    ]
    # The newest drafts first; the fourth draft waits.
    drafts = TaperPlan.objects.filter(status="draft").order_by("-updated_at", "-id")
    assert [row["pk"] for row in rows[1:]] == [plan.pk for plan in drafts[:2]]
    assert response.context["action_more"]
    assert "The 3 most recently changed are shown" in response.content.decode()


def test_the_dashboards_own_sql_names_the_models_tables() -> None:
    from django.apps import apps

    tables = {model._meta.db_table for model in apps.get_models()}
    assert set(selectors.DASHBOARD_TABLES) <= tables
    for table in selectors.DASHBOARD_TABLES:
        assert table in selectors._NEEDS_ACTION_SQL


def test_the_load_tests_rounds_combine_into_one_result_per_target() -> None:
    from ops import load_test

    rounds = [
        load_test.Result("clinic", requests=100, p50_ms=20.0, p95_ms=30.0, max_ms=50.0,
                         app_cpu_ms=10.0, db_cpu_ms=2.0),
        load_test.Result("clinic", requests=300, p50_ms=24.0, p95_ms=36.0, max_ms=90.0,
                         app_cpu_ms=14.0, db_cpu_ms=4.0, errors=1),
        load_test.Result("clinic", requests=200, p50_ms=22.0, p95_ms=31.0, max_ms=60.0,
                         app_cpu_ms=12.0, db_cpu_ms=3.0),
    ]
    result = load_test.combined("clinic", rounds)
    assert (result.requests, result.p50_ms, result.p95_ms, result.max_ms, result.errors) == (
        600, 22.0, 31.0, 90.0, 1
    )
    # CPU per request over all the rounds' requests.
    assert result.app_cpu_ms == pytest.approx((1000 + 4200 + 2400) / 600)
    assert result.db_cpu_ms == pytest.approx((200 + 1200 + 600) / 600)
    runs = {100: [result], 10000: [load_test.combined("clinic", rounds[1:2])]}
    assert load_test.sweep_ratios(runs)[-1] == (
        "clinic CPU 100: 16.0 ms (1.00 ×), 10000: 18.0 ms (1.12 ×)"
    )
