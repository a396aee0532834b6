"""The three kinds of user, as Django groups (DESIGN.md: "Roles and object access")."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db import models


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    REVIEWER = "reviewer", "Reviewer"
    PATIENT = "patient", "Patient"


def has_role(user: User | AnonymousUser, role: Role) -> bool:
    """Whether the user is in the role's group. The user's groups are read once per user
    object (one object per request: a page that asks three times asks the database once;
    the next request reads them again)."""
    if not user.is_authenticated:
        return False
    names: frozenset[str] | None = getattr(user, "_role_names", None)
    if names is None:
        names = frozenset(user.groups.values_list("name", flat=True))
        user._role_names = names  # type: ignore[attr-defined]
    return role.value in names
