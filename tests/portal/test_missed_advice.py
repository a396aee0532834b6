"""Missed-dose advice follows the day (issue #15): pages and handouts show the advice of
the step in force on each day, and "skip it and take your next dose" names a dose not
yet taken or passed, on the pages and in the missed-dose e-mail."""

from __future__ import annotations

from typing import Any

import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from planner.doses import dose_record
from planner.models import TaperPlan
from reminders.messages import messages_for
from reminders.missed import missed_dose_advice
from reminders.models import Dose, DoseStatus, Reminder, ReminderKind
from tests.support.plans import at_new_york, dose_at


def taken(dose: Dose, day: str, clock: str) -> None:
    dose_record(dose_id=dose.pk, answer=DoseStatus.TAKEN, now=at_new_york(day, clock))


def test_the_too_late_advice_does_not_name_a_dose_already_taken(plan: TaperPlan) -> None:
    morning = dose_at(plan, "2027-03-01", "08:00")
    taken(dose_at(plan, "2027-03-01", "14:00"), "2027-03-01", "13:36")
    advice = missed_dose_advice(dose=morning, now=at_new_york("2027-03-01", "13:38"))
    assert not advice.can_still_take
    assert "take your 14:00 dose" not in advice.text
    assert "take your 20:00 dose as usual" in advice.text


def test_with_no_further_dose_today_the_advice_names_the_next_by_date(plan: TaperPlan) -> None:
    afternoon = dose_at(plan, "2027-03-01", "14:00")
    taken(dose_at(plan, "2027-03-01", "20:00"), "2027-03-01", "18:30")
    advice = missed_dose_advice(dose=afternoon, now=at_new_york("2027-03-01", "18:40"))
    assert "take your next dose at 08:00 on Tuesday 2 March as usual" in advice.text


def test_the_next_dose_is_named_by_date_in_spanish_too(plan: TaperPlan) -> None:
    afternoon = dose_at(plan, "2027-03-01", "14:00")
    taken(dose_at(plan, "2027-03-01", "20:00"), "2027-03-01", "18:30")
    with translation.override("es"):
        advice = missed_dose_advice(dose=afternoon, now=at_new_york("2027-03-01", "18:40"))
    assert "08:00" in advice.text
    assert "martes" in advice.text.lower()


def test_after_the_last_dose_the_advice_names_none(plan: TaperPlan) -> None:
    doses = list(Dose.objects.filter(plan=plan).order_by("due_at"))
    last, before = doses[-1], doses[-2]
    day = last.local_date.isoformat()
    taken(last, day, f"{last.local_time:%H:%M}")
    now = max(last.due_at, before.catch_up_until).replace(second=1)
    advice = missed_dose_advice(dose=before, now=now)
    assert "do not take any more doses unless your clinic tells you to" in advice.text
    assert "as usual" not in advice.text


def test_the_missed_dose_email_names_the_next_dose_not_yet_taken(plan: TaperPlan) -> None:
    morning = dose_at(plan, "2027-03-01", "08:00")
    Dose.objects.filter(pk=morning.pk).update(status=DoseStatus.MISSED)
    taken(dose_at(plan, "2027-03-01", "14:00"), "2027-03-01", "13:36")
    row = Reminder.objects.create(
        plan=plan, dose=morning, kind=ReminderKind.MISSED_DOSE, key="test-missed",
        due_at=at_new_york("2027-03-01", "13:38"),
    )  # fmt: skip
    with time_machine.travel(at_new_york("2027-03-01", "13:38"), tick=False):
        text = messages_for(row)[0].text
    assert "You missed your 08:00 dose." in text
    assert "take your 20:00 dose as usual" in text
    assert "14:00" not in text


def step_windows(plan: TaperPlan) -> list[set[str]]:
    """Each step's catch-up windows ("08:00-11:00"), as the engine planned them."""
    assert plan.current_revision is not None
    return [
        {f"{rule['time']}-{rule['take_until']}" for rule in step["missed_dose"]}
        for step in plan.current_revision.engine_output["steps"]
    ]


def test_the_plan_has_steps_with_different_advice(plan: TaperPlan) -> None:
    """What the page tests below rely on: a dose time is dropped along the way."""
    windows = step_windows(plan)
    assert "08:00-11:00" in windows[0]
    assert any("08:00-14:00" in step for step in windows)


def test_the_clinician_plan_page_and_handout_show_each_steps_advice(
    client: Client, alice: Any, plan: TaperPlan
) -> None:
    client.force_login(alice)
    for name in ("plan", "plan_handout"):
        body = client.get(reverse(name, args=[plan.pk])).content.decode()
        assert "up to 11:00" in body, name  # the first step: three doses a day
        assert "up to 14:00" in body, name  # once the 14:00 dose is dropped
        assert 'class="missed-period"' in body, name


def test_the_patients_plan_page_shows_each_steps_advice(
    sam_client: Client, plan: TaperPlan
) -> None:
    with time_machine.travel(at_new_york("2027-03-01", "09:30"), tick=False):
        body = sam_client.get(reverse("patient_plan")).content.decode()
    assert "up to 11:00" in body
    assert "up to 14:00" in body
    assert 'class="missed-period"' in body


def test_the_missed_page_names_the_next_dose_not_yet_taken(
    sam_client: Client, plan: TaperPlan
) -> None:
    morning = dose_at(plan, "2027-03-01", "08:00")
    taken(dose_at(plan, "2027-03-01", "14:00"), "2027-03-01", "13:36")
    with time_machine.travel(at_new_york("2027-03-01", "13:38"), tick=False):
        body = sam_client.get(reverse("patient_dose_missed", args=[morning.pk])).content.decode()
    assert "take your 20:00 dose as usual" in body
    assert "take your 14:00 dose" not in body
