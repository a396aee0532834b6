"""The design DESIGN.md rejects, kept only so `bench_reminders` can measure it: one
Celery ETA task per reminder, held in worker memory until it is due. Loaded by the
benchmark's worker with `--include ops.naive`; nothing else uses it."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from reminders import messages
from reminders.channels import channels_flush, configured_channels
from reminders.models import Reminder, ReminderStatus


@shared_task(name="ops.naive.deliver_at_eta", ignore_result=True)
def deliver_at_eta(reminder_id: int) -> None:
    row = Reminder.objects.select_related(
        "plan__patient__clinic", "plan__patient__user", "dose"
    ).get(id=reminder_id)
    channels = configured_channels()
    for message in messages.messages_for(row):
        for channel in channels:
            channel.send(message)
    channels_flush(channels)
    Reminder.objects.filter(id=reminder_id).update(
        status=ReminderStatus.SENT, sent_at=timezone.now()
    )
