"""Is delivery working? The dispatcher's stages record their outcomes here; /health/,
the staff banner and the dead man's switch (`DISPATCH_PING_URL`) read them.

Nothing here carries a token or a patient's data: stage names, times, error classes.
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from reminders.models import DispatchStage, WorkerHeartbeat

log = logging.getLogger(__name__)

TICK = "tick"  # the row for the tick as a whole: its last_success_at is the last completed tick
CLAIM = "claim"  # the stage that hands due reminders to the workers
# A stage that failed this many ticks in a row is "failing" (three minutes with beat's
# one tick a minute).
STAGE_FAILING_AFTER = 3
# Staff pages warn everyone when no reminder was dispatched for this long (issue #19).
BANNER_AFTER = dt.timedelta(minutes=10)
PING_TIMEOUT_SECONDS = 5


# --- recording ----------------------------------------------------------------------------


HEARTBEATS_KEPT = dt.timedelta(days=1)


@transaction.atomic
def worker_heartbeat_record(*, hostname: str, note: str = "") -> WorkerHeartbeat:
    now = timezone.now()
    WorkerHeartbeat.objects.filter(beat_at__lt=now - HEARTBEATS_KEPT).delete()
    return WorkerHeartbeat.objects.create(beat_at=now, hostname=hostname[:255], note=note[:64])


def worker_last_seen() -> dt.datetime | None:
    latest = WorkerHeartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
    return latest


def _record(outcomes: dict[str, BaseException | None], now: dt.datetime) -> None:
    """One UPDATE for the stages that succeeded (all of them, on a good tick), one per
    stage that failed; a stage's row is made the first time it runs."""
    succeeded = [name for name, error in outcomes.items() if error is None]
    seen = DispatchStage.objects.filter(name__in=succeeded).update(
        last_success_at=now, failures_in_a_row=0
    )
    for name, error in outcomes.items():
        if error is not None:
            seen += DispatchStage.objects.filter(name=name).update(
                last_failure_at=now,
                last_error=type(error).__name__[:100],
                failures_in_a_row=F("failures_in_a_row") + 1,
            )
    if seen == len(outcomes):
        return
    known = set(DispatchStage.objects.filter(name__in=outcomes).values_list("name", flat=True))
    for name in sorted(set(outcomes) - known):
        error = outcomes[name]
        failed = error is not None
        try:
            with transaction.atomic():
                DispatchStage.objects.create(
                    name=name,
                    last_success_at=None if failed else now,
                    last_failure_at=now if failed else None,
                    last_error=type(error).__name__[:100] if failed else "",
                    failures_in_a_row=1 if failed else 0,
                )
        except IntegrityError:  # the other tick made it first; its outcome stands
            continue


def stage_run(name: str, stage: Callable[[], int]) -> tuple[int, BaseException | None]:
    """Run one stage of the tick: its count, or 0 and the error it raised (logged with the
    stage's name and the error's class only; the tick goes on)."""
    try:
        return stage(), None
    except Exception as error:
        log.error("dispatcher stage %s failed: %s", name, type(error).__name__)
        return 0, error


def tick_completed(*, now: dt.datetime, outcomes: dict[str, BaseException | None]) -> None:
    """The tick ran through all its stages: record each stage's outcome and the tick's
    (one transaction, one commit), then tell the dead man's switch, if one is set: its
    URL when every stage succeeded, its `/fail` URL when one failed."""
    try:
        with transaction.atomic():
            _record({**outcomes, TICK: None}, now)
    except DatabaseError as failure:
        # The database is away: the stages failed too; nothing to record into.
        log.warning("dispatcher health not recorded (%s)", type(failure).__name__)
    url = settings.DISPATCH_PING_URL
    if url:
        ping(url, sorted(name for name, error in outcomes.items() if error is not None))


def ping(url: str, failed: list[str]) -> bool:
    """One POST in the healthchecks.io convention; the body names failing stages only."""
    target = url.rstrip("/") + ("/fail" if failed else "")
    body = ("failing stages: " + ", ".join(failed) if failed else "ok").encode()
    request = urllib.request.Request(target, data=body, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=PING_TIMEOUT_SECONDS):  # noqa: S310
            return True
    except Exception as error:
        # Never the URL itself: its path is the monitor's secret.
        log.warning("dead man's switch ping failed: %s", type(error).__name__)
        return False


# --- reading ------------------------------------------------------------------------------


def max_age() -> dt.timedelta:
    return dt.timedelta(seconds=settings.HEALTH_MAX_AGE_SECONDS)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# The last time this process saw the database and the broker answer.
_last_ok: dict[str, dt.datetime] = {}


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # the health check must answer, whatever the database says
        return False
    return True


def _broker_answers() -> bool:
    from kombu import Connection

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class Health:
    ok: bool
    body: dict[str, Any]


def _component(name: str, answers: bool, now: dt.datetime) -> dict[str, Any]:
    if answers:
        _last_ok[name] = now
    return {"status": "ok" if answers else "unavailable", "last_ok": _iso(_last_ok.get(name))}


def _fresh(moment: dt.datetime | None, now: dt.datetime) -> dict[str, Any]:
    fresh = moment is not None and now - moment <= max_age()
    return {"status": "ok" if fresh else "stale", "last_ok": _iso(moment)}


def health_report(*, now: dt.datetime | None = None) -> Health:
    """Every component with its state and the time it was last good. Not ok when the
    database or the broker does not answer, when no worker heartbeat or no completed
    tick is newer than `HEALTH_MAX_AGE_SECONDS`, or when a stage keeps failing."""
    now = now or timezone.now()
    database = _database_answers()
    body: dict[str, Any] = {
        "database": _component("database", database, now),
        "broker": _component("broker", _broker_answers(), now),
    }
    stages: dict[str, DispatchStage] = {}
    heartbeat = None
    if database:
        stages = {stage.name: stage for stage in DispatchStage.objects.all()}
        heartbeat = worker_last_seen()
    tick = stages.pop(TICK, None)
    body["worker"] = _fresh(heartbeat, now)
    body["dispatcher"] = _fresh(tick.last_success_at if tick else None, now)
    body["stages"] = {
        name: {
            "status": "failing" if stage.failures_in_a_row >= STAGE_FAILING_AFTER else "ok",
            "last_ok": _iso(stage.last_success_at),
            "last_failure": _iso(stage.last_failure_at),
            "last_error": stage.last_error,
            "failures_in_a_row": stage.failures_in_a_row,
        }
        for name, stage in sorted(stages.items())
    }
    components = [body[name] for name in ("database", "broker", "worker", "dispatcher")]
    ok = all(part["status"] == "ok" for part in [*components, *body["stages"].values()])
    return Health(ok=ok, body={"status": "ok" if ok else "failing", **body})


def last_dispatch() -> dt.datetime | None:
    """When due reminders were last handed to the workers (the claim stage succeeded)."""
    return (
        DispatchStage.objects.filter(name=CLAIM)
        .values_list("last_success_at", flat=True)
        .first()
    )


def dispatch_banner(*, now: dt.datetime | None = None) -> str:
    """The warning every clinician and reviewer sees when reminders have not been
    dispatched for BANNER_AFTER, so the clinic can phone patients meanwhile; empty when
    all is well."""
    now = now or timezone.now()
    try:
        last = last_dispatch()
    except DatabaseError:
        last = None
    if last is not None and now - last <= BANNER_AFTER:
        return ""
    if last is None:
        return "Reminders are not being sent — contact your administrator."
    when = f"{last:%H:%M} UTC" if now - last < dt.timedelta(hours=20) else (
        f"{last:%Y-%m-%d %H:%M} UTC"
    )
    return f"Reminders are not being sent since {when} — contact your administrator."
