"""Log-in throttling behind the TLS proxy (issue #16): django-axes keys on the client's
address from X-Forwarded-For through django-ipware, and the pause does not slide."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client, override_settings

from planner.proxy import client_address_settings

LOGIN = "/accounts/login/"
PROXY = "10.0.0.2"  # every request arrives from the proxy
START = dt.datetime(2027, 1, 1, 9, tzinfo=dt.UTC)


def behind_proxy() -> Any:
    """The settings AXES_PROXY_COUNT=1 gives, through planner.proxy as settings.py uses it."""
    return override_settings(**dataclasses.asdict(client_address_settings(1)))


def attempt(username: str, password: str, forwarded_for: str | None) -> int:
    extra: dict[str, Any] = {"REMOTE_ADDR": PROXY}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    response = Client().post(LOGIN, {"username": username, "password": password}, **extra)
    return response.status_code


@pytest.fixture
def pat(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="pat", password="right-pass-123")


def lock_out(username: str, forwarded_for: str) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(username, "wrong", forwarded_for) == 200
    assert attempt(username, "wrong", forwarded_for) == 429


def test_behind_the_proxy_a_guesser_locks_only_their_own_address(pat: Any) -> None:
    with behind_proxy(), time_machine.travel(START, tick=False):
        lock_out("pat", "203.0.113.5")
        assert attempt("pat", "right-pass-123", "203.0.113.5") == 429
        # The real patient comes through the same proxy from elsewhere: not locked out.
        assert attempt("pat", "right-pass-123", "198.51.100.9") == 302


def test_a_forged_forwarded_for_does_not_escape_the_lock(pat: Any) -> None:
    # The proxy appends the address it saw; what the client sent stays on the left.
    with behind_proxy(), time_machine.travel(START, tick=False):
        lock_out("pat", "203.0.113.5")
        assert attempt("pat", "right-pass-123", "192.0.2.77, 203.0.113.5") == 429
        assert attempt("pat", "wrong", "192.0.2.78, 203.0.113.5") == 429


def test_without_a_proxy_the_header_is_not_believed(pat: Any) -> None:
    # AXES_PROXY_COUNT=0 (the default): X-Forwarded-For is the client's own words.
    with time_machine.travel(START, tick=False):
        lock_out("pat", "203.0.113.5")
        assert attempt("pat", "right-pass-123", "198.51.100.9") == 429


def test_the_pause_does_not_slide_with_attempts_during_it(pat: Any) -> None:
    with behind_proxy():
        with time_machine.travel(START, tick=False):
            lock_out("pat", "203.0.113.5")
        cooloff = settings.AXES_COOLOFF_TIME
        for minutes in (1, 5, 10, 14):
            with time_machine.travel(START + dt.timedelta(minutes=minutes), tick=False):
                assert attempt("pat", "wrong", "203.0.113.5") == 429
                assert attempt("pat", "right-pass-123", "203.0.113.5") == 429
        with time_machine.travel(START + cooloff + dt.timedelta(seconds=1), tick=False):
            assert attempt("pat", "right-pass-123", "203.0.113.5") == 302


def test_more_than_one_proxy_is_refused_at_start_up() -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="AXES_PROXY_COUNT"):
        client_address_settings(2)
