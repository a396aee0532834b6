"""Celery tasks: thin wrappers that call one service each."""

from __future__ import annotations

import socket

from celery import shared_task

from reminders import services


@shared_task(name="reminders.tasks.record_worker_heartbeat", ignore_result=True)
def record_worker_heartbeat(note: str = "") -> None:
    services.worker_heartbeat_record(hostname=socket.gethostname(), note=note)
