"""`manage.py api_token USERNAME [--rotate | --revoke]`: a staff member's API token."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api import tokens


class Command(BaseCommand):
    help = "Print a clinic staff member's API token (issued if needed), or rotate/revoke it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--rotate", action="store_true", help="replace the token")
        action.add_argument("--revoke", action="store_true", help="delete the token")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError("No such user.")
        if options["revoke"]:
            revoked = tokens.token_revoke(user=user)
            self.stdout.write("Token revoked." if revoked else "The user had no token.")
            return
        try:
            key = tokens.token_issue(user=user, rotate=options["rotate"])
        except ValidationError as refusal:
            raise CommandError(" ".join(refusal.messages)) from None
        self.stdout.write(key)
