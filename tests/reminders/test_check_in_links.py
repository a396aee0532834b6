"""A check-in link from an e-mail records one check-in (issue #16): the second answer
through the same link, or two at once, is refused, and a newer link works."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse

from planner.models import Patient, TaperPlan
from reminders import actions, checkin
from reminders.models import CheckIn
from tests.support.clock import START
from tests.support.plans import active_plan

SENT = dt.datetime.combine(START + dt.timedelta(days=2), dt.time(18), dt.UTC)  # the e-mail
ANSWERS = {symptom.key: "none" for symptom in checkin.SYMPTOMS}


@pytest.fixture
def plan(alice: Any, patient: Patient) -> TaperPlan:
    return active_plan(patient, alice)


def link(plan: TaperPlan, sent: dt.datetime = SENT) -> str:
    return reverse("action", args=[actions.check_in_link(plan.pk, sent)])


def test_a_check_in_link_records_one_check_in(client: Client, plan: TaperPlan) -> None:
    url = link(plan)
    with time_machine.travel(SENT + dt.timedelta(hours=1), tick=False):
        assert client.get(url).status_code == 200
        first = client.post(url, ANSWERS)
        assert first.status_code == 200
        assert "Thank you" in first.content.decode()
    with time_machine.travel(SENT + dt.timedelta(hours=2), tick=False):
        again = client.post(url, {**ANSWERS, "fever": "severe"})
        assert again.status_code == 410
        assert "already used" in again.content.decode()
        assert client.get(url).status_code == 410
    assert CheckIn.objects.filter(plan=plan).count() == 1
    assert not CheckIn.objects.filter(severe=True).exists()


def test_the_next_e_mails_link_works(client: Client, plan: TaperPlan) -> None:
    with time_machine.travel(SENT + dt.timedelta(hours=1), tick=False):
        assert client.post(link(plan), ANSWERS).status_code == 200
    tomorrow = SENT + dt.timedelta(days=1)
    with time_machine.travel(tomorrow + dt.timedelta(minutes=5), tick=False):
        assert client.post(link(plan, tomorrow), ANSWERS).status_code == 200
        assert client.post(link(plan, tomorrow), ANSWERS).status_code == 410
    assert CheckIn.objects.filter(plan=plan).count() == 2


def test_a_used_link_speaks_the_patients_language(client: Client, plan: TaperPlan) -> None:
    from portal.services import preferences_for

    preferences = preferences_for(plan.patient)
    preferences.language = "es"
    preferences.save()
    with time_machine.travel(SENT + dt.timedelta(hours=1), tick=False):
        client.post(link(plan), ANSWERS)
        assert "ya se usó" in client.get(link(plan)).content.decode()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_answers_at_once_through_one_link_record_one(
    plan: TaperPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert connection.vendor == "postgresql"
    url = link(plan)
    together = threading.Barrier(2, timeout=30)
    used = checkin.check_in_link_used
    seen: set[int] = set()

    def used_after_both_looked(**kwargs: Any) -> bool:
        # Both requests pass the page's first look before either records its answer.
        answer = used(**kwargs)
        if threading.get_ident() not in seen:
            seen.add(threading.get_ident())
            together.wait()
        return answer

    monkeypatch.setattr(checkin, "check_in_link_used", used_after_both_looked)
    statuses: list[int] = []

    def answer() -> None:
        try:
            statuses.append(Client().post(url, ANSWERS).status_code)
        finally:
            connection.close()

    with time_machine.travel(SENT + dt.timedelta(hours=1), tick=False):
        threads = [threading.Thread(target=answer) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(statuses) == [200, 400]
    assert CheckIn.objects.filter(plan=plan).count() == 1
