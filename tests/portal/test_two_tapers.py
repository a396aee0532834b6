"""A patient on two tapers at once (issue #22): Today, My plan and the history show every
running plan, each dose says which medicine, and each plan its own progress, next
change and start."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from planner.models import Patient, TaperPlan
from planner.roles import Role
from portal.services import language_set
from reminders.models import DoseStatus
from tests.support.clock import START
from tests.support.factories import make_staff
from tests.support.plans import dose_at
from tests.support.two_tapers import GABAPENTIN_DOSES, drug_plan

# Tuesday 2 March 2027, 10:00 in New York: the second day of both plans.
DAY_TWO = dt.datetime(2027, 3, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def bob(django_user_model: Any, clinic: Any) -> Any:
    return make_staff(django_user_model, "bob", clinic, Role.REVIEWER)


@pytest.fixture
def diazepam(alice: Any, bob: Any, patient: Patient, plan: TaperPlan) -> TaperPlan:
    """Diazepam 5 mg at 09:00 and 21:00 next to the baclofen ``plan``, both from START."""
    return drug_plan(patient, alice, bob)


def today_page(client: Client, at: dt.datetime = DAY_TWO) -> str:
    with time_machine.travel(at, tick=False):
        response = client.get(reverse("patient_today"))
    assert response.status_code == 200
    return response.content.decode()


def test_today_lists_the_doses_of_both_tapers_each_naming_its_medicine(
    sam_client: Client, plan: TaperPlan, diazepam: TaperPlan
) -> None:
    page = today_page(sam_client)
    assert "(baclofen " in page
    assert "(diazepam " in page
    # Four diazepam tablets of 2 mg? No: what the approved plan says, by the same words.
    assert page.count('class="dose-card"') == 5  # 08:00, 09:00, 14:00, 20:00, 21:00
    times = [t for t in ("08:00", "09:00", "14:00", "20:00", "21:00") if t in page]
    assert len(times) == 5
    assert page.index(">08:00<") < page.index(">09:00<") < page.index(">14:00<")
    # Each running plan has its own progress bar and its own next change.
    assert page.count("<progress ") == 2
    assert 'id="plan-progress-1"' in page
    assert 'id="plan-progress-2"' in page
    assert page.count('class="dose-change"') == 2
    assert '<strong class="medicine">Baclofen</strong>' in page
    assert '<strong class="medicine">Diazepam</strong>' in page


def test_one_taper_keeps_the_drug_out_of_today_unless_the_patient_chose_detail(
    sam_client: Client, plan: TaperPlan
) -> None:
    page = today_page(sam_client)
    assert "baclofen" not in page.lower()
    assert 'class="medicine"' not in page


def test_a_second_taper_that_has_not_started_says_when_and_which_medicine(
    sam_client: Client, sam: Any, alice: Any, bob: Any, patient: Patient, plan: TaperPlan
) -> None:
    later = START + dt.timedelta(days=14)
    drug_plan(patient, alice, bob, product="gabapentin-oral-capsule", doses=GABAPENTIN_DOSES,
              start=later, months_on_therapy=3)
    page = today_page(sam_client)
    assert '<span class="medicine">Gabapentin</span>: Your plan has not started yet' in page
    assert "Until then, keep taking your medicine as you take it now." in page
    # The baclofen plan runs on, with its doses and its progress.
    assert page.count("<progress ") == 1
    assert "(baclofen " in page
    # Gabapentin doses are capsules, not tablets.
    starts = dt.datetime.combine(later, dt.time(15), dt.UTC)
    with time_machine.travel(starts, tick=False):
        sam_client.force_login(sam)
    assert "1 capsule of 300 mg (gabapentin 300 mg)" in today_page(sam_client, starts)


def test_my_plan_shows_a_section_per_medicine_with_its_own_steps_and_chart(
    sam_client: Client, plan: TaperPlan, diazepam: TaperPlan
) -> None:
    with time_machine.travel(DAY_TWO, tick=False):
        page = sam_client.get(reverse("patient_plan")).content.decode()
    assert "Your baclofen plan" in page
    assert "Your diazepam plan" in page
    assert page.count('<table class="steps">') == 2
    # Two charts, each labelled by its own elements.
    assert 'id="plan-1-title"' in page
    assert 'id="plan-2-title"' in page
    assert 'id="chart-title"' not in page
    # The benzodiazepine's warning is not baclofen's.
    assert page.count("Do not stop this medicine suddenly.") == 2
    assert "including seizures" in page


def test_the_history_says_which_medicine_each_dose_was(
    sam_client: Client, plan: TaperPlan, diazepam: TaperPlan
) -> None:
    for taper, time in ((plan, "08:00"), (diazepam, "09:00")):
        dose = dose_at(taper, "2027-03-01", time)
        dose.status = DoseStatus.TAKEN
        dose.save(update_fields=["status"])
    with time_machine.travel(DAY_TWO, tick=False):
        page = sam_client.get(reverse("patient_history")).content.decode()
    assert ">Medicine<" in page
    assert "<td>Baclofen</td>" in page
    assert "<td>Diazepam</td>" in page


def test_spanish_names_the_medicines_in_spanish(
    sam_client: Client, patient: Patient, plan: TaperPlan, diazepam: TaperPlan
) -> None:
    language_set(patient=patient, language="es")
    page = today_page(sam_client)
    assert '<strong class="medicine">Baclofeno</strong>' in page
    assert "(baclofeno " in page
    assert "(diazepam " in page


def test_the_clinics_history_says_which_plan_and_drug_each_dose_was(
    client: Client, alice: Any, plan: TaperPlan, diazepam: TaperPlan
) -> None:
    for taper, time in ((plan, "08:00"), (diazepam, "09:00")):
        dose = dose_at(taper, "2027-03-01", time)
        dose.status = DoseStatus.TAKEN
        dose.save(update_fields=["status"])
    client.force_login(alice)
    page = client.get(reverse("patient_dose_history", args=[plan.patient_id])).content.decode()
    assert f"Baclofen (plan {plan.pk})" in page
    assert f"Diazepam (plan {diazepam.pk})" in page


def test_my_plan_gives_each_plan_the_number_its_calendar_events_carry(
    sam_client: Client, plan: TaperPlan, diazepam: TaperPlan
) -> None:
    """The calendar's plain titles say "Medication dose (plan 12)" when the patient is on
    two tapers (tests/reminders/test_two_tapers.py): My plan says which medicine that is."""
    with time_machine.travel(DAY_TWO, tick=False):
        page = sam_client.get(reverse("patient_plan")).content.decode()
    # Each number under its own medicine's heading: the heading just before it.
    for medicine, number in (("baclofen", plan.pk), ("diazepam", diazepam.pk)):
        note = page.index(f"In your calendar its events say “plan {number}”.")
        heading = max(
            page.rfind(f"Your {name} plan", 0, note) for name in ("baclofen", "diazepam")
        )
        assert page.startswith(f"Your {medicine} plan", heading)


def test_my_plan_of_one_taper_gives_no_calendar_number(
    sam_client: Client, plan: TaperPlan
) -> None:
    with time_machine.travel(DAY_TWO, tick=False):
        page = sam_client.get(reverse("patient_plan")).content.decode()
    assert "In your calendar its events say" not in page
