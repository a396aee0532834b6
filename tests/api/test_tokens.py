from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient


def issue(*args: str) -> str:
    out = StringIO()
    call_command("api_token", *args, stdout=out)
    return out.getvalue().strip()


def works(key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(reverse("api:patients")).status_code == 200


def test_tokens_are_issued_shown_once_rotated_and_revoked(alice: Any) -> None:
    first = issue("alice")
    assert works(first)
    second = issue("alice")  # a second connected system gets its own token
    assert second != first
    assert works(first)
    assert works(second)
    third = issue("alice", "--rotate")
    assert works(third)
    assert not works(first)
    assert not works(second)
    issue("alice", "--revoke")
    assert not works(third)


def test_only_a_digest_of_the_token_is_stored(alice: Any) -> None:
    from knox.models import AuthToken

    key = issue("alice")
    stored = AuthToken.objects.get()
    assert key not in stored.digest
    assert key != stored.token_key
    assert len(stored.token_key) < len(key) // 2  # only a lookup prefix


def test_a_token_expires(alice: Any) -> None:
    import datetime as dt

    import time_machine
    from django.conf import settings

    key = issue("alice")
    ttl = dt.timedelta(days=90)
    assert settings.REST_KNOX["TOKEN_TTL"] == ttl  # the default of API_TOKEN_TTL_DAYS
    with time_machine.travel(dt.datetime.now(dt.UTC) + ttl - dt.timedelta(hours=1)):
        assert works(key)
    with time_machine.travel(dt.datetime.now(dt.UTC) + ttl + dt.timedelta(hours=1)):
        assert not works(key)


def test_a_token_header_with_non_ascii_bytes_is_a_401_not_a_500(alice: Any) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token caf\xe9")
    assert client.get(reverse("api:patients")).status_code == 401


def test_a_patient_gets_no_token(patient_user: Any) -> None:
    with pytest.raises(CommandError, match="clinic staff"):
        issue("sam")
