"""The Supply section (issue #17): on My plan, a line on Today when it runs out soon, and
the clinic's form to record what was dispensed."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import time_machine
from django.test import Client
from django.urls import reverse

from planner.models import SupplyDispensed, TaperPlan
from reminders.models import Language, PatientPreferences
from taper.supply import SupplyKey
from tests.support.plans import at_new_york, supply_dispensed

TEN = SupplyKey("baclofen-oral-tablet", Decimal(10))
FIVE = SupplyKey("baclofen-oral-tablet", Decimal(5))


def page(client: Client, name: str, when: dt.datetime) -> str:
    with time_machine.travel(when, tick=False):
        response = client.get(reverse(name))
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def test_my_plan_shows_the_dispensing_list_as_lasting_the_whole_plan(
    sam_client: Client, plan: TaperPlan
) -> None:
    html = page(sam_client, "patient_plan", at_new_york("2027-03-03", "12:00"))
    assert "Your supply" in html
    assert "What you were given lasts until the end of your plan." in html
    # From the 3rd: 10 mg is used 2 on the 3rd, then 1 a day to the 10th (9 in all).
    assert "<h3>10 mg tablets</h3>" in html
    assert "<dt>Needed from today</dt><dd>9 tablets</dd>" in html
    assert "<dt>Dispensed</dt><dd>13 tablets (1 March 2027)</dd>" in html
    assert "Lasts the whole plan" in html
    assert "your plan's dispensing list" in html
    today = page(sam_client, "patient_today", at_new_york("2027-03-03", "12:00"))
    assert "supply-soon" not in today


def test_a_short_supply_shows_its_date_on_my_plan_and_a_line_on_today(
    sam_client: Client, plan: TaperPlan, alice: Any
) -> None:
    supply_dispensed(plan, alice)
    html = page(sam_client, "patient_plan", at_new_york("2027-03-01", "12:00"))
    assert "Your medicine runs out on Saturday 6 March. Collect more before then." in html
    assert "<dt>Runs out on</dt><dd>Saturday 6 March</dd>" in html
    assert "as your clinic recorded it" in html
    # Seven days before (the clinic's window) Today has the line; earlier it has not.
    today = page(sam_client, "patient_today", at_new_york("2027-03-01", "12:00"))
    assert 'class="supply-soon"' in today
    assert "runs out on Saturday 6 March" in today
    assert f'href="{reverse("patient_plan")}#supply-title"' in today
    past = page(sam_client, "patient_today", at_new_york("2027-03-06", "12:00"))
    assert "Your medicine may have run out." in past


def test_the_section_speaks_the_patients_language(
    sam_client: Client, plan: TaperPlan, alice: Any
) -> None:
    supply_dispensed(plan, alice)
    PatientPreferences.objects.create(patient=plan.patient, language=Language.SPANISH)
    html = page(sam_client, "patient_plan", at_new_york("2027-03-01", "12:00"))
    assert "Sus existencias" in html
    assert "Su medicamento se acaba el sábado 6 de marzo." in html
    assert "<h3>Comprimidos de 10 mg</h3>" in html
    assert "<dd>8 comprimidos (1 de marzo de 2027)</dd>" in html


def test_the_clinician_sees_the_supply_and_records_a_dispensing(
    client: Client, alice: Any, plan: TaperPlan
) -> None:
    url = reverse("plan", args=[plan.pk])
    when = at_new_york("2027-03-03", "12:00")
    with time_machine.travel(when, tick=False):
        client.force_login(alice)
        html = client.get(url).content.decode()
        assert "Record a dispensing" in html
        # Pre-filled with the plan's dispensing list, dated today.
        assert re.search(r'name="quantity_0" value="13"', html)
        assert re.search(r'name="quantity_1" value="9"', html)
        assert 'value="2027-03-03"' in html
        response = client.post(
            reverse("plan_supply", args=[plan.pk]),
            {"dispensed_on": "2027-03-03", "quantity_0": "20", "quantity_1": ""},
        )
    assert response.status_code == 302
    row = SupplyDispensed.objects.get()
    assert (row.strength_mg, row.quantity, row.recorded_by) == (Decimal(10), 20, alice)


def test_bad_input_is_shown_next_to_its_field_and_nothing_is_written(
    client: Client, alice: Any, plan: TaperPlan
) -> None:
    with time_machine.travel(at_new_york("2027-03-03", "12:00"), tick=False):
        client.force_login(alice)
        for post, field in (
            ({"dispensed_on": "2027-03-04", "quantity_0": "20"}, "dispensed_on"),
            ({"dispensed_on": "2027-03-03", "quantity_0": "1.5"}, "quantity_0"),
            ({"dispensed_on": "2027-03-03", "quantity_0": "-3"}, "quantity_0"),
            ({"dispensed_on": "2027-03-03", "quantity_0": "a lot"}, "quantity_0"),
            ({"dispensed_on": "yesterday", "quantity_0": "20"}, "dispensed_on"),
        ):
            response = client.post(reverse("plan_supply", args=[plan.pk]), post)
            assert response.status_code == 400, post
            assert f'id="id_{field}-error"' in response.content.decode(), post
        response = client.post(
            reverse("plan_supply", args=[plan.pk]),
            {"dispensed_on": "2027-03-03", "quantity_0": "0", "quantity_1": ""},
        )
        assert response.status_code == 400
        assert (
            "Enter the quantity dispensed for at least one strength." in response.content.decode()
        )
    assert not SupplyDispensed.objects.exists()


def test_the_reminder_shows_on_today_as_a_short_message_opening_my_plan(
    sam_client: Client, plan: TaperPlan, alice: Any
) -> None:
    from reminders.channels import InAppChannel
    from reminders.messages import messages_for
    from reminders.models import Reminder, ReminderKind
    from reminders.supply import supply_dispensed_recorded

    when = at_new_york("2027-03-01", "09:00")
    with time_machine.travel(when, tick=False):
        supply_dispensed_recorded(
            plan=plan,
            quantities={TEN: Decimal(8), FIVE: Decimal(9)},
            dispensed_on=dt.date(2027, 3, 1),
            by=alice,
            now=when,
        )
        row = Reminder.objects.select_related("plan__patient").get(kind=ReminderKind.SUPPLY)
        channel = InAppChannel()
        for message in messages_for(row):
            channel.send(message)
        channel.flush()
    html = page(sam_client, "patient_today", when)
    messages = html.split('id="notices-title"', 1)[1]
    assert "Collect more of your medicine before Saturday 6 March" in messages
    assert (
        "Your medicine runs out on Saturday 6 March if you take it as your plan says." in messages
    )
    assert "://" not in messages
    assert f'href="{reverse("patient_plan")}"' in messages
