"""Reminders survive a killed worker and a broker outage (real worker processes, PostgreSQL
and Redis; the second CI pass). The test process plays beat: it runs dispatcher ticks."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from ops.drill import tick
from planner import services
from planner.models import Patient, TaperPlan
from reminders.models import Recipient, Reminder, ReminderKind, ReminderStatus
from reminders.tasks import DELIVERY_BATCH
from tests.support.plans import engine_input
from tests.support.recording import delivered_ids
from tests.support.worker import kill_worker, start_worker, stop_worker, wait_for

# Real worker processes read the real clock.
pytestmark = [pytest.mark.services, pytest.mark.real_clock, pytest.mark.django_db(transaction=True)]

ROWS = 1000
OWN_REDIS_PORT = 6391


def make_due_rows(plan: TaperPlan, count: int) -> None:
    due = timezone.now() - dt.timedelta(seconds=1)
    Reminder.objects.bulk_create(
        Reminder(
            plan=plan,
            kind=ReminderKind.CHECK_IN,
            recipient=Recipient.PATIENT,
            key=f"load-{i}",
            due_at=due,
        )
        for i in range(count)
    )


@pytest.fixture
def active_plan(alice: Any, patient: Patient) -> TaperPlan:
    patient.email = "sam@example.org"
    patient.save()
    plan = services.plan_create(
        patient=patient,
        by=alice,
        engine_input=engine_input(
            patient, start_date=(timezone.now() + dt.timedelta(days=30)).date().isoformat()
        ),
    )
    services.plan_activate(plan=plan, by=alice)
    Reminder.objects.filter(plan=plan).delete()  # only the rows the test makes
    return plan


def sent() -> int:
    return Reminder.objects.filter(status=ReminderStatus.SENT).count()


def run_ticks_until(broker_url: str, condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick(broker_url)
        if condition():
            return True
        time.sleep(0.3)
    return False


def worker_env(log: Path) -> dict[str, str]:
    return {
        "REMINDER_CHANNELS": "tests.support.recording.FileChannel",
        "DELIVERY_LOG": str(log),
        "DELIVERY_DELAY": "0.005",
    }


@override_settings(REMINDER_CLAIM_TIMEOUT_SECONDS=5)
def test_a_killed_worker_loses_nothing_and_duplicates_at_most_what_was_in_flight(
    active_plan: TaperPlan, tmp_path: Path
) -> None:
    broker = settings.CELERY_BROKER_URL
    assert broker.startswith("redis://"), "run with make test-services"
    log = tmp_path / "delivered.log"
    make_due_rows(active_plan, ROWS)
    worker = start_worker(
        broker, tmp_path / "worker.log", pool="prefork", concurrency=2, extra_env=worker_env(log)
    )
    try:
        assert run_ticks_until(broker, lambda: len(delivered_ids(str(log))) >= 200, 60)
        kill_worker(worker)
        in_flight = Reminder.objects.filter(status=ReminderStatus.SENDING).count()
        before_restart = len(delivered_ids(str(log)))
        assert before_restart < ROWS, "the kill must land in the middle of dispatching"
        worker = start_worker(
            broker,
            tmp_path / "worker.log",
            pool="prefork",
            concurrency=2,
            extra_env=worker_env(log),
        )
        assert run_ticks_until(broker, lambda: sent() == ROWS, 120), (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
    finally:
        stop_worker(worker)
    ids = delivered_ids(str(log))
    expected = set(Reminder.objects.values_list("id", flat=True))
    duplicates = len(ids) - len(set(ids))
    print(
        f"\nkill: {ROWS} due, {len(set(ids))} delivered, {len(expected - set(ids))} lost, "
        f"{duplicates} duplicated, {in_flight} in flight at the kill"
    )
    assert set(ids) == expected
    assert duplicates <= in_flight


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A Redis server of this test's own, so stopping it disturbs nothing else."""
    server = shutil.which("redis-server")
    assert server, "redis-server is needed (installed on the CI machine)"
    command = [
        server,
        "--port",
        str(OWN_REDIS_PORT),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    state: dict[str, Any] = {"command": command, "url": f"redis://127.0.0.1:{OWN_REDIS_PORT}/0"}

    def start() -> None:
        state["process"] = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        assert wait_for(
            lambda: (
                subprocess.run(
                    ["redis-cli", "-p", str(OWN_REDIS_PORT), "ping"], capture_output=True, text=True
                ).stdout.strip()
                == "PONG"
            ),
            20,
        )

    def stop() -> None:
        state["process"].terminate()
        state["process"].wait(timeout=20)

    state["start"], state["stop"] = start, stop
    start()
    yield state
    if state["process"].poll() is None:
        stop()


@override_settings(REMINDER_CLAIM_TIMEOUT_SECONDS=5)
def test_a_30_second_broker_outage_loses_nothing_and_delivery_resumes_by_itself(
    active_plan: TaperPlan, tmp_path: Path, own_redis: dict[str, Any]
) -> None:
    broker = own_redis["url"]
    log = tmp_path / "delivered.log"
    make_due_rows(active_plan, ROWS)
    worker = start_worker(
        broker, tmp_path / "worker.log", pool="prefork", concurrency=2, extra_env=worker_env(log)
    )
    try:
        assert run_ticks_until(broker, lambda: len(delivered_ids(str(log))) >= 200, 60)
        own_redis["stop"]()
        outage_ends = time.monotonic() + 30
        while time.monotonic() < outage_ends:
            tick(broker)  # publishing fails; claimed rows wait for the reclaim
            time.sleep(1)
        own_redis["start"]()
        assert run_ticks_until(broker, lambda: sent() == ROWS, 180), (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
    finally:
        stop_worker(worker)
    ids = delivered_ids(str(log))
    duplicates = len(ids) - len(set(ids))
    print(
        f"\nbroker outage: {ROWS} due, {len(set(ids))} delivered, "
        f"{ROWS - len(set(ids))} lost, {duplicates} duplicated"
    )
    assert set(ids) == set(Reminder.objects.values_list("id", flat=True))
    assert duplicates <= 2 * DELIVERY_BATCH
