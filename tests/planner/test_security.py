"""Security settings that a page test can see (issue #9): login throttling with a
cool-off, idle timeouts, the Content-Security-Policy and the other headers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse

from planner.models import Patient

LOGIN = "/accounts/login/"


def attempt(client: Client, username: str, password: str, ip: str) -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_failed_logins_lock_that_name_from_that_address_for_a_while_only(
    django_user_model: Any, patient: Patient
) -> None:
    django_user_model.objects.create_user(username="pat", password="right-pass-123")
    start = dt.datetime(2027, 1, 1, 9, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert attempt(Client(), "pat", "wrong", "10.0.0.9").status_code == 200
        assert attempt(Client(), "pat", "wrong", "10.0.0.9").status_code == 429
        locked = attempt(Client(), "pat", "right-pass-123", "10.0.0.9")
        assert locked.status_code == 429
        assert "paused for 15 minutes" in locked.content.decode()
        # The patient, elsewhere, is not locked out by someone else's guessing.
        assert attempt(Client(), "pat", "right-pass-123", "10.0.0.7").status_code == 302
    with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
        assert attempt(Client(), "pat", "right-pass-123", "10.0.0.9").status_code == 302


def test_staff_sessions_end_after_30_idle_minutes_and_patients_do_not(
    django_user_model: Any, alice: Any, patient: Patient
) -> None:
    alice.set_password("alice-pass-123")
    alice.save()
    start = dt.datetime(2027, 1, 1, 9, tzinfo=dt.UTC)
    staff = Client()
    with time_machine.travel(start, tick=False):
        assert attempt(staff, "alice", "alice-pass-123", "10.0.0.1").status_code == 302
    with time_machine.travel(start + dt.timedelta(minutes=25), tick=False):
        assert staff.get(reverse("dashboard")).status_code == 200  # activity: the clock restarts
    with time_machine.travel(start + dt.timedelta(minutes=50), tick=False):
        assert staff.get(reverse("dashboard")).status_code == 200
    with time_machine.travel(start + dt.timedelta(minutes=81), tick=False):
        response = staff.get(reverse("dashboard"))
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)

    user = django_user_model.objects.create_user(username="pat", password="right-pass-123")
    patient.user = user
    patient.save()
    phone = Client()
    with time_machine.travel(start, tick=False):
        attempt(phone, "pat", "right-pass-123", "10.0.0.2")
    with time_machine.travel(start + dt.timedelta(days=3), tick=False):
        assert phone.get("/").wsgi_request.user.is_authenticated


def test_pages_carry_a_strict_csp_and_the_other_security_headers(client: Client) -> None:
    response = client.get(LOGIN)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_no_template_has_inline_script_style_or_event_handlers() -> None:
    """What the CSP would block must not be written in the first place (e-mail bodies,
    which no browser policy applies to, may style inline)."""
    root = Path(settings.BASE_DIR)
    offenders = []
    for path in root.glob("**/templates/**/*.html"):
        if ".venv" in path.parts or "email" in path.parts:
            continue
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(
            r"\son[a-z]+\s*=|\sstyle\s*=|<style", text
        ):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_passwords_are_hashed_with_argon2_in_production() -> None:
    import importlib

    production = importlib.import_module("planner.settings")
    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
