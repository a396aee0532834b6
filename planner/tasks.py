"""Celery tasks of the planner: thin wrappers that call one service each."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from planner import alerts


@shared_task(name="planner.tasks.escalate_open_alerts", ignore_result=True)
def escalate_open_alerts() -> int:
    return alerts.alerts_escalate(now=timezone.now())
