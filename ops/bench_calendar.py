"""`python -m ops bench_calendar`: how fast the calendar feed answers, for a 12-week plan
with 4 doses a day. Everything it creates is rolled back.

`python -m ops bench_calendar --long` (issue #22, target under 50 ms for the render): the
same patient also on a year of 2-week diazepam steps (ops/bench_taper_drugs.py's plan,
from the baclofen plan's first day): both plans in one feed."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.test import Client
from django.urls import reverse

from planner import services
from planner.engine_input import patient_facts
from planner.models import Clinic, Patient
from reminders import feeds


class _Rollback(Exception):
    pass


def _timed(action: Callable[[], Any], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per run: on a shared machine the CPU time of this
    process is the steadier figure (the wall clock also counts waiting for a core)."""
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        action()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return times, cpu


class Command(BaseCommand):
    help = "Measure the calendar feed: full render, cached 200, and 304 (ms per request)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--runs", type=int, default=50)
        parser.add_argument(
            "--long", action="store_true",
            help="add a year of 2-week diazepam steps: two plans in one feed",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                self._measure(options["runs"], long=options["long"])
                raise _Rollback
        except _Rollback:
            pass

    def _measure(self, runs: int, *, long: bool = False) -> None:
        clinic = Clinic.objects.create(name="Benchmark clinic (rolled back)")
        author = User.objects.create_user(username="bench-author-rolled-back")
        patient = Patient.objects.create(
            clinic=clinic,
            given_name="Bench",
            family_name="Mark",
            sex="female",
            date_of_birth=dt.date(1970, 1, 1),
            home_timezone="America/New_York",
        )
        start = dt.date(2027, 3, 1)
        data = {
            "product": "baclofen-oral-tablet",
            "doses": [{"time": t, "amount_mg": 20} for t in ("08:00", "12:00", "16:00", "21:00")],
            "start_date": start.isoformat(),
            "timezone": patient.home_timezone,
            "goal": {"type": "discontinue"},
            "patient": patient_facts(patient, start, months_on_therapy=12),
            "pace": {"length_days": 84},
        }
        plan = services.plan_create(patient=patient, by=author, engine_input=data)
        services.plan_activate(plan=plan, by=author)
        label = "12-week plan, 4 doses a day"
        if long:
            self._add_year_of_diazepam(patient, author, start)
            label += " + a year of 2-week diazepam steps, 4 doses a day"
        token = feeds.feed_token_issue(patient=patient, by=None)
        url = reverse("calendar_feed", args=[token])
        client = Client(HTTP_HOST="127.0.0.1")
        first = client.get(url)
        etag = first["ETag"]
        events = first.content.count(b"BEGIN:VEVENT")

        def cold() -> None:
            cache.clear()
            assert client.get(url).status_code == 200

        def warm() -> None:
            assert client.get(url).status_code == 200

        def not_modified() -> None:
            assert client.get(url, headers={"if-none-match": etag}).status_code == 304

        rows = [
            ("render (cache empty)", _timed(cold, runs)),
            ("200 from cache", _timed(warm, runs)),
            ("304 Not Modified", _timed(not_modified, runs)),
        ]
        self.stdout.write(
            f"{label}: {len(first.content):,} bytes, {events} events; "
            f"{runs} requests each through Django's test client"
        )
        self.stdout.write(f"{'request':<22} {'median ms':>10} {'p95 ms':>8} {'median CPU ms':>14}")
        for name, (times, cpu) in rows:
            p95 = statistics.quantiles(times, n=20)[-1]
            self.stdout.write(
                f"{name:<22} {statistics.median(times):>10.2f} {p95:>8.2f} "
                f"{statistics.median(cpu):>14.2f}"
            )

    def _add_year_of_diazepam(self, patient: Patient, author: User, start: dt.date) -> None:
        from ops.bench_taper_drugs import A_YEAR_OF_TWO_WEEK_STEPS

        data = {
            **A_YEAR_OF_TWO_WEEK_STEPS,
            "start_date": start.isoformat(),
            "timezone": patient.home_timezone,
            "patient": patient_facts(patient, start, months_on_therapy=6),
        }
        plan = services.plan_create(patient=patient, by=author, engine_input=data)
        if plan.requires_review:
            reviewer = User.objects.create_user(username="bench-reviewer-rolled-back")
            services.plan_submit(plan=plan, by=author)
            services.plan_approve(plan=plan, by=reviewer)
        services.plan_activate(plan=plan, by=author)
