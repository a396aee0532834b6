"""Celery tasks of the planner: thin wrappers that call one service each."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from planner import services


@shared_task(name="planner.tasks.complete_plans", ignore_result=True)
def complete_plans() -> int:
    return services.plans_complete(now=timezone.now())
