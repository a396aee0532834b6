"""`manage.py push_dev_keys`: a VAPID key pair for development, so `make run` can send
Web Push without any set-up. Written once to var/ (git-ignored) and kept; settings read
it only with DEBUG on and no VAPID_* variables set. Production sets its own keys
(docs/deployment.md), made with `--print`."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from reminders.push import vapid_keys_generate


class Command(BaseCommand):
    help = (
        "Write development VAPID keys to var/vapid-dev.json unless they exist; with "
        "--print, print a new pair as environment variables (production) and write nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--print", action="store_true", dest="print_only")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["print_only"]:
            keys = vapid_keys_generate()
            self.stdout.write(f"VAPID_PUBLIC_KEY={keys['public']}")
            self.stdout.write(f"VAPID_PRIVATE_KEY={keys['private']}")
            return
        path = settings.VAPID_DEV_KEYS_FILE
        if path.exists():
            self.stdout.write(f"Development VAPID keys already in {path}.")
            return
        path.write_text(json.dumps(vapid_keys_generate()))
        path.chmod(0o600)
        self.stdout.write(f"Wrote development VAPID keys to {path}.")
