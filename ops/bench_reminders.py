"""`python -m ops bench_reminders`: reminder delivery on PostgreSQL + Redis with 2 worker
processes and a null channel, against the naive one-ETA-task-per-reminder design.

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
from reminders.models import Reminder, ReminderKind, ReminderStatus
from reminders.tasks import enqueue_deliveries

ROOT = Path(settings.BASE_DIR)
BENCH_CLINIC = "Benchmark clinic (bench_reminders)"


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

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
            raise CommandError(
                "Run with DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://..."
            )
        self._cleanup()
        plans = self._plans(options["plans"])
        try:
            ours = self._delivery(plans, options["reminders"], naive=False)
            naive = (
                None
                if options["skip_naive"]
                else self._delivery(plans, options["reminders"], naive=True)
            )
            small = self._tick_time(plans, 10_000)
            large = self._tick_time(plans, options["large"])
        finally:
            self._cleanup()
        self._report(options["reminders"], ours, naive, small, large, options["large"])

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
        Reminder.objects.bulk_create(
            (
                Reminder(
                    plan=plans[i % len(plans)],
                    kind=ReminderKind.CHECK_IN,
                    key=f"{tag}-{i}",
                    due_at=due,
                )
                for i in range(count)
            ),
            batch_size=5000,
        )

    def _cleanup(self) -> None:
        clinic_data_delete(BENCH_CLINIC, ["bench-reminders-author"])

    # --- delivery --------------------------------------------------------------------

    def _worker(self) -> subprocess.Popen[bytes]:
        return start_worker(
            settings.CELERY_BROKER_URL,
            Path(settings.VAR_DIR) / "bench-worker.log",
            pool="prefork",
            concurrency=2,
            extra_env={"REMINDER_CHANNELS": "reminders.channels.NullChannel"},
            extra_args=("--include", "ops.naive", "--prefetch-multiplier", "4"),
            loglevel="WARNING",
        )

    def _delivery(self, plans: list[TaperPlan], count: int, *, naive: bool) -> dict[str, float]:
        Reminder.objects.filter(plan__in=plans).delete()
        due = timezone.now() + dt.timedelta(seconds=20 if naive else 10)
        tag = "naive" if naive else "rows"
        self._rows(plans, count, due, tag)
        ids = list(Reminder.objects.filter(plan__in=plans).values_list("id", flat=True))
        worker = self._worker()
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
            while time.monotonic() < deadline:
                done = Reminder.objects.filter(id__in=ids, status=ReminderStatus.SENT).count()
                if done == count:
                    break
                time.sleep(0.5)
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
        ours: dict[str, float],
        naive: dict[str, float] | None,
        small: float,
        large: float,
        large_rows: int,
    ) -> None:
        w = self.stdout.write
        w(f"\n{count:,} reminders due in the same minute; 2 worker processes; null channel\n")
        w(
            f"{'design':<34} {'delivered':>10} {'per second':>11} {'p50 late s':>11} "
            f"{'p99 late s':>11}"
        )
        rows = [("database rows + dispatcher", ours)]
        if naive:
            rows.append(("one ETA task per reminder (naive)", naive))
        for name, r in rows:
            w(
                f"{name:<34} {r['delivered']:>10,.0f} {r['per_second']:>11.0f} {r['p50']:>11.2f} "
                f"{r['p99']:>11.2f}"
            )
        if naive:
            w(f"\nspeed-up over the naive design: {ours['per_second'] / naive['per_second']:.1f} ×")
        w(
            f"\ndispatcher tick, median of 15: {small:.1f} ms with 10,000 pending rows, "
            f"{large:.1f} ms with {large_rows:,} ({large / small:.2f} ×)"
        )
