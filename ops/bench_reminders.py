"""`python -m ops bench_reminders`: reminder delivery on PostgreSQL + Redis with 4 worker
processes as deployed (production settings, DEBUG off; `--concurrency`), through each
channel in one run, against the naive one-ETA-task-per-reminder design. The reminders
are dose reminders (what patients get at the top of the hour: the amount to take and
four signed action links), each of its own dose:

- null: the dispatcher's own cost (rendering, claiming, recording), nothing sent;
- smtp: real SMTP to a mail server on 127.0.0.1 (aiosmtpd, tests/support/standins.py),
  one connection per delivery batch;
- push: real Web Push (RFC 8291 encryption, VAPID signatures) to the push-service
  stand-in on 127.0.0.1, over kept-alive HTTP connections; it decrypts and checks one
  notification in `--push-check-every` (all of them cost CPU this machine shares).

It creates its own clinic, plans and rows, and deletes them at the end. Run it against
a database you can spare (see README, "Benchmarks").
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from ops.drill import clinic_data_delete, start_worker
from ops.naive import deliver_at_eta
from planner.models import Clinic, Patient, PlanRevision, PlanStatus, Regimen, TaperPlan
from reminders import dispatch
from reminders.models import (
    Delivery,
    Dose,
    Notice,
    PushSubscription,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from reminders.push import vapid_keys_generate
from reminders.tasks import enqueue_deliveries
from tests.support.standins import push_stand_in, smtp_stand_in

ROOT = Path(settings.BASE_DIR)
BENCH_CLINIC = "Benchmark clinic (bench_reminders)"
CHANNELS = {
    "null": "reminders.channels.NullChannel",
    "smtp": "reminders.channels.EmailChannel",
    "push": "reminders.channels.PushChannel",
}


def _vacuum() -> None:
    """VACUUM ANALYZE the tables each run fills and empties. Every run deletes and writes
    tens of thousands of rows (the tick's, a million); a server without autovacuum (this
    machine's PostgreSQL runs with it off) let 3.3 million dead reminder rows pile up over
    a few runs, and PostgreSQL's CPU during the e-mail run went from 4.6 to 11 s. Each run
    now starts from the state autovacuum keeps a production server in."""
    tables = [model._meta.db_table for model in (Reminder, Dose, Delivery, Notice)]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Measure reminder delivery and the dispatcher tick; compare with one ETA task each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reminders", type=int, default=20_000)
        parser.add_argument("--plans", type=int, default=200)
        parser.add_argument(
            "--large",
            type=int,
            default=1_000_000,
            help="pending rows for the large dispatcher-tick measurement",
        )
        parser.add_argument("--skip-naive", action="store_true")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=4,
            help="worker processes (deploy/systemd/taper-worker@.service runs 4)",
        )
        parser.add_argument(
            "--channels",
            default="null,smtp,push",
            help="comma-separated, of: " + ", ".join(CHANNELS),
        )
        parser.add_argument(
            "--push-check-every",
            type=int,
            default=50,
            help="the push stand-in decrypts and verifies one notification in this many",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.concurrency = options["concurrency"]
        if self.concurrency < 1:
            raise CommandError("--concurrency: at least 1 worker process")
        if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
            raise CommandError(
                "Run with DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://..."
            )
        channels = [name.strip() for name in options["channels"].split(",") if name.strip()]
        unknown = sorted(set(channels) - set(CHANNELS))
        if unknown or not channels:
            raise CommandError(f"--channels: unknown {unknown}; choose from {sorted(CHANNELS)}")
        self._cleanup()
        plans = self._plans(options["plans"])
        count = options["reminders"]
        try:
            ours = {
                channel: self._through(channel, plans, count, options["push_check_every"])
                for channel in channels
            }
            naive = None if options["skip_naive"] else self._delivery(plans, count, naive=True)
            small = self._tick_time(plans, 10_000)
            large = self._tick_time(plans, options["large"])
        finally:
            self._cleanup()
        self._report(count, ours, naive, small, large, options["large"])

    def _through(
        self, channel: str, plans: list[TaperPlan], count: int, check_every: int
    ) -> dict[str, float]:
        """One delivery run through one channel, its stand-in serving on 127.0.0.1."""
        env = {"REMINDER_CHANNELS": CHANNELS[channel]}
        if channel == "smtp":
            with smtp_stand_in(keep=False) as smtp:
                env.update(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                           EMAIL_HOST=smtp.host, EMAIL_PORT=str(smtp.port), EMAIL_USE_TLS="0")
                result = self._delivery(plans, count, naive=False, env=env)
                result["received"] = smtp.received
                result["connections"] = len(smtp.sessions)
                return result
        if channel == "push":
            with self._push_subscribed(plans, check_every) as push:
                keys = vapid_keys_generate()
                env.update(VAPID_PUBLIC_KEY=keys["public"], VAPID_PRIVATE_KEY=keys["private"])
                result = self._delivery(plans, count, naive=False, env=env)
                result["received"] = push.accepted
                result["errors"] = len(push.errors)
                return result
        return self._delivery(plans, count, naive=False, env=env)

    @contextmanager
    def _push_subscribed(self, plans: list[TaperPlan], check_every: int) -> Iterator[Any]:
        with push_stand_in() as push:
            push.check_every = check_every
            PushSubscription.objects.bulk_create(
                PushSubscription(
                    patient_id=plan.patient_id,
                    endpoint=(sub := push.subscription())["endpoint"],
                    p256dh=sub["keys"]["p256dh"],
                    auth=sub["keys"]["auth"],
                    device_name="bench",
                    created_at=timezone.now(),
                )
                for plan in plans
            )
            try:
                yield push
            finally:
                PushSubscription.objects.filter(patient__clinic__name=BENCH_CLINIC).delete()

    # --- data ------------------------------------------------------------------------

    def _plans(self, count: int) -> list[TaperPlan]:
        clinic = Clinic.objects.create(name=BENCH_CLINIC)
        author = User.objects.create_user(username="bench-reminders-author")
        plans = []
        for i in range(count):
            patient = Patient.objects.create(
                clinic=clinic,
                given_name="Bench",
                family_name=f"Patient {i}",
                sex="female",
                date_of_birth=dt.date(1970, 1, 1),
                home_timezone="UTC",
                email="bench@example.org",  # null channel: nothing is sent
            )
            regimen = Regimen.objects.create(
                patient=patient,
                product="baclofen-oral-tablet",
                months_on_therapy=1,
                created_by=author,
            )
            plan = TaperPlan.objects.create(
                patient=patient, drug="baclofen", created_by=author, status=PlanStatus.ACTIVE
            )
            revision = PlanRevision.objects.create(
                plan=plan,
                number=1,
                kind="initial",
                regimen=regimen,
                engine_input={},
                engine_output={},
                protocol_id="bench",
                protocol_version="0",
                requires_review=False,
                start_date=dt.date.today(),
                end_date=dt.date.today(),
                effective_from=dt.date.today(),
                created_by=author,
            )
            plan.current_revision = revision
            plan.save(update_fields=["current_revision"])
            plans.append(plan)
        return plans

    def _rows(self, plans: list[TaperPlan], count: int, due: dt.datetime, tag: str) -> None:
        """`count` dose reminders due at `due`, what patients get at the top of the hour:
        each of its own dose, which stores what to take as planner.doses writes it, and
        carries the four signed action links."""
        Dose.objects.filter(plan__in=plans).delete()
        _vacuum()
        revisions = [plan.current_revision for plan in plans]
        doses = Dose.objects.bulk_create(
            (
                Dose(
                    plan=plans[i % len(plans)],
                    revision=revisions[i % len(plans)],
                    # One dose per plan and day: the plans' doses lie on distinct days.
                    local_date=due.date() - dt.timedelta(days=i // len(plans)),
                    local_time=due.time().replace(second=0, microsecond=0),
                    timezone="UTC",
                    due_at=due,
                    catch_up_until=due + dt.timedelta(hours=3),
                    amount_mg=Decimal("7.5"),
                    units_text="1 × 5 mg + ½ × 5 mg",
                    role="morning",
                    what_to_take={
                        "product": "baclofen-oral-tablet",
                        "units": [{"strength_mg": 5, "count": 1.5}],
                        "changes_today": False,
                    },
                )
                for i in range(count)
            ),
            batch_size=5000,
        )
        Reminder.objects.bulk_create(
            (
                Reminder(
                    plan_id=dose.plan_id,
                    dose=dose,
                    kind=ReminderKind.DOSE,
                    key=f"{tag}-{i}",
                    due_at=due,
                )
                for i, dose in enumerate(doses)
            ),
            batch_size=5000,
        )

    def _cleanup(self) -> None:
        clinic_data_delete(BENCH_CLINIC, ["bench-reminders-author"])

    # --- delivery --------------------------------------------------------------------

    def _worker(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        return start_worker(
            settings.CELERY_BROKER_URL,
            Path(settings.VAR_DIR) / "bench-worker.log",
            pool="prefork",
            concurrency=self.concurrency,
            # Production settings: DEBUG off (no query log, no template debugging).
            extra_env={"DEBUG": "0", "SECRET_KEY": os.urandom(32).hex(), **env},
            extra_args=("--include", "ops.naive", "--prefetch-multiplier", "4"),
            loglevel="WARNING",
        )

    def _delivery(
        self,
        plans: list[TaperPlan],
        count: int,
        *,
        naive: bool,
        env: dict[str, str] | None = None,
    ) -> dict[str, float]:
        Reminder.objects.filter(plan__in=plans).delete()
        due = timezone.now() + dt.timedelta(seconds=20 if naive else 10)
        tag = "naive" if naive else "rows"
        self._rows(plans, count, due, tag)
        ids = list(Reminder.objects.filter(plan__in=plans).values_list("id", flat=True))
        worker = self._worker(env or {"REMINDER_CHANNELS": CHANNELS["null"]})
        try:
            time.sleep(5)  # the worker starts
            if naive:
                for reminder_id in ids:
                    deliver_at_eta.apply_async((reminder_id,), eta=due)
            while timezone.now() < due:
                time.sleep(0.05)
            if not naive:
                # Beat's tick at the due minute.
                dispatch.dispatch_tick(
                    now=timezone.now(), enqueue=enqueue_deliveries, budget=dt.timedelta(seconds=50)
                )
            deadline = time.monotonic() + 600
            # One count a second: the watching takes little of the CPU the workers share.
            settled = Reminder.objects.filter(due_at=due).exclude(
                status__in=[ReminderStatus.PENDING, ReminderStatus.SENDING]
            )
            while time.monotonic() < deadline and settled.count() < count:
                time.sleep(1)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        sent = list(
            Reminder.objects.filter(id__in=ids, status=ReminderStatus.SENT).values_list(
                "sent_at", flat=True
            )
        )
        lateness = [(moment - due).total_seconds() for moment in sent if moment is not None]
        span = max(lateness) if lateness else float("nan")
        return {
            "delivered": len(sent),
            "per_second": len(sent) / span if span > 0 else float("nan"),
            "p50": _percentile(lateness, 50) if lateness else float("nan"),
            "p99": _percentile(lateness, 99) if lateness else float("nan"),
        }

    # --- dispatcher tick ----------------------------------------------------------------

    def _tick_time(self, plans: list[TaperPlan], pending: int) -> float:
        Reminder.objects.filter(plan__in=plans).delete()
        _vacuum()
        future = timezone.now() + dt.timedelta(days=30)
        with connection.cursor() as cursor:
            # Fast bulk insert of pending rows due later (not claimed by the tick).
            cursor.execute(
                """
                INSERT INTO reminders_reminder
                    (plan_id, kind, recipient, key, due_at, status, attempts, last_error,
                     context, created_at)
                SELECT %s, 'check_in', 'patient', 'pending-' || g, %s, 'pending', 0, '',
                       '{}'::jsonb, now()
                FROM generate_series(1, %s) AS g
                """,
                [plans[0].pk, future, pending],
            )
            cursor.execute("ANALYZE reminders_reminder")
        self._rows(plans, 100, timezone.now() - dt.timedelta(seconds=1), f"due-{pending}")
        times = []
        for _ in range(15):
            Reminder.objects.filter(key__startswith=f"due-{pending}").update(
                status=ReminderStatus.PENDING, claim_token=None
            )
            started = time.perf_counter()
            dispatch.dispatch_tick(now=timezone.now(), enqueue=lambda ids, claim: None)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    def _report(
        self,
        count: int,
        ours: dict[str, dict[str, float]],
        naive: dict[str, float] | None,
        small: float,
        large: float,
        large_rows: int,
    ) -> None:
        w = self.stdout.write
        w(
            f"\n{count:,} dose reminders due in the same minute; {self.concurrency} worker "
            "processes (DEBUG off)\n"
        )
        w(
            f"{'design, channel':<40} {'delivered':>10} {'per second':>11} {'p50 late s':>11} "
            f"{'p99 late s':>11}  received by the stand-in"
        )
        rows = [(f"database rows + dispatcher, {name}", r) for name, r in ours.items()]
        if naive:
            rows.append(("one ETA task per reminder (naive), null", naive))
        for name, r in rows:
            extra = ""
            if "received" in r:
                extra = f"  {r['received']:,.0f}"
                if "connections" in r:
                    extra += f" through {r['connections']:,.0f} SMTP connections"
                if "errors" in r:
                    extra += f", {r['errors']:,.0f} failed decryption or VAPID checks"
            w(
                f"{name:<40} {r['delivered']:>10,.0f} {r['per_second']:>11.0f} "
                f"{r['p50']:>11.2f} {r['p99']:>11.2f}{extra}"
            )
        if naive and "null" in ours:
            speed_up = ours["null"]["per_second"] / naive["per_second"]
            w(f"\nspeed-up over the naive design (null channel): {speed_up:.1f} ×")
        w(
            f"\ndispatcher tick, median of 15: {small:.1f} ms with 10,000 pending rows, "
            f"{large:.1f} ms with {large_rows:,} ({large / small:.2f} ×)"
        )
