"""`manage.py api_token USERNAME [--rotate | --revoke]`: a staff member's API token."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api import tokens


class Command(BaseCommand):
    help = (
        "Issue a clinic staff member a new API token (printed once: only its digest is "
        "kept), or rotate or revoke their tokens."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--rotate", action="store_true", help="revoke the user's tokens, then issue one"
        )
        action.add_argument("--revoke", action="store_true", help="revoke all the user's tokens")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError("username: no such user.")
        if options["revoke"]:
            revoked = tokens.token_revoke(user=user)
            self.stdout.write(f"{revoked} token(s) revoked.")
            return
        try:
            issued = tokens.token_issue(user=user, rotate=options["rotate"])
        except ValidationError as refusal:
            raise CommandError("username: " + " ".join(refusal.messages)) from None
        # The key alone on stdout, so a script can capture it; the advice on stderr.
        self.stdout.write(issued.key)
        expiry = issued.expires_at.date().isoformat() if issued.expires_at else "never"
        self.stderr.write(f"Shown only now; store it in the other system. Expires: {expiry}.")
