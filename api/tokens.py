"""API tokens for other systems (an EHR's interface engine), one per staff account.

The token acts as the staff member it belongs to: it sees that person's clinic only.
It is printed once when issued; rotate it when it may have leaked, revoke it when the
system is retired. Nothing here writes a token to a log.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from planner.models import StaffMember


@transaction.atomic
def token_issue(*, user: User, rotate: bool = False) -> str:
    """The user's token: a new one when they have none or `rotate` is set."""
    if not StaffMember.objects.filter(user=user).exists() or not user.is_active:
        raise ValidationError({"user": "API tokens are for active clinic staff only."})
    if rotate:
        Token.objects.filter(user=user).delete()
    token, _ = Token.objects.get_or_create(user=user)
    return str(token.key)


@transaction.atomic
def token_revoke(*, user: User) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted > 0
