"""`manage.py taper_plan --input FILE`: plan a taper from a JSON file without the database.

A thin wrapper: reading the file and printing are here, everything else is `taper`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

import taper
from reminders import ical

# A plan input is a few hundred bytes; anything this large is a mistake or an attack.
MAX_INPUT_BYTES = 1_000_000


class Command(BaseCommand):
    help = "Print the taper plan for a JSON input (docs/plan-json.md). Touches no database."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", help="JSON input file, or - for standard input")
        parser.add_argument("--format", choices=["table", "json", "ics"], default="table")
        parser.add_argument(
            "--detailed-titles",
            action="store_true",
            help="ics: put the drug and dose in event titles (default: 'Medication dose')",
        )
        parser.add_argument(
            "--list-products", action="store_true", help="print the product catalogue"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list_products"]:
            self.stdout.write(taper.catalogue_to_text())
            return
        if not options["input"]:
            raise CommandError("Give --input FILE (or - for standard input), or --list-products.")
        as_json = options["format"] == "json"
        try:
            data = self._read(options["input"])
            plan = taper.plan(taper.parse_request(data))
        except taper.InvalidPlanInput as refusal:
            self._refuse(refusal.errors, as_json)
        except _InputError as problem:
            self._refuse({"input": [str(problem)]}, as_json)
        if options["format"] == "ics":
            # No database, so no revision time: the plan's start (00:00 UTC) stands in as
            # the time of the last change, which keeps the output the same on every run.
            changed_at = dt.datetime.combine(plan.start_date, dt.time(), tzinfo=dt.UTC)
            body = ical.calendar_for_engine_plan(
                plan, changed_at=changed_at, detailed=options["detailed_titles"]
            )
            self.stdout.write(body.decode(), ending="")
        elif as_json:
            self.stdout.write(json.dumps(taper.plan_to_json(plan), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(taper.plan_to_text(plan))

    def _read(self, source: str) -> Any:
        try:
            if source == "-":
                raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
            else:
                with open(source, "rb") as handle:
                    raw = handle.read(MAX_INPUT_BYTES + 1)
        except OSError as error:
            raise _InputError(f"Cannot read {source}: {error.strerror}.") from None
        if len(raw) > MAX_INPUT_BYTES:
            raise _InputError(f"The input is larger than {MAX_INPUT_BYTES:,} bytes.")
        try:
            return json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as error:
            raise _InputError(f"The input is not valid JSON: {error}.") from None

    def _refuse(self, errors: dict[str, list[str]], as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps({"errors": errors}, indent=2, ensure_ascii=False))
            raise SystemExit(2)
        lines = [f"{field}: {msg}" for field, messages in errors.items() for msg in messages]
        raise CommandError("The input was refused:\n  " + "\n  ".join(lines), returncode=2)


class _InputError(Exception):
    pass


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")
