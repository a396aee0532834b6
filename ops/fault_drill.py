"""`python -m ops fault_drill`: reminders due now are dispatched by a real Celery worker while
the worker is SIGKILLed, Redis is restarted and PostgreSQL is restarted; prints due,
delivered, lost and duplicated for each fault. The logic is in ops/drill.py.

It restarts this machine's own Redis and PostgreSQL (override the commands with the
options) and makes sure both answer again when it exits. Run it against a database of
its own (docs/reliability.md, "Fault drill").
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from ops import drill


class Command(BaseCommand):
    help = "Kill the worker, restart Redis, restart PostgreSQL while reminders are dispatched."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--faults",
            default=",".join(drill.FAULTS),
            help="comma-separated, in order: kill, redis, postgres (default: all three)",
        )
        parser.add_argument("--reminders", type=int, default=1000, help="due per fault")
        parser.add_argument("--outage", type=float, default=5.0, help="seconds a service is down")
        parser.add_argument(
            "--claim-timeout",
            type=int,
            default=10,
            help="REMINDER_CLAIM_TIMEOUT_SECONDS for the drill's dispatcher (production: 300)",
        )
        parser.add_argument("--phase-timeout", type=float, default=90.0)
        for name, what in (
            ("redis-stop", "stop Redis"),
            ("redis-start", "start Redis"),
            ("postgres-stop", "stop PostgreSQL"),
            ("postgres-start", "start PostgreSQL"),
        ):
            parser.add_argument(f"--{name}", default="", help=f"command to {what}")

    def handle(self, *args: Any, **options: Any) -> None:
        broker = settings.CELERY_BROKER_URL
        if connection.vendor != "postgresql" or not broker.startswith(("redis://", "rediss://")):
            raise CommandError(
                "The fault drill needs PostgreSQL and Redis: run it with "
                "DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://... "
                "(docs/reliability.md, 'Fault drill')."
            )
        faults = tuple(f.strip() for f in options["faults"].split(",") if f.strip())
        unknown = set(faults) - set(drill.FAULTS)
        if unknown or not faults:
            raise CommandError(f"--faults takes {', '.join(drill.FAULTS)}")
        if not 0 < options["outage"] <= 25:
            raise CommandError("--outage must be more than 0 and at most 25 seconds")
        services = drill.Services.from_urls(
            broker,
            redis_stop=shlex.split(options["redis_stop"]),
            redis_start=shlex.split(options["redis_start"]),
            postgres_stop=shlex.split(options["postgres_stop"]),
            postgres_start=shlex.split(options["postgres_start"]),
        )
        say = self.stdout.write
        # Both services must answer before the drill and again when it exits.
        with (
            tempfile.TemporaryDirectory(prefix="fault-drill-") as work,
            drill.services_restored(services, say),
        ):
            if not all(services.ensure_running().values()):
                raise CommandError("Redis or PostgreSQL does not answer; not starting")
            results = drill.Drill(
                drill.DrillOptions(
                    broker_url=broker,
                    database=drill.database_url(),
                    work_dir=Path(work),
                    services=services,
                    faults=faults,
                    reminders=options["reminders"],
                    outage_seconds=options["outage"],
                    claim_timeout=options["claim_timeout"],
                    phase_timeout=options["phase_timeout"],
                    say=say,
                )
            ).run()
        say("")
        for line in drill.results_table(results):
            say(line)
        for result in results:
            if result.web_after:
                say(f"web request after the {result.fault} restart: {result.web_after}")
        say(
            "lost = due but never delivered; duplicated = delivered more than once "
            "(bounded by what was in flight)."
        )
        if any(r.lost for r in results):
            raise CommandError("reminders were lost")
