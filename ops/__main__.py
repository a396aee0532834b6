"""`python -m ops NAME [options]`: run one of the operations commands (ops/NAME.py, a
Django management command class) with the site's settings, as manage.py would."""

from __future__ import annotations

import importlib
import os
import sys

COMMANDS = ("fault_drill", "bench_reminders", "bench_calendar")


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m ops {{{','.join(COMMANDS)}}} [options]")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planner.settings")
    import django

    django.setup()
    name = argv[1]
    command = importlib.import_module(f"ops.{name}").Command()
    command.run_from_argv([f"python -m ops {name}", name, *argv[2:]])


if __name__ == "__main__":
    main(sys.argv)
