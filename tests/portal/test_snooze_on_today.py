"""Snoozing a dose from Today (issue #17): the buttons offer only the snoozes the dose
still allows, and the same service as the e-mail's page records it."""

from __future__ import annotations

import time_machine
from django.test import Client
from django.urls import reverse

from planner.models import TaperPlan
from reminders.models import Reminder, ReminderKind
from tests.support.plans import at_new_york, dose_at


def test_today_offers_the_snoozes_the_dose_still_allows(
    sam_client: Client, plan: TaperPlan
) -> None:
    with time_machine.travel(at_new_york("2027-03-02", "08:10"), tick=False):
        body = sam_client.get(reverse("patient_today")).content.decode()
    assert body.count("Remind me in 30 minutes") == 1  # the 08:00 dose only
    assert "Remind me in 60 minutes" in body
    with time_machine.travel(at_new_york("2027-03-02", "10:20"), tick=False):
        body = sam_client.get(reverse("patient_today")).content.decode()
    assert "Remind me in 30 minutes" in body
    assert "Remind me in 60 minutes" not in body  # 11:20 is after the window


def test_snoozing_from_today_moves_the_follow_up(sam_client: Client, plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-02", "08:00")
    with time_machine.travel(at_new_york("2027-03-02", "08:10"), tick=False):
        response = sam_client.post(
            reverse("patient_dose_snooze", args=[dose.pk]), {"minutes": "30"}, follow=True
        )
    assert "We will remind you of your 08:00 dose again at 08:40." in response.content.decode()
    row = Reminder.objects.get(dose=dose, kind=ReminderKind.DOSE_FOLLOW_UP)
    assert row.due_at == at_new_york("2027-03-02", "08:40")


def test_a_snooze_past_the_window_is_refused_in_plain_words(
    sam_client: Client, plan: TaperPlan
) -> None:
    dose = dose_at(plan, "2027-03-02", "08:00")
    with time_machine.travel(at_new_york("2027-03-02", "10:20"), tick=False):
        response = sam_client.post(
            reverse("patient_dose_snooze", args=[dose.pk]), {"minutes": "60"}, follow=True
        )
        bad = sam_client.post(
            reverse("patient_dose_snooze", args=[dose.pk]), {"minutes": "x"}, follow=True
        )
    assert "too close to the end" in response.content.decode()
    assert "Choose 30 or 60 minutes." in bad.content.decode()
    row = Reminder.objects.get(dose=dose, kind=ReminderKind.DOSE_FOLLOW_UP)
    assert row.due_at == at_new_york("2027-03-02", "09:30")
