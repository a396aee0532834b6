"""The second nudge and the snooze (issue #17, "the loop"): a dose still unanswered
halfway through its catch-up window gets one follow-up; the patient can ask to be
reminded again in 30 or 60 minutes, never after the window closes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.test import Client, TestCase
from django.urls import reverse

from planner import doses
from planner.models import Patient, TaperPlan
from reminders import actions, dispatch, snooze
from reminders.channels import Channel, EmailChannel, InAppChannel
from reminders.models import Dose, Reminder, ReminderKind, ReminderStatus
from tests.support.plans import active_plan, at_new_york, dose_at

CHANNELS: list[Channel] = [EmailChannel(), InAppChannel()]


@pytest.fixture
def plan(alice: Any, patient: Patient) -> TaperPlan:
    patient.email = "sam@example.org"
    patient.save()
    return active_plan(patient, alice)


def follow_up(dose: Dose) -> Reminder:
    return Reminder.objects.get(dose=dose, kind=ReminderKind.DOSE_FOLLOW_UP)


def claim(now: dt.datetime) -> list[tuple[list[int], str]]:
    claims: list[tuple[list[int], str]] = []
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispatch.reminders_claim_due(
            now=now, limit=100, enqueue=lambda ids, token: claims.append((ids, token))
        )
    return claims


def deliver(claims: list[tuple[list[int], str]], now: dt.datetime) -> None:
    for ids, token in claims:
        dispatch.reminders_deliver(reminder_ids=ids, now=now, channels=CHANNELS, claim=token)


def only_this_doses_rows_due(dose: Dose) -> None:
    """Keep the test to one dose: the other rows of the plan are not due."""
    Reminder.objects.exclude(dose=dose).delete()
    Reminder.objects.filter(dose=dose, kind=ReminderKind.DOSE).update(
        status=ReminderStatus.SENT
    )


def test_each_dose_has_one_follow_up_halfway_through_its_catch_up_window(
    plan: TaperPlan,
) -> None:
    morning = dose_at(plan, "2027-03-01", "08:00")  # until 11:00 (the approved plan's)
    assert follow_up(morning).due_at == at_new_york("2027-03-01", "09:30")
    evening = dose_at(plan, "2027-03-01", "20:00")  # until 02:00 the next day
    assert follow_up(evening).due_at == at_new_york("2027-03-01", "23:00")
    doses = Dose.objects.filter(plan=plan).count()
    assert Reminder.objects.filter(plan=plan, kind=ReminderKind.DOSE_FOLLOW_UP).count() == doses


def test_an_unanswered_dose_gets_the_second_nudge_once_under_retries(plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-02", "08:00")
    only_this_doses_rows_due(dose)
    now = at_new_york("2027-03-02", "09:30")
    claims = claim(now)
    deliver(claims, now)
    deliver(claims, now)  # the broker redelivers the same message
    deliver(claim(now), now)  # a second tick finds nothing due
    [message] = mail.outbox
    assert message.subject == "Still time to take your 08:00 dose, until 11:00"
    assert "There is still time to take it: 1 tablet of 10 mg (10 mg), until 11:00." in (
        message.body
    )
    assert "/a/" in message.body
    assert follow_up(dose).status == ReminderStatus.SENT


def test_an_answered_dose_gets_no_second_nudge(plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-02", "08:00")
    only_this_doses_rows_due(dose)
    doses.dose_record(dose_id=dose.pk, answer="taken", now=at_new_york("2027-03-02", "08:05"))
    now = at_new_york("2027-03-02", "09:30")
    deliver(claim(now), now)
    assert mail.outbox == []
    assert follow_up(dose).status == ReminderStatus.SKIPPED


def test_a_snooze_moves_the_follow_up_and_it_is_sent_then(plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-02", "08:00")
    only_this_doses_rows_due(dose)
    at = at_new_york("2027-03-02", "08:10")
    assert dose.snooze_options(at) == (30, 60)
    row = snooze.dose_snooze(dose_id=dose.pk, minutes=30, now=at)
    assert row.due_at == at_new_york("2027-03-02", "08:40")
    deliver(claim(at_new_york("2027-03-02", "08:39")), at_new_york("2027-03-02", "08:39"))
    assert mail.outbox == []
    now = at_new_york("2027-03-02", "08:40")
    deliver(claim(now), now)
    [message] = mail.outbox
    assert "You asked to be reminded" in message.body


def test_a_snooze_after_the_nudge_reminds_once_more(plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-02", "08:00")
    only_this_doses_rows_due(dose)
    now = at_new_york("2027-03-02", "09:30")
    deliver(claim(now), now)
    later = at_new_york("2027-03-02", "09:35")
    snooze.dose_snooze(dose_id=dose.pk, minutes=60, now=later)
    deliver(claim(later + dt.timedelta(minutes=60)), later + dt.timedelta(minutes=60))
    assert len(mail.outbox) == 2
    assert Reminder.objects.filter(dose=dose, kind=ReminderKind.DOSE_FOLLOW_UP).count() == 1


def test_a_snooze_never_reminds_after_the_window(plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-02", "08:00")  # until 11:00
    late = at_new_york("2027-03-02", "10:15")
    assert dose.snooze_options(late) == (30,)
    with pytest.raises(snooze.SnoozeError, match="too close to the end"):
        snooze.dose_snooze(dose_id=dose.pk, minutes=60, now=late)
    assert dose.snooze_options(at_new_york("2027-03-02", "10:45")) == ()
    assert follow_up(dose).due_at == at_new_york("2027-03-02", "09:30")  # unchanged


def test_an_answered_or_not_yet_due_dose_cannot_be_snoozed(plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-02", "08:00")
    assert dose.snooze_options(at_new_york("2027-03-02", "07:30")) == ()
    with pytest.raises(snooze.SnoozeError, match="cannot be snoozed now"):
        snooze.dose_snooze(dose_id=dose.pk, minutes=30, now=at_new_york("2027-03-02", "07:30"))
    doses.dose_record(dose_id=dose.pk, answer="skipped", now=at_new_york("2027-03-02", "08:05"))
    dose.refresh_from_db()
    with pytest.raises(snooze.SnoozeError, match="cannot be snoozed now"):
        snooze.dose_snooze(dose_id=dose.pk, minutes=30, now=at_new_york("2027-03-02", "08:10"))
    with pytest.raises(snooze.SnoozeError, match="Choose 30 or 60 minutes"):
        snooze.dose_snooze(dose_id=dose.pk, minutes=45, now=at_new_york("2027-03-02", "08:10"))


def test_the_e_mails_remind_me_later_page_snoozes(client: Client, plan: TaperPlan) -> None:
    import time_machine

    dose = dose_at(plan, "2027-03-02", "08:00")
    url = reverse("action", args=[actions.dose_link(dose.pk, "snooze", dose.catch_up_until)])
    with time_machine.travel(at_new_york("2027-03-02", "08:10"), tick=False):
        page = client.get(url).content.decode()
        assert "Remind me in 30 minutes" in page
        assert "Remind me in 60 minutes" in page
        assert "What to take: 1 tablet of 10 mg" in page
        done = client.post(url, {"minutes": "60"})
    assert done.status_code == 200
    assert "We will remind you again at 09:10." in done.content.decode()
    assert follow_up(dose).due_at == at_new_york("2027-03-02", "09:10")
    with time_machine.travel(at_new_york("2027-03-02", "10:45"), tick=False):
        too_late = client.get(url).content.decode()
    assert "Remind me in" not in too_late
    assert "too close to the end" in too_late


def test_the_reminder_e_mail_carries_a_remind_me_later_link(plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-02", "08:00")
    only_this_doses_rows_due(dose)
    Reminder.objects.filter(dose=dose, kind=ReminderKind.DOSE).update(
        status=ReminderStatus.SENDING
    )
    row = Reminder.objects.get(dose=dose, kind=ReminderKind.DOSE)
    dispatch.reminder_deliver(reminder_id=row.pk, now=dose.due_at, channels=CHANNELS)
    assert "Remind me later: http" in mail.outbox[0].body
