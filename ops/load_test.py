"""Load test: the clinician dashboard, the patient's today page and the calendar feed,
served by gunicorn (2 workers, production settings) on PostgreSQL, driven by wrk.

Run: .venv/bin/python ops/load_test.py        (or `make load`)

It sets up and tears down everything itself: it drops and recreates a database of its
own (taper_load), migrates it, seeds fictional clinics, patients and active plans (25
patients per clinic through the services, copied in the database to the clinic's size),
starts gunicorn on 127.0.0.1, runs wrk against each target for a bounded time, prints a
table with the CPU each request cost and stops gunicorn. Every request must answer 200:
anything else counts as an error. A sweep (`--patients 100,1000,10000`) seeds every size
in a database of its own (taper_load_100, ...) served by its own gunicorn, then measures
the sizes in turn over rounds and prints each target's median against the smallest's.
Needs wrk (`apt-get install wrk`) and PostgreSQL on 127.0.0.1 (see docs/reliability.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))

# wrk runs this in each of its threads: it walks the target's paths (each with the cookie
# of its session), counts every answer that is not a 200, and prints one JSON line.
WRK_SCRIPT = r"""
local targets = {}
local threads = {}
local counter = 1

function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  not_ok = 0
  sequence = offset
  for line in io.lines(os.getenv("WRK_TARGETS")) do
    local tab = string.find(line, "\t", 1, true)
    table.insert(targets, {string.sub(line, 1, tab - 1), string.sub(line, tab + 1)})
  end
end

function request()
  sequence = sequence + 1
  local target = targets[(sequence % #targets) + 1]
  local headers = {}
  if target[2] ~= "" then headers["Cookie"] = target[2] end
  return wrk.format("GET", target[1], headers)
end

function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("not_ok") end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "not_200": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, bad, e.connect, e.read, e.write, e.timeout))
end
"""


@dataclass
class Target:
    name: str
    # (path, cookie header) pairs; wrk rotates through them.
    requests: list[tuple[str, str]]


@dataclass
class Result:
    name: str
    note: str = ""
    requests: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    errors: int = 0
    error_detail: str = ""
    # CPU time per request of the gunicorn workers and of PostgreSQL's backends for this
    # database, from /proc: steadier than wall time on a machine other work is loading.
    app_cpu_ms: float | None = None
    db_cpu_ms: float | None = None


def patient_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("give whole numbers, e.g. 100,1000,10000") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("give at least one size of 1 or more")
    return sorted(set(sizes))


def sweep_ratios(runs: dict[int, list[Result]]) -> list[str]:
    """Each target's median at every size against the smallest size's: the flatness a
    page that does not grow with the clinic must show (issue #18: within 1.3 ×)."""
    sizes = sorted(runs)
    base = {r.name: r.p50_ms for r in runs[sizes[0]] if not r.note}
    lines = []
    for name, first in base.items():
        parts = []
        for size in sizes:
            result = next((r for r in runs[size] if r.name == name and not r.note), None)
            if result is None or first <= 0:
                parts.append(f"{size}: not measured")
                continue
            parts.append(f"{size}: {result.p50_ms:.1f} ms ({result.p50_ms / first:.2f} ×)")
        lines.append(f"{name:<10} " + ", ".join(parts))
    # The same for the CPU each request cost (app + database), where it was measured.
    for name in base:
        cpu_of = {
            size: (r.app_cpu_ms or 0) + (r.db_cpu_ms or 0)
            for size in sizes
            for r in runs[size]
            if r.name == name and not r.note and r.app_cpu_ms is not None
        }
        if len(cpu_of) == len(sizes) and cpu_of[sizes[0]] > 0:
            lines.append(f"{name + ' CPU':<10} " + ", ".join(
                f"{size}: {cpu_of[size]:.1f} ms ({cpu_of[size] / cpu_of[sizes[0]]:.2f} ×)"
                for size in sizes
            ))
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/taper_load",
        help="dropped and recreated at the start, dropped at the end (unless --keep-db)",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--duration", type=int, default=30, help="seconds per target")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--clinics", type=int, default=3)
    parser.add_argument(
        "--patients",
        type=patient_sizes,
        default=[300],
        help="in all, spread over clinics; a comma-separated sweep (100,1000,10000) runs each "
        "size on a fresh database and prints each target's median against the smallest's",
    )
    parser.add_argument(
        "--targets", default="clinic,me,calendar", help="comma-separated: clinic, me, calendar"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="split each target's duration into this many rounds, every size in turn in "
        "each (default: 3 for a sweep, 1 otherwise)",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the databases behind")
    return parser.parse_args()


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def maintenance_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    import psycopg

    name = database_name(url)
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing an unusual database name: {name!r}")
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def production_env(args: argparse.Namespace, var_dir: Path) -> dict[str, str]:
    """Production-like settings for plain http on 127.0.0.1 (no TLS proxy in front)."""
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{args.port}",
        "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{args.port}",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_URL": args.database_url,
        # The web process publishes nothing during these GETs; keep any broker file private.
        "CELERY_BROKER_URL": f"sqla+sqlite:///{var_dir / 'broker.sqlite3'}",
        "VAR_DIR": str(var_dir),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "planner.settings",
        # Production refuses to start without these (planner.checks); nothing is mailed.
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(var_dir / "mail"),
        "FHIR_IDENTIFIER_SYSTEM": "https://fhir.example.org/taper-load",
        # gunicorn reads gunicorn.conf.py from the project directory; the figures are
        # measured without an access log, as they were before it shipped.
        "GUNICORN_ACCESS_LOG": "",
    }


# Patients the seed makes through the services in each clinic before copying them: every
# kind of row a real clinic holds, in the proportions below (docs/reliability.md).
BLOCK = 25


def _template_patient(ctx: dict[str, Any], clinic: Any, n: int, i: int) -> None:
    """Patient ``n`` (the ``i``-th of its clinic's block) made as the clinic would: a
    baclofen plan created, approved where review is required and activated on its own
    first day (0-24 days ago), its past doses answered; some patients have more."""
    import time_machine
    from django.utils import timezone

    from planner import services
    from planner.engine_input import patient_facts
    from planner.models import Patient, PlanStatus, RevisionKind
    from reminders.models import (
        AbruptStopAlert,
        AlertReason,
        CheckIn,
        CheckInLevel,
        Dose,
        DoseStatus,
    )

    clinician, reviewer, today = ctx["clinician"], ctx["reviewer"], ctx["today"]
    user = ctx["User"].objects.create_user(username=f"load-patient-{n}")
    user.groups.add(ctx["patient_group"])
    patient = Patient.objects.create(
        clinic=clinic,
        user=user,
        given_name="Load",
        family_name=f"Patient {n:05d}",
        date_of_birth=dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
        sex="female" if i % 2 else "male",
        email=f"load-patient-{n}@example.org",
        home_timezone=ZONES[i % len(ZONES)],
        weight_kg=55 + i % 40,
    )
    start = today - dt.timedelta(days=i)
    amount = (5, 10, 15, 20)[i % 4]

    def baclofen(first: dt.date, months: int) -> dict[str, Any]:
        return {
            "product": "baclofen-oral-tablet",
            "doses": [{"time": t, "amount_mg": amount} for t in ("08:00", "14:00", "20:00")],
            "start_date": first.isoformat(),
            "timezone": patient.home_timezone,
            "goal": {"type": "discontinue"},
            "patient": patient_facts(patient, first, months_on_therapy=months),
        }

    # No plan starts in the past (docs/continuity.md): each is made and activated on its
    # own first day, as the clinic would have done.
    with time_machine.travel(dt.datetime.combine(start, dt.time(12), dt.UTC), tick=False):
        plan = services.plan_create(
            patient=patient, by=clinician, engine_input=baclofen(start, 3 + i)
        )
        if plan.requires_review:
            services.plan_submit(plan=plan, by=clinician)
            services.plan_approve(plan=plan, by=reviewer)
        plan = services.plan_activate(plan=plan, by=clinician)
    now = timezone.now()
    past = list(
        Dose.objects.filter(plan=plan, due_at__lt=now)
        .order_by("due_at")
        .values_list("id", flat=True)
    )
    # Past doses taken, one in 20 missed; three patients in 25 (12 %) missed their latest.
    missed = set(past[19::20])
    if i % 8 == 3 and past:
        missed.add(past[-1])
    Dose.objects.filter(id__in=past).exclude(id__in=missed).update(
        status=DoseStatus.TAKEN, answered_at=now
    )
    Dose.objects.filter(id__in=missed).update(status=DoseStatus.MISSED)
    tomorrow = today + dt.timedelta(days=1)
    review_all = clinic.require_review_for_all_plans
    try:
        if i == 5:  # a new plan being prepared: a draft
            services.plan_create(patient=patient, by=clinician, engine_input=baclofen(tomorrow, 6))
        elif i == 7:  # a replacement plan waiting for a reviewer
            clinic.require_review_for_all_plans = True
            clinic.save(update_fields=["require_review_for_all_plans"])
            draft = services.plan_create(
                patient=patient, by=clinician, engine_input=baclofen(tomorrow, 6)
            )
            services.plan_submit(plan=draft, by=clinician)
        elif i == 9:  # a hold waiting for a reviewer while the plan runs
            clinic.require_review_for_all_plans = True
            clinic.save(update_fields=["require_review_for_all_plans"])
            services.plan_revise(
                plan=plan, by=clinician, kind=RevisionKind.HOLD, from_date=tomorrow, days=7,
                note="Load test: hold a week",
            )
        elif i == 15:  # risk facts changed since the plan was approved
            services.patient_update(
                patient=patient, data={"creatinine_clearance_ml_min": 45}, by=clinician
            )
        elif i == 21:  # an abrupt-stop alert, handled and closed
            AbruptStopAlert.objects.create(
                plan=plan, reason=AlertReason.CONSECUTIVE_MISSED, since=now - dt.timedelta(days=2),
                raised_at=now - dt.timedelta(days=2), closed_at=now - dt.timedelta(days=1),
                closed_by=clinician,
            )
    finally:
        if clinic.require_review_for_all_plans != review_all:
            clinic.require_review_for_all_plans = review_all
            clinic.save(update_fields=["require_review_for_all_plans"])
    # Symptom check-ins: one patient in 25 moderate (symptoms rising), two mild.
    level = {13: CheckInLevel.MODERATE, 2: CheckInLevel.MILD, 17: CheckInLevel.MILD}.get(i)
    if level is not None and plan.status == PlanStatus.ACTIVE:
        CheckIn.objects.create(
            plan=plan, answered_at=now - dt.timedelta(hours=3), answers={"load_test": True},
            severe=False, level=level,
        )


def _id_tables() -> list[tuple[Any, str, Any]]:
    """Every table with an integer id: (model, table, pk column)."""
    from django.apps import apps
    from django.db import models

    tables = []
    for model in apps.get_models(include_auto_created=True):
        pk = model._meta.pk
        if isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField):
            tables.append((model, model._meta.db_table, pk.column))
    return tables


def _max_ids(cursor: Any) -> dict[str, int]:
    found = {}
    for _model, table, pk in _id_tables():
        cursor.execute(f'SELECT COALESCE(MAX("{pk}"), 0) FROM "{table}"')  # noqa: S608
        found[table] = cursor.fetchone()[0]
    return found


def _copy_block(cursor: Any, before: dict[str, int], after: dict[str, int], copies: int,
                first_n: int) -> int:
    """Copy every row written between the two snapshots (one block of patients and all
    that the services wrote for them) ``copies`` times in the database. Copy k's ids are
    the block's plus k × the block's span in each table, so every reference inside the
    block is moved by the span of the table it points to and every reference outside
    it (the clinic, its staff) is kept. Names, usernames and e-mail addresses are made
    from the patient's number; everything else is the block's, byte for byte."""
    from django.db import models

    spans = {t: (before[t], after[t] - before[t]) for t in after if after[t] > before[t]}
    if copies < 1 or not spans:
        return 0
    written = 0
    for model, table, pk in _id_tables():
        if table not in spans:
            continue
        lo, span = spans[table]

        def moved(column: str, target: str, *, lo: int = lo) -> str:
            if target not in spans:
                return f'"{column}"'
            t_lo, t_span = spans[target]
            return (f'CASE WHEN "{column}" > {t_lo} AND "{column}" <= {t_lo + t_span} '
                    f'THEN "{column}" + k * {t_span} ELSE "{column}" END')

        # simple_history's tables keep the original row's id in a plain column.
        original = getattr(model, "instance_type", None)
        columns, values = [], []
        for field in model._meta.local_concrete_fields:
            column = field.column
            if field.primary_key:
                value = f'"{column}" + k * {span}'
            elif isinstance(field, models.ForeignKey):
                value = moved(column, field.remote_field.model._meta.db_table)
            elif original is not None and column == original._meta.pk.column:
                value = moved(column, original._meta.db_table)
            else:
                value = f'"{column}"'
            columns.append(column)
            values.append(value)
        # The patient's number: its place in the clinic, the same in every table.
        if table in ("auth_user", "planner_patient", "planner_historicalpatient"):
            id_column = "id"
            source = "auth_user" if table == "auth_user" else "planner_patient"
            s_lo, s_span = spans[source]
            number = f'({first_n} + "{id_column}" + k * {s_span} - {s_lo} - 1)'
            overrides = (
                {"username": f"'load-patient-' || {number}"}
                if table == "auth_user"
                else {
                    "family_name": f"'Patient ' || lpad({number}::text, 5, '0')",
                    "email": f"'load-patient-' || {number} || '@example.org'",
                }
            )
            for column, expression in overrides.items():
                values[columns.index(column)] = expression
        column_list = ", ".join(f'"{c}"' for c in columns)
        cursor.execute(
            # Names from Django's own models, numbers from MAX(id): nothing from outside.
            f'INSERT INTO "{table}" ({column_list}) SELECT {", ".join(values)} '  # noqa: S608
            f'FROM "{table}" CROSS JOIN generate_series(1, {copies}) AS k '
            f'WHERE "{pk}" > {lo} AND "{pk}" <= {lo + span}'
        )
        written += cursor.rowcount
        sequence = f"pg_get_serial_sequence('\"{table}\"', '{pk}')"
        cursor.execute(f'SELECT setval({sequence}, (SELECT MAX("{pk}") FROM "{table}"))')  # noqa: S608
    return written


ZONES = ["Europe/London", "America/New_York", "Europe/Madrid", "America/Chicago"]


def seed(args: argparse.Namespace) -> dict[str, list[tuple[str, str]]]:
    """Fictional clinics, clinicians, reviewers and patients; returns the request list of
    each target. In each clinic the first BLOCK patients are made through the services
    (_template_patient), then copied in the database (_copy_block) to the clinic's size:
    ten thousand plans through the services took hours. Then a few open alerts, the
    feed addresses and the patients' sessions."""
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from planner.models import Clinic, Patient, PlanStatus, StaffMember, TaperPlan
    from planner.roles import Role
    from reminders import feeds
    from reminders.models import AbruptStopAlert, AlertReason

    groups = {role: Group.objects.get_or_create(name=role.value)[0] for role in Role}
    sessions: dict[str, list[str]] = {"clinic": [], "me": []}
    tokens: list[str] = []
    cookie_name = "sessionid"

    def login_cookie(user: User) -> str:
        client = Client()
        client.force_login(user)
        return f"{cookie_name}={client.cookies[cookie_name].value}"

    per_clinic = -(-max(1, args.size // args.clinics) // BLOCK) * BLOCK
    args.size = per_clinic * args.clinics
    patients: list[Patient] = []
    for c in range(args.clinics):
        clinic = Clinic.objects.create(name=f"Load Test Clinic {c + 1}")
        clinician = User.objects.create_user(username=f"load-clinician-{c + 1}")
        reviewer = User.objects.create_user(username=f"load-reviewer-{c + 1}")
        clinician.groups.add(groups[Role.CLINICIAN])
        reviewer.groups.add(groups[Role.REVIEWER])
        for staff in (clinician, reviewer):
            StaffMember.objects.create(user=staff, clinic=clinic)
        sessions["clinic"].append(login_cookie(clinician))
        ctx = {
            "clinician": clinician, "reviewer": reviewer, "today": timezone.now().date(),
            "User": User, "patient_group": groups[Role.PATIENT],
        }
        first_n = c * per_clinic
        with connection.cursor() as cursor:
            before = _max_ids(cursor)
        for i in range(BLOCK):
            _template_patient(ctx, clinic, first_n + i, i)
        with transaction.atomic(), connection.cursor() as cursor:
            after = _max_ids(cursor)
            rows = _copy_block(cursor, before, after, per_clinic // BLOCK - 1, first_n)
        print(f"clinic {c + 1}: {BLOCK} patients through the services, {rows:,} rows copied")
        clinic_patients = list(Patient.objects.filter(clinic=clinic).order_by("id"))
        patients += clinic_patients
        # A few open abrupt-stop alerts, whatever the clinic's size: the clinic handles
        # them (one in 25 patients has a closed one).
        running = list(
            TaperPlan.objects.filter(patient__clinic=clinic, status=PlanStatus.ACTIVE)
            .order_by("id")
            .values_list("id", flat=True)
        )
        now = timezone.now()
        for k, plan_id in enumerate(running[1 :: max(1, len(running) // 3)][:3]):
            AbruptStopAlert.objects.create(
                plan_id=plan_id, reason=AlertReason.NO_CONFIRMED_DOSE,
                since=now - dt.timedelta(hours=30 + k), raised_at=now - dt.timedelta(hours=6 + k),
            )
    # Sessions for 50 patients and feed addresses for 100, spread over every block: the
    # same number at every size, so that a sweep compares like with like.
    for patient in patients[:: max(1, len(patients) // 100)][:100]:
        tokens.append(feeds.feed_token_issue(patient=patient, by=None))
    for patient in patients[3 :: max(1, len(patients) // 50)][:50]:
        assert patient.user is not None
        sessions["me"].append(login_cookie(patient.user))
    connection.close()
    return {
        "clinic": [("/clinic/", cookie) for cookie in sessions["clinic"]],
        "me": [("/me/", cookie) for cookie in sessions["me"]],
        "calendar": [(f"/calendar/{token}.ics", "") for token in tokens],
    }


def analyze(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ANALYZE")


def wait_until_up(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=2) as answer:
                if answer.status == 200:
                    return
        except urllib.error.HTTPError:
            # An answer at all means gunicorn is up: /health/ says 503 here because no
            # Celery worker or dispatcher runs during the load test.
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer /health/ within 30 s")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def probe(port: int, path: str, cookie: str) -> int:
    """The status of one request, without following redirects."""
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with opener.open(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def cpu_seconds(gunicorn_pid: int, database: str) -> dict[int, tuple[str, float]]:
    """CPU time (user + system) so far of each gunicorn worker ("app") and each
    PostgreSQL backend serving ``database`` ("db"), by process id; empty where /proc
    cannot be read (not Linux, or PostgreSQL on another machine)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    found: dict[int, tuple[str, float]] = {}
    marker = f" {database} ".encode()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pid, ppid = int(entry.name), int(fields[1])
            used = (int(fields[11]) + int(fields[12])) / ticks
            if ppid == gunicorn_pid:
                found[pid] = ("app", used)
                continue
            # A backend's title: "postgres: USER DATABASE HOST(PORT) STATE".
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ") + b" "
            if title.startswith(b"postgres: ") and marker in title:
                found[pid] = ("db", used)
        except (OSError, ValueError, IndexError):
            continue
    return found


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
             kind: str) -> float | None:
    """Seconds of CPU the processes of one kind used between two readings; None if no
    such process was seen."""
    seen = [pid for pid, (k, _s) in after.items() if k == kind]
    if not seen:
        return None
    return sum(after[pid][1] - before.get(pid, (kind, 0.0))[1] for pid in seen)


def run_wrk(args: argparse.Namespace, target: Target, work: Path, seconds: int) -> Result:
    result = Result(target.name)
    statuses = {probe(args.port, path, cookie) for path, cookie in target.requests[:3]}
    if statuses != {200}:
        result.note = f"not measured: answered {', '.join(map(str, sorted(statuses)))}"
        return result
    targets_file = work / f"{target.name}.targets"
    targets_file.write_text("".join(f"{path}\t{cookie}\n" for path, cookie in target.requests))
    script = work / "load.lua"
    script.write_text(WRK_SCRIPT)
    database = database_name(args.database_url_now)
    cpu_before = cpu_seconds(args.gunicorn_pid, database)
    completed = subprocess.run(
        [
            "wrk",
            "--threads",
            str(min(2, args.connections)),
            "--connections",
            str(args.connections),
            "--duration",
            f"{seconds}s",
            "--timeout",
            "10s",
            "--script",
            str(script),
            f"http://127.0.0.1:{args.port}/",
        ],
        env={**os.environ, "WRK_TARGETS": str(targets_file)},
        capture_output=True,
        text=True,
        check=True,
    )
    cpu_after = cpu_seconds(args.gunicorn_pid, database)
    line = next(x for x in completed.stdout.splitlines() if x.startswith("WRK_RESULT "))
    data = json.loads(line.removeprefix("WRK_RESULT "))
    socket_errors = {k: data[k] for k in ("connect", "read", "write", "timeout") if data[k]}
    result.requests = data["requests"]
    result.rps = data["requests"] / (data["duration_us"] / 1e6)
    result.p50_ms = data["p50_us"] / 1000
    result.p95_ms = data["p95_us"] / 1000
    result.p99_ms = data["p99_us"] / 1000
    result.max_ms = data["max_us"] / 1000
    result.errors = data["not_200"] + sum(socket_errors.values())
    details = [f"{data['not_200']} not 200"] if data["not_200"] else []
    details += [f"{v} {k}" for k, v in socket_errors.items()]
    result.error_detail = ", ".join(details)
    if result.requests:
        for kind in ("app", "db"):
            used = cpu_used(cpu_before, cpu_after, kind)
            if used is not None:
                setattr(result, f"{kind}_cpu_ms", used * 1000 / result.requests)
    return result


def cpu(ms: float | None) -> str:
    return "?" if ms is None else f"{ms:.1f}"


def print_table(args: argparse.Namespace, results: list[Result], rounds: int = 1) -> None:
    print(
        f"\n{args.connections} connections, {args.duration} s per target"
        + (f" in {rounds} rounds" if rounds > 1 else "")
        + ", gunicorn 2 sync workers "
        f"(DEBUG=0), PostgreSQL; {args.size} patients with active plans in {args.clinics} "
        "clinics"
    )
    header = (
        f"{'target':<10} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'errors':>7} {'CPU ms/req: app':>16} {'db':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if r.note:
            print(f"{r.name:<10} {r.note}")
            continue
        print(
            f"{r.name:<10} {r.requests:>9,} {r.rps:>8.1f} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} "
            f"{r.p99_ms:>8.1f} {r.max_ms:>8.1f} {r.errors:>7} {cpu(r.app_cpu_ms):>16} "
            f"{cpu(r.db_cpu_ms):>5}"
            + (f"  ({r.error_detail})" if r.error_detail else "")
        )


@dataclass
class Server:
    """One size of the sweep: its database, its gunicorn and the requests of each target."""

    size: int
    database_url: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    requests: dict[str, list[tuple[str, str]]] | None = None


def size_database_url(url: str, size: int, sweep: bool) -> str:
    """A sweep gives each size a database of its own (taper_load_100, …)."""
    if not sweep:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database_name(url)}_{size}"))


def start_size(args: argparse.Namespace, server: Server) -> None:
    """A fresh database seeded with ``server.size`` patients, and gunicorn serving it."""
    args.size = server.size
    name = database_name(server.database_url)
    print(f"recreating database {name}; migrating; seeding {server.size} patients")
    recreate_database(server.database_url)
    env = {**os.environ, "DATABASE_URL": server.database_url}
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, env=env)
    os.environ["DATABASE_URL"] = server.database_url
    if "django" in sys.modules and getattr(sys.modules["django"], "apps", None) is not None:
        from django.db import connections

        # Seeding the next size in this process: the same server, another database.
        connections["default"].close()
        connections["default"].settings_dict["NAME"] = name
    started = time.monotonic()
    server.requests = seed(args)
    print(f"seeded {args.size} patients in {time.monotonic() - started:.0f} s")
    server.size = args.size
    # What autovacuum does soon after on a live database: without statistics the planner
    # takes a freshly seeded table for empty and picks nested loops.
    analyze(server.database_url)
    server.process = subprocess.Popen(
        [GUNICORN, "planner.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{server.port}",
         "--timeout", "30", "--log-level", "warning"],
        cwd=ROOT,
        start_new_session=True,
        env=env,
    )
    wait_until_up(server.port)
    # Every request once before measuring: the feed caches its body, the first request of
    # a session reads more (planner.middleware), and the worker loads its templates.
    for paths in server.requests.values():
        for path, cookie in paths:
            probe(server.port, path, cookie)


def stop_size(server: Server) -> None:
    if server.process is None:
        return
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


def combined(name: str, rounds: list[Result]) -> Result:
    """One target's rounds as one result: requests, errors and CPU added up; each
    percentile the median of the rounds' (wrk reports percentiles, not every latency)."""
    measured = [r for r in rounds if not r.note]
    if not measured:
        return Result(name, note=rounds[0].note)
    total = sum(r.requests for r in measured)

    def cpu_of(kind: str) -> float | None:
        values: list[float | None] = [getattr(r, f"{kind}_cpu_ms") for r in measured]
        if not total or any(v is None for v in values):
            return None
        return sum((v or 0.0) * r.requests for v, r in zip(values, measured, strict=True)) / total

    return Result(
        name,
        requests=total,
        rps=sum(r.rps for r in measured) / len(measured),
        p50_ms=statistics.median(r.p50_ms for r in measured),
        p95_ms=statistics.median(r.p95_ms for r in measured),
        p99_ms=statistics.median(r.p99_ms for r in measured),
        max_ms=max(r.max_ms for r in measured),
        errors=sum(r.errors for r in measured),
        error_detail="; ".join(r.error_detail for r in measured if r.error_detail),
        app_cpu_ms=cpu_of("app"),
        db_cpu_ms=cpu_of("db"),
    )


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    if urlsplit(args.database_url).hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("this load test runs against 127.0.0.1 only")
    names = [name.strip() for name in args.targets.split(",") if name.strip()]
    work = Path(tempfile.mkdtemp(prefix="taper-load-"))
    os.environ.update(production_env(args, work))
    sweep = len(args.patients) > 1
    rounds = args.rounds if args.rounds else (3 if sweep else 1)
    servers = [
        Server(size, size_database_url(args.database_url, size, sweep), args.port + i)
        for i, size in enumerate(args.patients)
    ]
    try:
        subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput"], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL)
        for server in servers:
            start_size(args, server)
        # Every size is measured in each round, in turn: load from other work on the
        # machine then falls on all sizes alike, and the ratios compare like with like.
        seconds = max(1, round(args.duration / rounds))
        measured: dict[int, dict[str, list[Result]]] = {s.size: {n: [] for n in names}
                                                        for s in servers}
        for number in range(1, rounds + 1):
            for server in servers:
                for name in names:
                    print(f"round {number}/{rounds}: {server.size} patients, {name} for "
                          f"{seconds} s")
                    assert server.requests is not None
                    assert server.process is not None
                    args.port, args.gunicorn_pid = server.port, server.process.pid
                    args.database_url_now = server.database_url
                    result = run_wrk(args, Target(name, server.requests[name]), work, seconds)
                    measured[server.size][name].append(result)
        runs: dict[int, list[Result]] = {}
        for server in servers:
            args.size = server.size
            runs[server.size] = [combined(n, measured[server.size][n]) for n in names]
            print_table(args, runs[server.size], rounds=rounds)
        if sweep:
            print(f"\nmedian (p50) against the smallest size, measured in this one run "
                  f"({rounds} rounds, the sizes in turn):")
            for line in sweep_ratios(runs):
                print(line)
        return 1 if any(r.errors for results in runs.values() for r in results) else 0
    finally:
        for server in servers:
            stop_size(server)
            if not args.keep_db:
                recreate_database(server.database_url, drop_only=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
