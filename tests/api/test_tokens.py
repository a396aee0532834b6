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


def test_a_staff_token_is_issued_rotated_and_revoked(alice: Any) -> None:
    first = issue("alice")
    assert works(first)
    assert issue("alice") == first
    second = issue("alice", "--rotate")
    assert second != first
    assert works(second)
    assert not works(first)
    issue("alice", "--revoke")
    assert not works(second)


def test_a_patient_gets_no_token(patient_user: Any) -> None:
    with pytest.raises(CommandError, match="clinic staff"):
        issue("sam")
