from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from planner.demo import demo_data_load


class Command(BaseCommand):
    help = "Load the fictional demo clinic, staff and patient, and print their log-ins."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Load the demo accounts even with DEBUG off (a demo server only).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "Refusing to create demo accounts with known passwords while DEBUG is off; "
                "pass --allow-production on a demonstration server."
            )
        logins = demo_data_load()
        self.stdout.write("Demo data loaded (all fictional). Log in at http://127.0.0.1:8000/")
        for login in logins:
            self.stdout.write(f"  {login.role:<28} {login.username:<10} {login.password}")
