"""Idle-session timeout: staff sessions end after a short idle time, patients' later."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from planner.models import StaffMember

IDLE_KEY = "idle_timeout_seconds"


@receiver(user_logged_in)
def _remember_idle_limit(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    """Decided once, at login: the middleware then needs no query per request."""
    if request is None or not hasattr(request, "session"):
        return
    if StaffMember.objects.filter(user_id=user.pk).exists() or user.is_staff:
        request.session[IDLE_KEY] = settings.STAFF_IDLE_TIMEOUT_SECONDS
        request.session.set_expiry(settings.STAFF_IDLE_TIMEOUT_SECONDS)


# How often a staff session's expiry is pushed ahead. Pushing it writes the session row
# (an UPDATE and a COMMIT); doing that on every request was a fifth of the dashboard's
# time (issue #18). The session then ends between `limit - 60 s` and `limit` after the
# last request: never later than the idle limit.
IDLE_REFRESH_SECONDS = 60
REFRESHED_KEY = "idle_refreshed_at"


class IdleSessionTimeoutMiddleware:
    """A staff session's expiry is pushed another idle period ahead by its requests (at
    most once a minute), so the session ends that long after the last request, not after
    the login."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None:
            limit = session.get(IDLE_KEY)
            now = int(time.time())
            if limit and now - int(session.get(REFRESHED_KEY, 0)) >= IDLE_REFRESH_SECONDS:
                session[REFRESHED_KEY] = now
                session.set_expiry(int(limit))
        return self.get_response(request)


def locked_out(
    request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    """django-axes' lockout answer: a plain page saying when to try again (HTTP 429)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "registration/locked_out.html", {"cooloff_minutes": minutes},
                  status=429)


# django-axes keeps failed and locked-out log-ins under the user name in 255 characters.
AXES_USERNAME_LENGTH = 255


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> Any:
    """The user name django-axes records a log-in attempt under, cut to fit its column.
    Django's log-in forms pass a user name of any length to authenticate(); a longer one
    was a database error (a 500 on PostgreSQL) instead of a failed log-in."""
    field = getattr(settings, "AXES_USERNAME_FORM_FIELD", "username")
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    if isinstance(username, str):
        return username.replace("\x00", "")[:AXES_USERNAME_LENGTH]
    return username
