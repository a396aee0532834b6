"""Snoozing a dose's reminder (issue #17): "Remind me in 30 / 60 minutes", from the page
behind a reminder's link and from Today. The snooze moves the dose's one follow-up row in
the reminder ledger, so it is delivered by the dispatcher like every other row."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from planner.models import SNOOZE_MINUTES, Dose
from reminders import dispatch
from reminders.models import Delivery, Recipient, Reminder, ReminderKind, ReminderStatus


class SnoozeError(ValueError):
    """The snooze cannot be set (the dose is answered, or it would remind too late)."""


# Why a snooze is refused (English; portal.action_views lists them for translation).
SNOOZE_CHOICE = "Choose 30 or 60 minutes."
SNOOZE_TOO_LATE = (
    "It is too close to the end of the time you can take this dose to remind you again."
)
SNOOZE_NOT_NOW = "This dose cannot be snoozed now."


def snooze_refusal(*, dose: Dose, now: datetime) -> str:
    """Why the dose offers no snooze at `now`: too close to the end of its window, or
    not due yet / already answered / too late."""
    if dose.answers_at(now) and now >= dose.due_at:
        return SNOOZE_TOO_LATE
    return SNOOZE_NOT_NOW


@transaction.atomic
def dose_snooze(*, dose_id: int, minutes: int, now: datetime) -> Reminder:
    """Remind the patient of one dose again in `minutes` (Dose.snooze_options: once the
    dose is due and unanswered, never after its catch-up window). The dose's follow-up
    row moves to that time and is pending again, so a snooze is one more message
    through the dispatcher, not a message of its own; a row being delivered right now is
    left alone and the snooze refused. Two snoozes of one dose at once: the dose's lock
    makes them one after the other, and the later time wins."""
    dose = Dose.objects.select_for_update().select_related("plan").get(pk=dose_id)
    options = dose.snooze_options(now)
    if minutes not in SNOOZE_MINUTES:
        raise SnoozeError(SNOOZE_CHOICE)
    if minutes not in options:
        raise SnoozeError(snooze_refusal(dose=dose, now=now))
    at = now + timedelta(minutes=minutes)
    again: dict[str, object] = {"snoozed_minutes": minutes}
    follow_up = Reminder.objects.filter(
        dose=dose, kind=ReminderKind.DOSE_FOLLOW_UP, recipient=Recipient.PATIENT
    ).exclude(status=ReminderStatus.SENDING)
    # The channels' records of the row's earlier sending go with it: a snoozed reminder
    # is a new message through every chosen channel, not a retry of one already sent.
    Delivery.objects.filter(reminder__in=follow_up).delete()
    moved = follow_up.update(
        status=ReminderStatus.PENDING, due_at=at, attempts=0, last_error="",
        sent_at=None, claim_token=None, delivery_token=None, context=again,
    )
    if not moved:
        row = dispatch.reminder_add(
            plan=dose.plan, kind=ReminderKind.DOSE_FOLLOW_UP, dose=dose,
            key=f"follow-up-{dose.local_date}-{dose.local_time:%H%M}", due_at=at,
            context=again,
        )
        if row is None:  # it exists and is being delivered right now
            raise SnoozeError(SNOOZE_NOT_NOW)
        return row
    return Reminder.objects.get(dose=dose, kind=ReminderKind.DOSE_FOLLOW_UP,
                                recipient=Recipient.PATIENT)


