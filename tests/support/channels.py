"""Steps the push and SMS tests share (tests/reminders/test_push.py, test_sms.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.test import Client

from planner.models import Patient, TaperPlan
from reminders import dispatch
from reminders.channels import Channel
from reminders.models import Reminder, ReminderKind, ReminderStatus
from tests.support.factories import patient_account
from tests.support.plans import dose_at


def deliver(row: Reminder, now: dt.datetime, channels: Sequence[Channel]) -> str:
    """Claim the row as the dispatcher does and deliver it through the channels."""
    Reminder.objects.filter(pk=row.pk).update(status=ReminderStatus.SENDING, claim_token=None)
    return dispatch.reminder_deliver(reminder_id=row.pk, now=now, channels=channels)


def first_dose_reminder(plan: TaperPlan) -> tuple[Reminder, dt.datetime]:
    """The reminder of the plan's 08:00 dose on its first day, and that dose's time."""
    dose = dose_at(plan, "2027-03-01", "08:00")
    return Reminder.objects.get(dose=dose, kind=ReminderKind.DOSE), dose.due_at


def logged_in_patient(client: Client, django_user_model: Any, patient: Patient) -> Client:
    client.force_login(patient_account(django_user_model, patient, "sam"))
    return client
