"""Celery tasks: thin wrappers that call one service each ("treat the task as an API")."""

from __future__ import annotations

import socket

from celery import shared_task
from django.utils import timezone

from reminders import alerts, dispatch, health, supply
from reminders.channels import configured_channels

# Ids handed to one delivery task. What a killed worker sends twice is bounded by its
# records (dispatch.RECORD_SENT_EVERY), not by this; each task has a fixed cost (taking
# its rows, one SMTP connection), and 200 rather than 100 delivered 20,000 dose
# reminders 20 % faster (ops/bench_reminders, issue #17).
DELIVERY_BATCH = 200


@shared_task(name="reminders.tasks.record_worker_heartbeat", ignore_result=True)
def record_worker_heartbeat(note: str = "") -> None:
    health.worker_heartbeat_record(hostname=socket.gethostname(), note=note)


def enqueue_deliveries(ids: list[int], claim: str) -> None:
    for start in range(0, len(ids), DELIVERY_BATCH):
        deliver_reminders.delay(ids[start : start + DELIVERY_BATCH], claim)


@shared_task(name="reminders.tasks.dispatch_reminders", ignore_result=True)
def dispatch_reminders() -> dict[str, int]:
    return dispatch.dispatch_tick(now=timezone.now(), enqueue=enqueue_deliveries)


@shared_task(name="reminders.tasks.deliver_reminders", ignore_result=True, acks_late=True)
def deliver_reminders(reminder_ids: list[int], claim: str | None = None) -> None:
    dispatch.reminders_deliver(
        reminder_ids=reminder_ids, now=timezone.now(), channels=configured_channels(), claim=claim
    )


@shared_task(name="planner.tasks.escalate_open_alerts", ignore_result=True)
def escalate_open_alerts() -> int:
    # The task keeps its name (and beat entry) from when the alert workflow was planner's.
    return alerts.alerts_escalate(now=timezone.now())


@shared_task(name="reminders.tasks.arm_supply_reminders", ignore_result=True)
def arm_supply_reminders() -> int:
    return supply.supply_reminders_arm(now=timezone.now())
