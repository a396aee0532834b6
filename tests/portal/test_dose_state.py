"""One rule for what a patient may do with a dose (Dose.state_at): the Today page offers
exactly the answers planner.doses.dose_record accepts, and the e-mail links say so
without offering a button that could only be refused."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import transaction
from django.test import Client
from django.urls import reverse

from planner.doses import DoseAnswerError, dose_record
from portal import selectors
from reminders import actions
from reminders.models import Dose, DoseState, DoseStatus
from tests.support.plans import at_new_york, dose_at

ANSWERS = (DoseStatus.TAKEN, DoseStatus.SKIPPED)
# The 08:00 dose of 1 March (New York): its catch-up window closes at 11:00.
CASES = [
    ("05:59", DoseStatus.SCHEDULED, DoseState.LATER),
    ("06:00", DoseStatus.SCHEDULED, DoseState.DUE),
    ("08:00", DoseStatus.SCHEDULED, DoseState.DUE),
    ("08:01", DoseStatus.SCHEDULED, DoseState.CATCH_UP),
    ("11:00", DoseStatus.SCHEDULED, DoseState.CATCH_UP),
    ("11:01", DoseStatus.SCHEDULED, DoseState.MISSED),  # before the sweep marks it
    ("11:30", DoseStatus.MISSED, DoseState.MISSED),
    ("08:30", DoseStatus.TAKEN, DoseState.TAKEN),
    ("08:30", DoseStatus.SKIPPED, DoseState.SKIPPED),
    ("08:30", DoseStatus.CANCELLED, DoseState.CANCELLED),
]
ALLOWED = {DoseState.DUE: set(ANSWERS), DoseState.CATCH_UP: set(ANSWERS)}


def morning_dose(plan: object, status: str) -> Dose:
    dose = dose_at(plan, "2027-03-01", "08:00")  # type: ignore[arg-type]
    Dose.objects.filter(pk=dose.pk).update(status=status)
    dose.refresh_from_db()
    return dose


def service_accepts(dose: Dose, answer: str, now: dt.datetime) -> bool:
    """Whether dose_record records `answer` as a new answer (rolled back afterwards)."""
    try:
        with transaction.atomic():
            recorded = dose_record(dose_id=dose.pk, answer=answer, now=now)
            changed = recorded.status == answer and dose.status != answer
            transaction.set_rollback(True)
    except DoseAnswerError:
        return False
    return changed


@pytest.mark.parametrize(("clock", "status", "state"), CASES)
def test_the_today_page_and_the_service_agree_in_every_state(
    sam_client: Client, plan: object, clock: str, status: str, state: DoseState
) -> None:
    dose = morning_dose(plan, status)
    now = at_new_york("2027-03-01", clock)
    assert dose.state_at(now) == state
    line = selectors.dose_line(dose, now)
    offered = {a for a, shown in zip(ANSWERS, (line.can_take, line.can_skip), strict=True) if shown}
    accepted = {answer for answer in ANSWERS if service_accepts(dose, answer, now)}
    assert offered == accepted == ALLOWED.get(state, set())
    with time_machine.travel(now, tick=False):
        body = sam_client.get(reverse("patient_today")).content.decode()
    form = f'action="{reverse("patient_dose_answer", args=[dose.pk])}"'
    assert (form in body) == bool(offered)


def test_a_missed_dose_offers_no_skip_and_the_service_refuses_it(
    sam_client: Client, plan: object
) -> None:
    dose = morning_dose(plan, DoseStatus.SCHEDULED)
    with time_machine.travel(at_new_york("2027-03-01", "11:30"), tick=False):
        body = sam_client.get(reverse("patient_today")).content.decode()
        sam_client.post(reverse("patient_dose_answer", args=[dose.pk]), {"answer": "skipped"})
    assert "I am skipping it" not in body.split("14:00")[0]
    dose.refresh_from_db()
    assert dose.status == DoseStatus.SCHEDULED


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_skip_link_of_a_taken_dose_says_so_and_offers_no_button(
    client: Client, plan: object, method: str
) -> None:
    dose = morning_dose(plan, DoseStatus.TAKEN)
    token = actions.dose_link(dose.pk, "skipped", dose.catch_up_until)
    with time_machine.travel(at_new_york("2027-03-01", "08:30"), tick=False):
        response = getattr(client, method)(reverse("action", args=[token]))
    body = response.content.decode()
    assert response.status_code == (200 if method == "get" else 409)
    assert "already recorded as taken" in body
    assert "<form" not in body
    assert "Confirm that you are skipping" not in body
    dose.refresh_from_db()
    assert dose.status == DoseStatus.TAKEN


def test_the_skip_link_of_a_missed_dose_offers_no_skipping(client: Client, plan: object) -> None:
    dose = morning_dose(plan, DoseStatus.SCHEDULED)
    token = actions.dose_link(dose.pk, "skipped", dose.catch_up_until)
    with time_machine.travel(at_new_york("2027-03-01", "11:30"), tick=False):
        body = client.get(reverse("action", args=[token])).content.decode()
    assert "too late for this dose" in body
    assert "Yes, I am skipping it" not in body


def test_a_link_opened_again_after_its_answer_thanks_without_a_button(
    client: Client, plan: object
) -> None:
    dose = morning_dose(plan, DoseStatus.TAKEN)
    token = actions.dose_link(dose.pk, "taken", dose.catch_up_until)
    with time_machine.travel(at_new_york("2027-03-01", "08:30"), tick=False):
        body = client.get(reverse("action", args=[token])).content.decode()
    assert "recorded as taken" in body
    assert "<form" not in body
