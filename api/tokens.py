"""API tokens for other systems (an EHR's interface engine), issued to staff accounts.

A token acts as the staff member it belongs to: it sees that person's clinic only.
Only its digest is stored (django-rest-knox), so it is printed once when issued and can
never be shown again; it expires after API_TOKEN_TTL_DAYS. A member may hold several
(one per connected system); rotating revokes the others. Nothing here logs a token.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from knox.models import AuthToken

from planner.models import StaffMember


@dataclass(frozen=True)
class IssuedToken:
    key: str  # shown once; only its digest is kept
    expires_at: dt.datetime | None


@transaction.atomic
def token_issue(*, user: User, rotate: bool = False) -> IssuedToken:
    """A new token for the user; with `rotate`, their other tokens stop working."""
    if not user.is_active or not StaffMember.objects.filter(user=user).exists():
        raise ValidationError({"user": "API tokens are for active clinic staff only."})
    if rotate:
        AuthToken.objects.filter(user=user).delete()
    instance, key = AuthToken.objects.create(user=user)
    return IssuedToken(key=key, expires_at=instance.expiry)


@transaction.atomic
def token_revoke(*, user: User) -> int:
    """Revoke every token of the user; returns how many there were."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return int(deleted)
