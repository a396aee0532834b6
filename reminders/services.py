"""Writes and reads for the reminders app. Tasks, views and commands call these."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from reminders.models import WorkerHeartbeat

# Beat asks for a heartbeat every minute; three missed beats means trouble.
HEARTBEAT_STALE_AFTER = timedelta(minutes=3)
HEARTBEATS_KEPT = timedelta(days=1)


@transaction.atomic
def worker_heartbeat_record(*, hostname: str, note: str = "") -> WorkerHeartbeat:
    now = timezone.now()
    WorkerHeartbeat.objects.filter(beat_at__lt=now - HEARTBEATS_KEPT).delete()
    return WorkerHeartbeat.objects.create(beat_at=now, hostname=hostname[:255], note=note[:64])


def worker_last_seen() -> datetime | None:
    latest = WorkerHeartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
    return latest


def worker_is_alive(*, now: datetime | None = None) -> bool:
    last = worker_last_seen()
    now = now or timezone.now()
    return last is not None and now - last <= HEARTBEAT_STALE_AFTER
