"""The production server's access log (issue #16): gunicorn, started with the shipped
gunicorn.conf.py as the README starts it, never writes a feed, action, invitation or
password-reset token. The test runs gunicorn on 127.0.0.1 and reads what it wrote."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database, so that the server answers from real tables."""
    cfg = connection.settings_dict
    if cfg["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{cfg['NAME']}"
    auth = cfg.get("USER") or ""
    if cfg.get("PASSWORD"):
        auth += f":{cfg['PASSWORD']}"
    port = f":{cfg['PORT']}" if cfg.get("PORT") else ""
    return f"postgres://{auth}@{cfg.get('HOST') or '127.0.0.1'}{port}/{cfg['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (127.0.0.1)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.real_clock  # a server process with its own clock
@pytest.mark.django_db(transaction=True)
def test_the_access_log_of_the_shipped_gunicorn_config_redacts_tokens(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG")},
        "DEBUG": "1",
        "DATABASE_URL": database_url(),
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "planner.settings",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "planner.wsgi"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                get(f"{base}/accounts/login/")
                break
            except OSError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        feed, action = secrets.token_urlsafe(32), secrets.token_urlsafe(40)
        uid, reset = "MTIz", f"c{secrets.token_hex(3)}-{secrets.token_hex(16)}"
        answers = {
            f"/calendar/{feed}.ics": get(f"{base}/calendar/{feed}.ics"),
            f"/a/{action}/": get(f"{base}/a/{action}/"),
            f"/me/welcome/{uid}/{reset}/": get(f"{base}/me/welcome/{uid}/{reset}/"),
            f"/accounts/reset/{uid}/{reset}/": get(f"{base}/accounts/reset/{uid}/{reset}/"),
            "referer": get(
                f"{base}/accounts/login/", {"Referer": f"{base}/calendar/{feed}.ics"}
            ),
            "search": get(f"{base}/clinic/?q=Zelda+Searchname&page=2"),
            "fhir": get(f"{base}/fhir/r4/Patient?identifier=MRN-47110815&_format=json"),
        }
        assert all(status < 500 for status in answers.values()), answers
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    written = log.read_text()
    access = [line for line in written.splitlines() if '"GET ' in line]
    assert len(access) >= len(answers), written
    for secret in (feed, action, reset, "Zelda", "Searchname", "MRN-47110815"):
        assert secret not in written
    assert f'"GET /calendar/[redacted].ics HTTP/1.1" {answers[f"/calendar/{feed}.ics"]}' in written
    assert '"GET /a/[redacted]/ HTTP/1.1"' in written
    assert '"GET /me/welcome/[redacted]/ HTTP/1.1"' in written
    assert '"GET /accounts/reset/[redacted]/ HTTP/1.1"' in written
    assert "/calendar/[redacted].ics\" " in written  # the referrer field
    assert '"GET /clinic/?q=[redacted]&page=2 HTTP/1.1"' in written
    assert '"GET /fhir/r4/Patient?identifier=[redacted]&_format=json HTTP/1.1"' in written
