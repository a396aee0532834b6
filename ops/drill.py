"""The fault drill (`python -m ops fault_drill`): reminders due now are dispatched by a real
Celery worker while, one after another, the worker is SIGKILLed and replaced, Redis is
restarted and PostgreSQL is restarted. For each fault it counts reminders due,
delivered, lost and duplicated through a recording channel.

This process plays beat: it runs dispatcher ticks itself, as the reliability tests do.
The worker helpers here are shared with tests/reminders (worker.py, recording.py).

Output and log lines carry counts only: never a patient's name, a drug, a dose or a token.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from wsgiref.util import setup_testing_defaults

from django.conf import settings
from django.contrib.auth.models import User
from django.db import close_old_connections, connection
from django.test import override_settings
from django.utils import timezone

from planner.models import Clinic, Patient, PlanReview, PlanRevision, Regimen, TaperPlan
from reminders import dispatch
from reminders.channels import Message
from reminders.models import Dose, Recipient, Reminder, ReminderKind, ReminderStatus

ROOT = Path(__file__).resolve().parent.parent
DRILL_CLINIC = "Fault Drill Clinic (fault_drill)"
DRILL_AUTHOR = "fault-drill-author"
DRILL_REVIEWER = "fault-drill-reviewer"
FAULTS = ("kill", "redis", "postgres", "poison", "beat", "workers")
# Faults played on the production topology: two real `celery beat` processes and two
# workers, the ticks run by the workers (docs/deployment.md).
TOPOLOGY_FAULTS = ("beat", "workers")
POISON_EVERY = 100  # 1 % of the rows of the poison fault cannot be rendered
POISON_ATTEMPTS = 2


# --- recording channel -------------------------------------------------------------------


class RecordingChannel:
    """Appends one line (the reminder's id) per delivered message to the file named by
    DELIVERY_LOG, so losses and duplicates can be counted across worker processes and
    restarts. Sleeps DELIVERY_DELAY seconds per message, so a fault lands mid-dispatch."""

    name = "recording"

    def send(self, message: Message) -> None:
        time.sleep(float(os.environ.get("DELIVERY_DELAY", "0.005")))
        line = f"{message.reminder_id}\n".encode()
        fd = os.open(os.environ["DELIVERY_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def delivered_ids(path: str | Path) -> list[int]:
    try:
        with open(path) as handle:
            return [int(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


# --- worker processes --------------------------------------------------------------------


def database_url() -> str:
    """The URL of the database this process is using right now (tests: the test DB)."""
    cfg = connection.settings_dict
    if cfg["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{cfg['NAME']}"
    user = cfg.get("USER") or ""
    password = f":{cfg['PASSWORD']}" if cfg.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{cfg['PORT']}" if cfg.get("PORT") else ""
    return f"postgres://{auth}{cfg.get('HOST') or '127.0.0.1'}{port}/{cfg['NAME']}"


def _celery_env(
    broker_url: str, database: str | None, extra_env: dict[str, str] | None
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="planner.settings",
        DATABASE_URL=database or database_url(),
        CELERY_BROKER_URL=broker_url,
        **(extra_env or {}),
    )
    return env


def _celery(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A real `celery` process on this project's app, in a process group of its own (a
    kill reaches its children too, and Ctrl-C in the terminal does not)."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "planner", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_worker(
    broker_url: str,
    log_path: Path,
    *,
    database: str | None = None,
    pool: str = "solo",
    concurrency: int = 1,
    extra_env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    loglevel: str = "INFO",
) -> subprocess.Popen[bytes]:
    """A real `celery worker` process."""
    return _celery(
        [
            "worker",
            "--pool", pool,
            "--concurrency", str(concurrency),
            "--loglevel", loglevel,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            *extra_args,
        ],
        _celery_env(broker_url, database, extra_env),
        log_path,
    )  # fmt: skip


def start_beat(
    broker_url: str,
    work_dir: Path,
    name: str,
    *,
    database: str | None = None,
    every_seconds: int = 1,
) -> subprocess.Popen[bytes]:
    """A real `celery beat` process with its own schedule file, asking for a dispatcher
    tick every `every_seconds` (DISPATCH_INTERVAL_SECONDS; production: 60)."""
    return _celery(
        [
            "beat",
            "--loglevel", "WARNING",
            "--schedule", str(work_dir / f"{name}-schedule"),
            "--pidfile", str(work_dir / f"{name}.pid"),
        ],
        _celery_env(broker_url, database, {"DISPATCH_INTERVAL_SECONDS": str(every_seconds)}),
        work_dir / f"{name}.log",
    )  # fmt: skip


def kill_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its pool processes, as a crash or the OOM killer would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=20)


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        kill_worker(process)


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


# --- playing beat ------------------------------------------------------------------------


def publisher(broker_url: str) -> dispatch.Enqueue:
    """Publish delivery tasks on a fresh connection that fails at once when the broker
    is down (beat would log the error and try again the next minute)."""
    from kombu import Connection

    from reminders.tasks import DELIVERY_BATCH, deliver_reminders

    def enqueue(ids: list[int], claim: str) -> None:
        with Connection(broker_url, connect_timeout=2) as conn:
            for start in range(0, len(ids), DELIVERY_BATCH):
                deliver_reminders.apply_async(  # type: ignore[call-arg]
                    (ids[start : start + DELIVERY_BATCH], claim),
                    connection=conn,
                    retry=False,
                )

    return enqueue


def tick(broker_url: str, limit: int = 100) -> bool:
    """One dispatcher tick; False if a stage of it failed (broker or database away). Like
    a Celery task, it starts by dropping a database connection that is no longer usable."""
    close_old_connections()
    try:
        done = dispatch.dispatch_tick(
            now=timezone.now(), enqueue=publisher(broker_url), limit=limit
        )
    except Exception:  # the database went away under the stages' health records
        return False
    return done["failed_stages"] == 0


# --- services ----------------------------------------------------------------------------


def _run(command: list[str], timeout: float = 60) -> bool:
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            timeout=timeout,
            start_new_session=True,  # Ctrl-C must not interrupt a stop or a start
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _postgres_version() -> str:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    return versions[-1] if versions else "15"


@dataclass
class Services:
    """How to check, stop and start Redis and PostgreSQL. The defaults are this machine's
    own services on 127.0.0.1 (docs/reliability.md); each command can be overridden."""

    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    redis_stop: list[str] = field(default_factory=list)
    redis_start: list[str] = field(default_factory=list)
    postgres_stop: list[str] = field(default_factory=list)
    postgres_start: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        version = _postgres_version()
        self.redis_stop = self.redis_stop or [
            "redis-cli", "-h", self.redis_host, "-p", str(self.redis_port), "shutdown", "nosave",
        ]  # fmt: skip
        self.redis_start = self.redis_start or shlex.split(
            'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
            "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
        )
        ctl = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
        self.postgres_stop = self.postgres_stop or [*ctl, "stop", "-m", "fast"]
        self.postgres_start = self.postgres_start or [*ctl, "start"]

    @classmethod
    def from_urls(cls, broker_url: str, **commands: list[str]) -> Services:
        broker = urlsplit(broker_url)
        db = connection.settings_dict
        return cls(
            redis_host=broker.hostname or "127.0.0.1",
            redis_port=broker.port or 6379,
            postgres_host=str(db.get("HOST") or "127.0.0.1"),
            postgres_port=int(db.get("PORT") or 5432),
            **{name: value for name, value in commands.items() if value},
        )

    def redis_up(self) -> bool:
        try:
            answer = subprocess.run(
                ["redis-cli", "-h", self.redis_host, "-p", str(self.redis_port), "ping"],
                capture_output=True,
                text=True,
                timeout=5,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return answer.stdout.strip() == "PONG"

    def postgres_up(self) -> bool:
        return _run(
            ["pg_isready", "-q", "-h", self.postgres_host, "-p", str(self.postgres_port)], 10
        )

    def up(self, service: str) -> bool:
        return self.redis_up() if service == "redis" else self.postgres_up()

    def stop(self, service: str) -> bool:
        return _run(self.redis_stop if service == "redis" else self.postgres_stop)

    def start(self, service: str, timeout: float = 30) -> bool:
        """Start the service unless it answers already; True once it answers."""
        if self.up(service):
            return True
        _run(self.redis_start if service == "redis" else self.postgres_start)
        return wait_for(lambda: self.up(service), timeout)

    def ensure_running(self) -> dict[str, bool]:
        """Both services answer afterwards, whatever happened before: starts any that
        does not. Returns whether each answers."""
        return {service: self.start(service) for service in ("redis", "postgres")}


# --- drill data --------------------------------------------------------------------------


def clinic_data_delete(clinic: str, usernames: list[str]) -> None:
    """Remove everything an earlier drill or benchmark made in its own clinic: patients,
    plans and their rows, and its users (the plans' protected references go first)."""
    plans = TaperPlan.objects.filter(patient__clinic__name=clinic)
    Reminder.objects.filter(plan__in=plans).delete()
    Dose.objects.filter(plan__in=plans).delete()
    PlanReview.objects.filter(revision__plan__in=plans).delete()
    plans.update(current_revision=None)
    PlanRevision.objects.filter(plan__in=plans).delete()
    plans.delete()
    Regimen.objects.filter(patient__clinic__name=clinic).delete()
    Patient.objects.filter(clinic__name=clinic).delete()
    Clinic.objects.filter(name=clinic).delete()
    User.objects.filter(username__in=usernames).delete()


def drill_data_delete() -> None:
    """Remove everything an earlier drill made (its clinic, patients, plans, rows)."""
    clinic_data_delete(DRILL_CLINIC, [DRILL_AUTHOR, DRILL_REVIEWER])


def drill_plans(count: int) -> list[TaperPlan]:
    """Fictional patients with active plans that start in a month (so none of their own
    doses is due); their scheduled rows are removed, the drill makes its own."""
    from planner import services
    from planner.engine_input import patient_facts

    clinic = Clinic.objects.create(name=DRILL_CLINIC)
    author = User.objects.create_user(username=DRILL_AUTHOR)
    reviewer = User.objects.create_user(username=DRILL_REVIEWER)
    start = timezone.now().date() + dt.timedelta(days=30)
    plans = []
    for i in range(count):
        patient = Patient.objects.create(
            clinic=clinic,
            given_name="Drill",
            family_name=f"Patient {i}",
            sex="female" if i % 2 else "male",
            date_of_birth=dt.date(1970, 1, 1),
            home_timezone="UTC",
            email=f"drill-{i}@example.org",  # the drill's channel records ids, sends nothing
        )
        engine_input = {
            "product": "baclofen-oral-tablet",
            "doses": [{"time": t, "amount_mg": 10} for t in ("08:00", "14:00", "20:00")],
            "start_date": start.isoformat(),
            "timezone": "UTC",
            "goal": {"type": "discontinue"},
            "patient": patient_facts(patient, start, months_on_therapy=3),
        }
        plan = services.plan_create(patient=patient, by=author, engine_input=engine_input)
        if plan.requires_review:
            services.plan_submit(plan=plan, by=author)
            services.plan_approve(plan=plan, by=reviewer)
        plans.append(services.plan_activate(plan=plan, by=author))
    Reminder.objects.filter(plan__in=plans).delete()
    return plans


def due_rows_make(
    plans: list[TaperPlan],
    count: int,
    tag: str,
    *,
    spread: dt.timedelta = dt.timedelta(0),
    poison_every: int = 0,
) -> set[int]:
    """`count` check-in reminders, due from now over `spread`. With `poison_every`, every
    such row is instead a refill reminder whose context lost its dates: its subject
    cannot be rendered (a KeyError in the delivery)."""
    due = timezone.now() - dt.timedelta(seconds=1)
    step = spread / max(count, 1)

    def row(i: int) -> Reminder:
        poison = bool(poison_every) and i % poison_every == 0
        return Reminder(
            plan=plans[i % len(plans)],
            kind=ReminderKind.REFILL if poison else ReminderKind.CHECK_IN,
            recipient=Recipient.PATIENT,
            key=f"drill-{tag}-{i}",
            due_at=due + step * i,
        )

    Reminder.objects.bulk_create((row(i) for i in range(count)), batch_size=1000)
    return set(
        Reminder.objects.filter(key__startswith=f"drill-{tag}-").values_list("id", flat=True)
    )


# --- the drill ---------------------------------------------------------------------------


@dataclass
class FaultResult:
    fault: str
    due: int
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    in_flight: int = 0  # rows claimed and unfinished when the fault struck
    outage_seconds: float = 0.0
    recovered_seconds: float = 0.0  # from the end of the fault to the last delivery
    web_after: str = ""  # the web health check after the fault (PostgreSQL restart)
    poison: int = 0  # rows that cannot be rendered (the poison fault)
    poison_failed: int = 0  # of those, failed within their attempts
    note: str = ""


@dataclass
class DrillOptions:
    broker_url: str
    database: str
    work_dir: Path
    services: Services
    faults: tuple[str, ...] = FAULTS
    reminders: int = 1000
    plans: int = 20
    outage_seconds: float = 5.0
    claim_timeout: int = 10
    phase_timeout: float = 90.0
    fault_after: float = 0.25  # strike once this share of the batch has been delivered
    delivery_delay: float = 0.005
    say: Callable[[str], None] = print


def _count(ids: set[int], status: ReminderStatus) -> int:
    close_old_connections()
    try:
        return Reminder.objects.filter(id__in=ids, status=status).count()
    except Exception:
        return -1  # the database is away


def _health_probe() -> str:
    """A GET /health/ through Django's WSGI handler, as gunicorn's worker makes it: the
    request signals close a connection the restart broke and health checks reconnect.
    Runs in one long-lived thread, so its connection is persistent across the fault."""
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    status: list[str] = []
    environ: dict[str, Any] = {
        "PATH_INFO": "/health/",
        "HTTP_HOST": (settings.ALLOWED_HOSTS or ["127.0.0.1"])[0].lstrip("."),
        "wsgi.url_scheme": "https",
        "HTTP_X_FORWARDED_PROTO": "https",
    }
    setup_testing_defaults(environ)

    def start_response(
        line: str, headers: list[tuple[str, str]], exc_info: Any = None, /
    ) -> Callable[[bytes], object]:
        status.append(line)
        return lambda data: None

    body = b"".join(application(environ, start_response))
    try:
        database = json.loads(body)["database"]["status"]
    except (ValueError, KeyError, TypeError):
        database = "no answer"
    return f"{status[0] if status else 'no answer'}, database {database}"


class Drill:
    def __init__(self, options: DrillOptions) -> None:
        self.o = options
        self.log = options.work_dir / "delivered.log"
        self.worker_log = options.work_dir / "worker.log"
        self.worker: subprocess.Popen[bytes] | None = None
        self.web = ThreadPoolExecutor(max_workers=1)  # one thread: one persistent connection
        self.plans: list[TaperPlan] = []

    def _worker(self, log: Path, **env: str) -> subprocess.Popen[bytes]:
        return start_worker(
            self.o.broker_url,
            log,
            database=self.o.database,
            pool="prefork",
            concurrency=2,
            extra_env={
                "REMINDER_CHANNELS": "ops.drill.RecordingChannel",
                "DELIVERY_LOG": str(self.log),
                "DELIVERY_DELAY": str(self.o.delivery_delay),
                # The ticks of the topology faults run in the workers.
                "REMINDER_CLAIM_TIMEOUT_SECONDS": str(self.o.claim_timeout),
                **env,
            },
        )

    def _start_worker(self) -> None:
        self.worker = self._worker(self.worker_log)

    def _delivered(self, ids: set[int]) -> list[int]:
        return [i for i in delivered_ids(self.log) if i in ids]

    def _tick_until(self, ids: set[int], condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tick(self.o.broker_url)
            if condition():
                return True
            time.sleep(0.3)
        return False

    def _outage(self, service: str) -> float:
        """Stop the service, keep dispatching through the outage, start it again."""
        started = time.monotonic()
        if not self.o.services.stop(service):
            self.o.say(f"  warning: the stop command for {service} failed")
        wait_for(lambda: not self.o.services.up(service), 15)
        until = started + self.o.outage_seconds
        while time.monotonic() < until:
            tick(self.o.broker_url)  # fails: publishing or the database is away
            time.sleep(0.5)
        if not self.o.services.start(service):
            raise RuntimeError(f"{service} did not come back within 30 s")
        return time.monotonic() - started

    def _count_deliveries(self, result: FaultResult, ids: set[int]) -> FaultResult:
        time.sleep(1)  # a late copy of a message would show up here
        delivered = self._delivered(ids)
        result.delivered = len(set(delivered))
        result.lost = len(ids) - result.delivered
        result.duplicated = len(delivered) - result.delivered
        return result

    def poison_phase(self, tag: str) -> FaultResult:
        """1 % of the due rows cannot be rendered: every other row is delivered once,
        each poison row fails within its attempts, and the dispatcher keeps claiming.
        Played with REMINDER_MAX_ATTEMPTS=2 (worker and dispatcher), so the one retry
        (after the 30 s backoff) and the give-up fit in the drill."""
        assert self.worker is not None
        stop_worker(self.worker)
        self.worker = self._worker(self.worker_log, REMINDER_MAX_ATTEMPTS=str(POISON_ATTEMPTS))
        try:
            with override_settings(REMINDER_MAX_ATTEMPTS=POISON_ATTEMPTS):
                return self._poison(tag)
        finally:
            stop_worker(self.worker)
            self._start_worker()

    def _poison(self, tag: str) -> FaultResult:
        rows = due_rows_make(self.plans, self.o.reminders, tag, poison_every=POISON_EVERY)
        poison = set(
            Reminder.objects.filter(id__in=rows, kind=ReminderKind.REFILL).values_list(
                "id", flat=True
            )
        )
        ids = rows - poison
        result = FaultResult(fault="poison", due=len(ids), poison=len(poison))
        self.o.say(
            f"poison: {len(rows)} reminders due now, {len(poison)} of them cannot be rendered"
        )
        started = time.monotonic()
        done = self._tick_until(
            rows,
            lambda: _count(ids, ReminderStatus.SENT) == len(ids)
            and _count(poison, ReminderStatus.FAILED) == len(poison),
            self.o.phase_timeout,
        )
        result.recovered_seconds = time.monotonic() - started
        result.poison_failed = _count(poison, ReminderStatus.FAILED)
        if not done:
            result.note = f"not all settled within {self.o.phase_timeout:.0f} s"
        leaked = [i for i in delivered_ids(self.log) if i in poison]
        if leaked:
            result.note += f" {len(leaked)} poison rows were delivered"
        return self._count_deliveries(result, ids)

    def topology_phase(self, fault: str, tag: str) -> FaultResult:
        """Two beats and two workers, as in production (docs/deployment.md): beat asks
        for a tick every second, the workers run the ticks and the deliveries. The rows
        fall due over ten seconds, so they are claimed by many ticks; once a quarter
        are delivered one beat, or one worker, is SIGKILLed and not replaced."""
        ids = due_rows_make(self.plans, self.o.reminders, tag, spread=dt.timedelta(seconds=10))
        result = FaultResult(fault=fault, due=len(ids))
        self.o.say(f"{fault}: {len(ids)} reminders falling due over 10 s; 2 beats, 2 workers")
        second = self._worker(self.o.work_dir / f"worker-{tag}.log")
        beats = [
            start_beat(self.o.broker_url, self.o.work_dir, f"beat-{tag}-{n}",
                       database=self.o.database)
            for n in (1, 2)
        ]  # fmt: skip
        try:
            threshold = max(1, int(len(ids) * self.o.fault_after))
            if not wait_for(
                lambda: len(set(self._delivered(ids))) >= threshold, self.o.phase_timeout
            ):
                result.note = "delivery never started"
            result.in_flight = _count(ids, ReminderStatus.SENDING)
            self.o.say(f"  SIGKILL one of the two {'beats' if fault == 'beat' else 'workers'}")
            kill_worker(beats[0] if fault == "beat" else second)
            back = time.monotonic()
            done = wait_for(
                lambda: _count(ids, ReminderStatus.SENT) == len(ids), self.o.phase_timeout
            )
            result.recovered_seconds = time.monotonic() - back
            if not done:
                result.note = f"not all delivered within {self.o.phase_timeout:.0f} s"
        finally:
            for process in (*beats, second):
                stop_worker(process)
        return self._count_deliveries(result, ids)

    def phase(self, fault: str, tag: str) -> FaultResult:
        if fault == "poison":
            return self.poison_phase(tag)
        if fault in TOPOLOGY_FAULTS:
            return self.topology_phase(fault, tag)
        ids = due_rows_make(self.plans, self.o.reminders, tag)
        result = FaultResult(fault=fault, due=len(ids))
        self.o.say(f"{fault}: {len(ids)} reminders due now; dispatching")
        threshold = max(1, int(len(ids) * self.o.fault_after))
        if not self._tick_until(
            ids, lambda: len(set(self._delivered(ids))) >= threshold, self.o.phase_timeout
        ):
            result.note = "delivery never started"
        if fault == "postgres":
            self.web.submit(_health_probe).result()  # open the web thread's connection
        result.in_flight = _count(ids, ReminderStatus.SENDING)
        assert self.worker is not None
        if fault == "kill":
            self.o.say("  SIGKILL the worker and its pool; starting a new worker")
            started = time.monotonic()
            kill_worker(self.worker)
            self._start_worker()
            result.outage_seconds = time.monotonic() - started
        else:
            self.o.say(f"  restarting {fault} ({self.o.outage_seconds:.0f} s down)")
            result.outage_seconds = self._outage(fault)
        back = time.monotonic()
        if fault == "postgres":
            result.web_after = self.web.submit(_health_probe).result()
            self.o.say(f"  web request after the restart: {result.web_after}")
        done = self._tick_until(
            ids, lambda: _count(ids, ReminderStatus.SENT) == len(ids), self.o.phase_timeout
        )
        result.recovered_seconds = time.monotonic() - back
        if not done:
            result.note = f"not all delivered within {self.o.phase_timeout:.0f} s"
        return self._count_deliveries(result, ids)

    def run(self) -> list[FaultResult]:
        results: list[FaultResult] = []
        run_tag = uuid.uuid4().hex[:8]
        with override_settings(REMINDER_CLAIM_TIMEOUT_SECONDS=self.o.claim_timeout):
            drill_data_delete()
            self.plans = drill_plans(self.o.plans)
            self._start_worker()
            try:
                for fault in self.o.faults:
                    results.append(self.phase(fault, f"{run_tag}-{fault}"))
            finally:
                if self.worker is not None:
                    stop_worker(self.worker)
                self.web.shutdown(wait=True)
                close_old_connections()
                with contextlib.suppress(Exception):
                    drill_data_delete()
        return results


@contextlib.contextmanager
def services_restored(services: Services, say: Callable[[str], None]) -> Iterator[None]:
    """Whatever happens inside (an error, Ctrl-C, SIGTERM), Redis and PostgreSQL answer
    again when this exits."""

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        state = services.ensure_running()
        say(
            "services after the drill: "
            + ", ".join(f"{name} {'up' if up else 'DOWN'}" for name, up in state.items())
        )
        if not all(state.values()):
            raise RuntimeError("a service did not come back; start it by hand (see the log)")


def results_table(results: list[FaultResult]) -> list[str]:
    header = (
        f"{'fault':<10} {'due':>6} {'delivered':>10} {'lost':>6} {'duplicated':>11} "
        f"{'in flight':>10} {'outage s':>9} {'recovered s':>12}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        outage = f"{r.outage_seconds:.1f}" if r.fault in ("redis", "postgres") else "-"
        note = r.note
        if r.poison:
            note = f"{r.poison_failed} of {r.poison} poison rows failed within their attempts" + (
                f"; {note}" if note else ""
            )
        lines.append(
            f"{r.fault:<10} {r.due:>6} {r.delivered:>10} {r.lost:>6} {r.duplicated:>11} "
            f"{r.in_flight:>10} {outage:>9} {r.recovered_seconds:>12.1f}"
            + (f"  {note}" if note else "")
        )
    return lines
