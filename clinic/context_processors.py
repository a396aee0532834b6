"""Template context for every page."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from clinic import selectors
from planner.roles import Role, has_role
from reminders import health


def _banner_for(request: HttpRequest) -> str:
    user = request.user
    if not user.is_authenticated:
        return ""
    if not user.is_staff and selectors.staff_clinic_id(user) is None:
        return ""  # patients are not told; their clinic phones them
    return health.dispatch_banner()


def dispatch_banner(request: HttpRequest) -> dict[str, object]:
    """`dispatch_banner`: the "reminders are not being sent" warning for staff, or ""."""
    return {"dispatch_banner": SimpleLazyObject(lambda: _banner_for(request))}


def staff_abilities(request: HttpRequest) -> dict[str, object]:
    """`can_change_records`: whether the user is a clinician, who alone may change
    patients and plans. Pages show those links and buttons only to them, so a reviewer
    never follows one to a refusal."""
    return {"can_change_records": SimpleLazyObject(
        lambda: request.user.is_authenticated and has_role(request.user, Role.CLINICIAN)
    )}
