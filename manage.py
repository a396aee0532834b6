#!/usr/bin/env python
import os
import sys

# Commands that sign nothing and touch no database: they run without DEBUG=1 and
# without the production secrets (planner.settings reads this marker).
OFFLINE_COMMANDS = {"taper_plan"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planner.settings")
    if len(sys.argv) > 1 and sys.argv[1] in OFFLINE_COMMANDS:
        os.environ["TAPER_OFFLINE_COMMAND"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
