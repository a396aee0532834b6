"""A task sent through the broker is executed by a real worker process."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.conf import settings
from kombu import Connection

from planner.celery import app
from reminders.models import WorkerHeartbeat
from reminders.tasks import record_worker_heartbeat
from tests.support.worker import running_worker, wait_for


def round_trip(broker_url: str, tmp_path: Path) -> None:
    note = uuid.uuid4().hex[:16]
    with running_worker(broker_url, tmp_path / "worker.log"):
        # A plain connection: the app's transport options belong to its own broker.
        with Connection(broker_url) as conn:
            app.send_task(record_worker_heartbeat.name, args=(note,), connection=conn)
        delivered = wait_for(lambda: WorkerHeartbeat.objects.filter(note=note).exists())
    assert delivered, (tmp_path / "worker.log").read_text()[-3000:]


@pytest.mark.django_db(transaction=True)
def test_a_task_goes_through_the_serverless_broker_to_a_real_worker(tmp_path: Path) -> None:
    round_trip(f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}", tmp_path)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_task_goes_through_redis_to_a_real_worker(tmp_path: Path) -> None:
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "run with make test-services"
    round_trip(settings.CELERY_BROKER_URL, tmp_path)


def test_the_beat_schedule_asks_for_a_worker_heartbeat_every_minute() -> None:
    entry = app.conf.beat_schedule["worker-heartbeat"]
    assert entry["task"] == record_worker_heartbeat.name
    assert entry["schedule"] == 60.0
    assert record_worker_heartbeat.name in app.tasks
