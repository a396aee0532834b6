"""The fault drill's own logic (ops/drill.py, `python -m ops fault_drill`), end to end but
short: a real worker is SIGKILLed and replaced, and a Redis of the test's own is
restarted. The system PostgreSQL and Redis are never restarted here; `python -m ops
fault_drill` does that (docs/reliability.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from ops import drill, fault_drill
from planner.models import Clinic
from reminders.models import Reminder, ReminderKind, ReminderStatus

# The drill's worker processes read the real clock.
pytestmark = pytest.mark.real_clock

OWN_REDIS_PORT = 6392


def own_redis(tmp_path: Path) -> drill.Services:
    server = shutil.which("redis-server")
    assert server, "redis-server is needed (installed on the CI machine)"
    port = str(OWN_REDIS_PORT)
    return drill.Services(
        redis_port=OWN_REDIS_PORT,
        redis_start=[server, "--daemonize", "yes", "--port", port, "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        redis_stop=["redis-cli", "-p", port, "shutdown", "nosave"],
        # Never called: these tests leave the system PostgreSQL alone.
        postgres_stop=["false"],
        postgres_start=["false"],
    )  # fmt: skip


@pytest.fixture
def services(tmp_path: Path):
    services = own_redis(tmp_path)
    assert services.start("redis")
    yield services
    services.stop("redis")


def run_drill(
    services: drill.Services, tmp_path: Path, faults: tuple[str, ...], lines: list[str],
    phase_timeout: float,
) -> list[drill.FaultResult]:
    """The drill on the test's own Redis: 300 reminders, 5 plans, short timeouts."""
    options = drill.DrillOptions(
        broker_url=f"redis://127.0.0.1:{OWN_REDIS_PORT}/0",
        database=drill.database_url(),
        work_dir=tmp_path,
        services=services,
        faults=faults,
        reminders=300,
        plans=5,
        outage_seconds=3,
        claim_timeout=5,
        phase_timeout=phase_timeout,
        say=lines.append,
    )
    with drill.services_restored(services, lines.append):
        results = drill.Drill(options).run()
    print("\n" + "\n".join(drill.results_table(results)))
    return results


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_drill_loses_nothing_through_a_worker_kill_and_a_broker_restart(
    services: drill.Services, tmp_path: Path
) -> None:
    lines: list[str] = []
    results = run_drill(services, tmp_path, ("kill", "redis"), lines, phase_timeout=60)
    assert [r.fault for r in results] == ["kill", "redis"]
    for result in results:
        assert (result.due, result.delivered, result.lost) == (300, 300, 0), result
        assert result.duplicated <= result.in_flight, result
        assert result.outage_seconds < 30
    assert lines[-1] == "services after the drill: redis up, postgres up"
    assert not Clinic.objects.filter(name=drill.DRILL_CLINIC).exists(), "drill data removed"
    # Counts only: nothing about a patient, a drug or a dose in what the drill printed.
    printed = "\n".join(lines + drill.results_table(results))
    assert "Drill" not in printed
    assert "mg" not in printed
    assert "baclofen" not in printed.lower()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_poison_rows_one_beat_killed_and_one_worker_killed_lose_nothing(
    services: drill.Services, tmp_path: Path
) -> None:
    """The faults of issues #16 and #19, on the test's own Redis: 1 % poison rows; two
    real beats and two workers, one beat SIGKILLed; then one of two workers."""
    lines: list[str] = []
    results = run_drill(services, tmp_path, ("poison", "beat", "workers"), lines, phase_timeout=90)
    poison, beat, workers = results
    assert (poison.fault, poison.due, poison.poison) == ("poison", 297, 3)
    assert (poison.delivered, poison.lost, poison.duplicated) == (297, 0, 0), poison
    assert poison.poison_failed == 3, poison
    assert not poison.note, poison  # no poison row was ever delivered
    assert Reminder.objects.filter(
        kind=ReminderKind.REFILL, status=ReminderStatus.FAILED, attempts=drill.POISON_ATTEMPTS
    ).count() == 0, "drill rows are deleted at the end"
    for result in (beat, workers):
        assert (result.due, result.delivered, result.lost) == (300, 300, 0), result
        assert result.duplicated <= result.in_flight, result
        assert not result.note, result
    assert "3 of 3 poison rows failed within their attempts" in "\n".join(
        drill.results_table(results)
    )


@pytest.mark.services
def test_a_service_stopped_when_the_drill_fails_is_started_again(
    services: drill.Services,
) -> None:
    lines: list[str] = []

    def interrupted_outage() -> None:
        with drill.services_restored(services, lines.append):
            assert services.stop("redis")
            assert drill.wait_for(lambda: not services.redis_up(), 10)
            raise KeyboardInterrupt  # Ctrl-C in the middle of an outage

    with pytest.raises(KeyboardInterrupt):
        interrupted_outage()
    assert services.redis_up()
    assert lines == ["services after the drill: redis up, postgres up"]


@override_settings(CELERY_BROKER_URL="sqla+sqlite:///not-redis.sqlite3")
def test_the_drill_refuses_anything_but_postgresql_and_redis(db: None) -> None:
    with pytest.raises(CommandError, match="needs PostgreSQL and Redis"):
        call_command(fault_drill.Command())
