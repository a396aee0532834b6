"""What a patient meets on Today (issue #17): messages as short text with the dose's own
buttons (never the e-mail's signed links), a message about an answered dose says so, an
upcoming plan says when it starts, amounts and dates read the same everywhere in the
patient's language, and the e-mail action pages lead back to Today."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from planner import display
from planner.models import Patient, TaperPlan
from portal.services import language_set
from reminders import actions
from reminders.channels import InAppChannel
from reminders.messages import messages_for
from reminders.models import Dose, DoseStatus, Reminder, ReminderKind
from tests.support.clock import START
from tests.support.plans import at_new_york, dose_at


def deliver_in_app(dose: Dose, kind: str = ReminderKind.DOSE) -> None:
    """The reminder of `dose` delivered as the dispatcher would, to the in-app channel."""
    row = Reminder.objects.select_related("plan__patient", "dose").get(dose=dose, kind=kind)
    channel = InAppChannel()
    for message in messages_for(row):
        channel.send(message)
    channel.flush()  # the channel writes a reminder's notice when the delivery records


def today(client: Client) -> str:
    response = client.get(reverse("patient_today"))
    assert response.status_code == 200
    return response.content.decode()


def messages_section(body: str) -> str:
    return body.split('id="notices-title"', 1)[1]


def test_a_dose_reminder_shows_as_short_text_with_the_pages_own_buttons(
    sam_client: Client, plan: TaperPlan
) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    with time_machine.travel(at_new_york("2027-03-01", "08:00"), tick=False):
        deliver_in_app(dose)
        section = messages_section(today(sam_client))
    assert "It is time for your 08:00 dose" in section
    assert "/a/" not in section
    assert "://" not in section
    assert f'action="{reverse("patient_dose_answer", args=[dose.pk])}"' in section
    assert 'value="taken"' in section
    assert 'value="skipped"' in section


def test_a_message_about_a_dose_already_taken_says_so_and_offers_nothing(
    sam_client: Client, plan: TaperPlan
) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    with time_machine.travel(at_new_york("2027-03-01", "08:00"), tick=False):
        deliver_in_app(dose)
    Dose.objects.filter(pk=dose.pk).update(status=DoseStatus.TAKEN)
    with time_machine.travel(at_new_york("2027-03-01", "09:00"), tick=False):
        section = messages_section(today(sam_client))
    assert "Already answered: nothing more to do." in section
    assert 'name="answer"' not in section


def test_a_message_about_a_dose_now_too_late_offers_no_skipping(
    sam_client: Client, plan: TaperPlan
) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    with time_machine.travel(at_new_york("2027-03-01", "08:00"), tick=False):
        deliver_in_app(dose)
    with time_machine.travel(at_new_york("2027-03-01", "11:30"), tick=False):
        section = messages_section(today(sam_client))
    assert "Too late for this dose: do not take it now." in section
    assert "I am skipping it" not in section
    assert reverse("patient_dose_missed", args=[dose.pk]) in section


def test_a_plan_that_has_not_started_says_when_and_to_keep_the_current_medicine(
    sam_client: Client, plan: TaperPlan
) -> None:
    with time_machine.travel(at_new_york("2027-02-25", "09:00"), tick=False):
        body = today(sam_client)
    assert f"Your plan starts on {display.long_day(START)}." in body
    assert "Until then, keep taking your medicine as you take it now." in body
    assert "Day 0 of" not in body
    assert "No doses today." not in body
    assert "a day (now" in body  # the first step against the dose taken today


def test_amounts_have_no_trailing_zeros_and_read_the_same_everywhere() -> None:
    from decimal import Decimal

    assert display.mg(Decimal("7.50")) == "7.5"
    assert display.mg(Decimal("10.00")) == "10"
    assert display.mg(Decimal("0.25")) == "0.25"


def test_the_today_page_shows_no_amount_with_a_trailing_zero(
    sam_client: Client, plan: TaperPlan
) -> None:
    Dose.objects.filter(plan=plan).update(amount_mg="7.50")
    with time_machine.travel(at_new_york("2027-03-01", "07:00"), tick=False):
        body = today(sam_client)
    assert "7.5 mg" in body
    assert "7.50" not in body


def test_spanish_dates_put_de_between_day_and_month(
    sam_client: Client, plan: TaperPlan, patient: Patient
) -> None:
    with translation.override("es"):
        assert display.long_day(dt.date(2026, 12, 1)) == "martes 1 de diciembre"
        assert display.full_date(dt.date(2026, 12, 1)) == "1 de diciembre de 2026"
    language_set(patient=patient, language="es")
    with time_machine.travel(at_new_york("2027-03-01", "07:00"), tick=False):
        assert "Hoy, lunes 1 de marzo" in today(sam_client)
        plan_page = sam_client.get(reverse("patient_plan")).content.decode()
    assert "1 de marzo de 2027" in plan_page
    assert "1 mar" in plan_page  # the chart's axis, in Spanish
    assert "Mar</text>" not in plan_page
    Dose.objects.filter(pk=dose_at(plan, "2027-03-01", "08:00").pk).update(
        status=DoseStatus.TAKEN
    )
    history = sam_client.get(reverse("patient_history")).content.decode()
    assert "lun 1 mar 2027" in history


@pytest.mark.parametrize("action", ["taken", "skipped", "missed"])
def test_every_dose_action_page_leads_back_to_today(
    client: Client, plan: TaperPlan, action: str
) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    token = actions.dose_link(dose.pk, action, dose.catch_up_until)
    with time_machine.travel(at_new_york("2027-03-01", "08:00"), tick=False):
        body = client.get(reverse("action", args=[token])).content.decode()
    assert f'href="{reverse("patient_today")}"' in body


def test_an_expired_link_leads_back_to_today(client: Client, db: Any) -> None:
    body = client.get(reverse("action", args=["x" * 30])).content.decode()
    assert f'href="{reverse("patient_today")}"' in body


def test_a_new_plan_starting_later_says_to_follow_the_running_plan_until_then(
    sam_client: Client, plan: TaperPlan, patient: Patient, alice: Any
) -> None:
    from planner import services
    from tests.support.plans import engine_input

    new_start = START + dt.timedelta(days=5)
    with time_machine.travel(at_new_york("2027-03-01", "07:00"), tick=False):
        replacement = services.plan_create(
            patient=patient, by=alice,
            engine_input=engine_input(patient, start_date=new_start.isoformat()),
        )
        services.plan_activate(plan=replacement, by=alice)
        body = today(sam_client)
    assert f"Your plan starts on {display.long_day(new_start)}." in body
    assert "Until then, follow your current plan below." in body
    assert "Day 1 of" in body  # the running plan's progress, not the new plan's day 0
    assert "dose-card" in body  # today's doses of the running plan
