"""Check-ins that help (issue #17): mild answers get plain, sourced advice; moderate ones
also say to contact the clinic and put the plan under "symptoms rising" on the clinic's
dashboard, with a one-click hold that keeps the current dose; severe stays as it was."""

from __future__ import annotations

import collections
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from planner.models import Patient, PlanRevision, RevisionKind, TaperPlan
from reminders import actions, checkin
from reminders.models import AbruptStopAlert, CheckIn, CheckInLevel, Dose, DoseStatus
from tests.support.factories import patient_account
from tests.support.plans import active_plan, at_new_york

AT = at_new_york("2027-03-02", "09:00")
NONE = {s.key: "none" for s in checkin.SYMPTOMS}


@pytest.fixture
def plan(alice: Any, patient: Patient, django_user_model: Any) -> TaperPlan:
    patient.clinic.phone = "+1 555 0100"
    patient.clinic.save()
    patient_account(django_user_model, patient, "sam")
    return active_plan(patient, alice)


def check_in(client: Client, plan: TaperPlan, **answers: str) -> str:
    with time_machine.travel(AT, tick=False):
        client.force_login(plan.patient.user)  # type: ignore[arg-type]
        response = client.post(reverse("patient_check_in"), NONE | answers)
    assert response.status_code == 200
    return response.content.decode()


def daily_totals(plan: TaperPlan, from_day: dt.date) -> dict[dt.date, Decimal]:
    totals: dict[dt.date, Decimal] = collections.defaultdict(Decimal)
    for dose in Dose.objects.filter(plan=plan, local_date__gte=from_day).exclude(
        status=DoseStatus.CANCELLED
    ):
        totals[dose.local_date] += dose.amount_mg
    return dict(totals)


@pytest.mark.parametrize(
    ("answers", "level"),
    [
        ({}, CheckInLevel.NONE),
        ({"itching": "mild"}, CheckInLevel.MILD),
        ({"itching": "mild", "spasticity": "moderate"}, CheckInLevel.MODERATE),
        ({"spasticity": "severe"}, CheckInLevel.SEVERE),
        ({"fever": "mild"}, CheckInLevel.SEVERE),  # a red-flag sign at all
    ],
)
def test_a_check_in_is_as_strong_as_its_strongest_answer(
    answers: dict[str, str], level: str
) -> None:
    assert checkin.check_in_level(NONE | answers) == level


def test_every_piece_of_advice_names_its_source() -> None:
    advice = checkin.ADVICE
    assert "monograph" in advice.expected_source
    assert "monograph" in advice.rising_source
    assert "withdrawal" in advice.watch_for_source


def test_mild_symptoms_get_plain_advice_and_no_alarm(client: Client, plan: TaperPlan) -> None:
    body = check_in(client, plan, itching="mild")
    assert "What to expect" in body
    assert "usually shows in the first 1 to 3 days" in body
    assert "Muscle stiffness or spasms much worse than usual" in body  # what to watch for
    assert "contact your clinic today" not in body
    assert CheckIn.objects.get(plan=plan).level == CheckInLevel.MILD
    assert not AbruptStopAlert.objects.exists()


def test_moderate_symptoms_also_say_to_contact_the_clinic_with_its_number(
    client: Client, plan: TaperPlan, alice: Any
) -> None:
    body = check_in(client, plan, spasticity="moderate")
    assert "Your symptoms are rising: contact your clinic today." in body
    assert '<a href="tel:+15550100">+1 555 0100</a>' in body
    assert "What to expect" in body
    assert not AbruptStopAlert.objects.exists()  # not an abrupt-stop alert
    with time_machine.travel(AT, tick=False):
        client.force_login(alice)
        dashboard = client.get(reverse("dashboard")).content.decode()
    assert "Symptoms rising" in dashboard
    assert "Hold the current dose 3 days" in dashboard
    assert reverse("plan_hold_symptoms", args=[plan.pk]) in dashboard


def test_a_severe_check_in_is_as_before(client: Client, plan: TaperPlan) -> None:
    body = check_in(client, plan, seizure="severe")
    assert "Contact your clinic now." in body
    assert "What to expect" not in body
    assert AbruptStopAlert.objects.filter(plan=plan, reason="severe_symptoms").exists()


def test_the_e_mailed_check_in_gives_the_same_advice(client: Client, plan: TaperPlan) -> None:
    sent = AT - dt.timedelta(hours=1)
    url = reverse("action", args=[actions.check_in_link(plan.pk, sent)])
    with time_machine.travel(AT, tick=False):
        body = client.post(url, NONE | {"anxiety": "moderate"}).content.decode()
    assert "Your symptoms are rising: contact your clinic today." in body
    assert '<a href="tel:+15550100">+1 555 0100</a>' in body


def test_the_one_click_hold_keeps_the_current_dose_and_never_cuts(
    client: Client, plan: TaperPlan, alice: Any
) -> None:
    check_in(client, plan, spasticity="moderate")
    today = AT.date()
    before = daily_totals(plan, today)
    with time_machine.travel(AT, tick=False):
        client.force_login(alice)
        response = client.post(reverse("plan_hold_symptoms", args=[plan.pk]))
        assert response.status_code == 302
        dashboard = client.get(reverse("dashboard")).content.decode()
    plan.refresh_from_db()
    revision = plan.current_revision
    assert revision.kind == RevisionKind.HOLD
    assert revision.created_by == alice
    assert "symptoms rising" in revision.note
    assert plan.history.filter(history_user=alice).exists()  # recorded, with who
    after = daily_totals(plan, today)
    # First law: a hold only puts cuts off. No day has less than before, no day until
    # the (later) end is without doses, and the next three days stay at today's dose.
    assert all(after.get(day, Decimal(0)) >= total for day, total in before.items())
    last = max(after)
    assert last > max(before)
    assert all(after.get(today + dt.timedelta(days=n)) for n in range((last - today).days + 1))
    assert {after[today + dt.timedelta(days=n)] for n in range(3)} == {before[today]}
    assert "None." in dashboard.split("Symptoms rising")[1].split("Needs action")[0]


def test_a_hold_is_refused_when_no_symptoms_are_rising(plan: TaperPlan, alice: Any) -> None:
    with pytest.raises(ValidationError, match="not waiting for a hold"):
        checkin.plan_hold_for_symptoms(plan=plan, by=alice, now=AT)
    assert PlanRevision.objects.filter(plan=plan).count() == 1


def test_a_second_click_holds_nothing_more(client: Client, plan: TaperPlan, alice: Any) -> None:
    check_in(client, plan, spasticity="moderate")
    with time_machine.travel(AT, tick=False):
        checkin.plan_hold_for_symptoms(plan=plan, by=alice, now=AT)
        with pytest.raises(ValidationError, match="not waiting for a hold"):
            checkin.plan_hold_for_symptoms(plan=plan, by=alice, now=AT)
    assert PlanRevision.objects.filter(plan=plan, kind=RevisionKind.HOLD).count() == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_make_one_hold(plan: TaperPlan, alice: Any) -> None:
    import threading

    from django.db import connection

    assert connection.vendor == "postgresql"
    with time_machine.travel(AT, tick=False):
        checkin.checkin_record(plan=plan, answers=NONE | {"spasticity": "moderate"}, now=AT)
    together = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def click() -> None:
        try:
            together.wait()
            with time_machine.travel(AT, tick=False):
                checkin.plan_hold_for_symptoms(plan=plan, by=alice, now=AT)
            outcomes.append("held")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["held", "refused"]
    assert PlanRevision.objects.filter(plan=plan, kind=RevisionKind.HOLD).count() == 1


@pytest.mark.parametrize(
    ("drug", "cites"),
    [
        ("baclofen", "baclofen monograph"),
        ("diazepam", "Benzodiazepine Tapering"),
        ("alprazolam", "Benzodiazepine Tapering"),
        ("zolpidem", "Pottie"),
        ("gabapentin", "Neurontin and Lyrica labels"),
        ("pregabalin", "Neurontin and Lyrica labels"),
    ],
)
def test_check_in_advice_cites_the_source_of_the_plans_own_drug(drug: str, cites: str) -> None:
    advice = checkin.advice_for(drug)
    assert cites in advice.expected_source
    # The patient reads the same plain words whatever the drug.
    assert advice.expected == checkin.ADVICE.expected
    if drug != "baclofen":
        assert "baclofen" not in advice.expected_source + advice.rising_source
        assert "baclofen" not in advice.watch_for_source
