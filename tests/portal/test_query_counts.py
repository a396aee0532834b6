"""The patient's Today page and the calendar feed at scale (issue #18): the same number
of queries however many other patients and plans the clinic has, and however far into
the plan the patient is."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from planner.models import Patient, TaperPlan
from reminders import feeds
from tests.support.factories import PatientFactory
from tests.support.plans import active_plan


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries.captured_queries)


def add_other_patients(clinic: Any, clinician: Any, count: int) -> None:
    for i in range(count):
        other = PatientFactory.create(clinic=clinic, given_name=f"O{i}", family_name="Other")
        active_plan(other, clinician)


def test_today_and_the_feed_keep_their_query_count_as_the_clinic_grows(
    sam_client: Client, plan: TaperPlan, patient: Patient, alice: Any, clinic: Any, sam: Any
) -> None:
    token = feeds.feed_token_issue(patient=patient, by=alice)
    feed = f"/calendar/{token}.ics"
    at = dt.datetime(2027, 3, 2, 15, 0, tzinfo=dt.UTC)
    with time_machine.travel(at, tick=False):
        today = count_queries(sam_client, reverse("patient_today"))
        calendar = count_queries(Client(), feed)
    add_other_patients(clinic, alice, 12)
    with time_machine.travel(at, tick=False):
        assert count_queries(sam_client, reverse("patient_today")) == today
        # The feed's first answer renders and caches the body; later ones read the cache.
        assert count_queries(Client(), feed) <= calendar
    # Later in the plan, with more past doses: still the same.
    with time_machine.travel(at + dt.timedelta(days=8), tick=False):
        sam_client.force_login(sam)
        assert count_queries(sam_client, reverse("patient_today")) == today
