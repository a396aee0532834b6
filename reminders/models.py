"""Reminder ledger and dose log (grown by the reminders issue); the worker heartbeat."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per beat tick handled by a worker: proves beat → broker → worker → database.

    The health page reads the newest row; a stale heartbeat means reminders are not
    being delivered, which for this project means patients are not being reminded.
    """

    beat_at = models.DateTimeField(db_index=True)
    hostname = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-beat_at"]
        get_latest_by = "beat_at"

    def __str__(self) -> str:
        return f"{self.hostname or 'worker'} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
