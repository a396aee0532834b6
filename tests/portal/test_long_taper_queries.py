"""Long tapers stay fast (issue #22): a year of 2-week diazepam steps costs the same
number of queries as a 4-week one on every page that shows a plan: the patient's Today,
My plan and calendar feed, the clinician's plan page, handout and the plan's .ics; also
for a patient on two tapers at once. (The render time is measured by `python -m ops
bench_calendar --long`, README "Benchmarks", not by a timed test.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from planner.models import Patient, TaperPlan
from planner.roles import Role
from reminders import feeds
from tests.support.clock import START
from tests.support.factories import PatientFactory, make_staff, patient_account
from tests.support.plans import active_plan
from tests.support.two_tapers import drug_plan

SHORT = [{"time": "08:00", "amount_mg": 2}]  # one 4-week step, 28 doses
# 22 steps over 308 days, 630 doses (ops/bench_taper_drugs.py's year of 2-week steps).
LONG = [{"time": t, "amount_mg": 10} for t in ("08:00", "12:00", "16:00", "20:00")]
# Two months in: past doses, a current step and many steps ahead of the long plan.
LATER = dt.datetime.combine(START + dt.timedelta(days=20), dt.time(15), dt.UTC)


@pytest.fixture
def bob(django_user_model: Any, clinic: Any) -> Any:
    return make_staff(django_user_model, "bob", clinic, Role.REVIEWER)


def count(client: Client, url: str) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries.captured_queries)


def page_counts(
    django_user_model: Any, clinic: Any, alice: Any, bob: Any, name: str, doses: list[Any],
    with_baclofen: bool,
) -> dict[str, int]:
    patient: Patient = PatientFactory.create(clinic=clinic, given_name=name)
    user = patient_account(django_user_model, patient, f"{name.lower()}-account")
    if with_baclofen:
        active_plan(patient, alice)
    plan: TaperPlan = drug_plan(patient, alice, bob, doses=doses, months_on_therapy=6)
    token = feeds.feed_token_issue(patient=patient, by=alice)
    counts = {}
    with time_machine.travel(LATER, tick=False):
        mine, staff = Client(), Client()
        mine.force_login(user)
        staff.force_login(alice)
        counts["today"] = count(mine, reverse("patient_today"))
        counts["my plan"] = count(mine, reverse("patient_plan"))
        counts["feed"] = count(Client(), reverse("calendar_feed", args=[token]))
        counts["plan page"] = count(staff, reverse("plan", args=[plan.pk]))
        counts["handout"] = count(staff, reverse("plan_handout", args=[plan.pk]))
        counts["plan's .ics"] = count(staff, reverse("plan_calendar", args=[plan.pk]))
    return counts


@pytest.mark.parametrize("with_baclofen", [False, True], ids=["one taper", "two tapers"])
def test_no_page_costs_more_queries_for_a_year_long_taper(
    django_user_model: Any, clinic: Any, alice: Any, bob: Any, with_baclofen: bool
) -> None:
    short = page_counts(django_user_model, clinic, alice, bob, "Short", SHORT, with_baclofen)
    long = page_counts(django_user_model, clinic, alice, bob, "Long", LONG, with_baclofen)
    assert long == short
