"""A failure someone notices within minutes (issue #19): /health/ tells the truth, the
dead man's switch pings per tick, and staff pages warn when reminders stop."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from planner.roles import Role
from reminders import dispatch, health
from reminders import health as reminder_services
from reminders.models import DispatchStage
from tests.support.clock import NOW
from tests.support.factories import make_staff

T0 = NOW.replace(hour=14, minute=2) + dt.timedelta(days=4)  # the banner says "14:02"


def healthy_at(moment: dt.datetime) -> None:
    """A worker heartbeat and a completed tick at `moment`."""
    with time_machine.travel(moment, tick=False):
        reminder_services.worker_heartbeat_record(hostname="w1")
    dispatch.dispatch_tick(now=moment, enqueue=lambda ids, claim: None)


def get_health(client: Client, at: dt.datetime) -> tuple[int, dict[str, Any]]:
    with time_machine.travel(at, tick=False):
        response = client.get(reverse("health"))
    return response.status_code, response.json()


@pytest.mark.django_db
def test_health_is_200_with_every_component_and_its_last_good_time(
    client: Client, patient: Any
) -> None:
    healthy_at(T0)
    with time_machine.travel(T0 + dt.timedelta(minutes=2, seconds=59), tick=False):
        response = client.get(reverse("health"))
    status, body = response.status_code, response.json()
    assert status == 200
    assert patient.family_name not in response.content.decode()  # names components only
    assert body["status"] == "ok"
    for name in ("database", "broker", "worker", "dispatcher"):
        assert body[name]["status"] == "ok", name
        assert body[name]["last_ok"], name
    assert body["worker"]["last_ok"] == body["dispatcher"]["last_ok"] == T0.isoformat()
    assert set(body["stages"]) == {
        "claim", "reclaim", "missed_doses", "maintenance", "alerts", "refills",
    }  # fmt: skip
    assert body["stages"]["claim"] == {
        "status": "ok", "last_ok": T0.isoformat(), "last_failure": None, "last_error": "",
        "failures_in_a_row": 0,
    }  # fmt: skip


@pytest.mark.django_db
def test_health_is_503_when_nothing_ever_ran(client: Client) -> None:
    status, body = get_health(client, T0)
    assert status == 503
    assert (body["worker"], body["dispatcher"]) == (
        {"status": "stale", "last_ok": None}, {"status": "stale", "last_ok": None},
    )  # fmt: skip


@pytest.mark.django_db
def test_health_is_503_when_the_last_tick_is_older_than_the_configured_age(
    client: Client,
) -> None:
    healthy_at(T0)
    with time_machine.travel(T0 + dt.timedelta(minutes=2), tick=False):
        reminder_services.worker_heartbeat_record(hostname="w1")  # the worker is fine
    status, body = get_health(client, T0 + dt.timedelta(minutes=3, seconds=1))
    assert status == 503
    assert body["dispatcher"] == {"status": "stale", "last_ok": T0.isoformat()}
    assert body["worker"]["status"] == "ok"
    with override_settings(HEALTH_MAX_AGE_SECONDS=600):
        assert get_health(client, T0 + dt.timedelta(minutes=9))[0] == 200


@pytest.mark.django_db
def test_health_is_503_when_the_worker_heartbeat_is_older_than_the_configured_age(
    client: Client,
) -> None:
    healthy_at(T0)
    dispatch.dispatch_tick(now=T0 + dt.timedelta(minutes=3), enqueue=lambda ids, claim: None)
    status, body = get_health(client, T0 + dt.timedelta(minutes=3, seconds=1))
    assert status == 503
    assert body["worker"] == {"status": "stale", "last_ok": T0.isoformat()}
    assert body["dispatcher"]["status"] == "ok"


@pytest.mark.django_db
def test_health_is_503_when_a_stage_keeps_failing(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy_at(T0)

    def broken(**kwargs: object) -> int:
        raise LookupError

    monkeypatch.setattr(dispatch, "alerts_check_unconfirmed", broken)
    for minute in (1, 2):
        dispatch.dispatch_tick(now=T0 + dt.timedelta(minutes=minute), enqueue=lambda i, c: None)
    assert get_health(client, T0 + dt.timedelta(minutes=2))[0] == 200  # twice is not "keeps"
    dispatch.dispatch_tick(now=T0 + dt.timedelta(minutes=3), enqueue=lambda i, c: None)
    with time_machine.travel(T0 + dt.timedelta(minutes=3), tick=False):
        reminder_services.worker_heartbeat_record(hostname="w1")
    status, body = get_health(client, T0 + dt.timedelta(minutes=3))
    assert status == 503
    assert body["stages"]["alerts"] == {
        "status": "failing", "last_ok": T0.isoformat(),
        "last_failure": (T0 + dt.timedelta(minutes=3)).isoformat(), "last_error": "LookupError",
        "failures_in_a_row": 3,
    }  # fmt: skip
    assert body["stages"]["claim"]["status"] == "ok"
    assert body["dispatcher"]["status"] == "ok"  # the ticks themselves completed


@pytest.mark.django_db
def test_health_is_503_when_the_broker_does_not_answer(client: Client) -> None:
    healthy_at(T0)
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):  # nothing listens
        status, body = get_health(client, T0)
    assert status == 503
    assert body["broker"]["status"] == "unavailable"
    assert body["database"]["status"] == "ok"


@pytest.mark.django_db
def test_health_is_503_when_the_database_does_not_answer(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy_at(T0)
    monkeypatch.setattr(health, "_database_answers", lambda: False)
    status, body = get_health(client, T0)
    assert status == 503
    assert body["database"]["status"] == "unavailable"
    assert body["worker"] == {"status": "stale", "last_ok": None}  # not read: no database


# --- the dead man's switch ------------------------------------------------------------


class Monitor(http.server.BaseHTTPRequestHandler):
    """A stand-in for healthchecks.io on 127.0.0.1: records each ping's path and body."""

    pings: list[tuple[str, str]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.pings.append((self.path, self.rfile.read(length).decode()))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def monitor() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    pings: list[tuple[str, str]] = []
    handler = type("Handler", (Monitor,), {"pings": pings})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ping/3f1e-check", pings
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_each_completed_tick_pings_the_monitor_and_a_failing_stage_pings_fail(
    monitor: tuple[str, list[tuple[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, pings = monitor
    with override_settings(DISPATCH_PING_URL=url):
        dispatch.dispatch_tick(now=T0, enqueue=lambda ids, claim: None)
        monkeypatch.setattr(dispatch, "alerts_check_unconfirmed", lambda **k: 1 // 0)
        dispatch.dispatch_tick(now=T0 + dt.timedelta(minutes=1), enqueue=lambda i, c: None)
    assert pings == [
        ("/ping/3f1e-check", "ok"),
        ("/ping/3f1e-check/fail", "failing stages: alerts"),
    ]


@pytest.mark.django_db
def test_the_monitor_is_off_by_default_and_a_dead_monitor_stops_no_tick(
    monitor: tuple[str, list[tuple[str, str]]], caplog: pytest.LogCaptureFixture
) -> None:
    _, pings = monitor
    assert settings.DISPATCH_PING_URL == ""
    dispatch.dispatch_tick(now=T0, enqueue=lambda ids, claim: None)
    assert pings == []
    with override_settings(DISPATCH_PING_URL="http://127.0.0.1:1/ping/secret-uuid"):
        done = dispatch.dispatch_tick(now=T0, enqueue=lambda ids, claim: None)
    assert done["failed_stages"] == 0
    assert "dead man's switch ping failed: URLError" in caplog.text
    assert "secret-uuid" not in caplog.text


# --- the staff banner -----------------------------------------------------------------


@pytest.mark.django_db
def test_staff_pages_warn_when_reminders_were_not_dispatched_for_ten_minutes(
    client: Client, alice: Any, clinic: Any, patient: Any, django_user_model: Any
) -> None:
    reviewer = make_staff(django_user_model, "rita", clinic, Role.REVIEWER)
    dispatch.dispatch_tick(now=T0, enqueue=lambda ids, claim: None)
    warning = "Reminders are not being sent since 14:02 UTC — contact your administrator."
    with time_machine.travel(T0 + dt.timedelta(minutes=10), tick=False):
        client.force_login(alice)
        assert warning not in client.get(reverse("dashboard")).content.decode()
    with time_machine.travel(T0 + dt.timedelta(minutes=10, seconds=1), tick=False):
        client.force_login(alice)
        for page in (reverse("dashboard"), reverse("patients"), reverse("patient", args=[
            patient.pk
        ])):
            assert warning in client.get(page).content.decode(), page
        client.force_login(reviewer)
        assert warning in client.get(reverse("review_queue")).content.decode()
        # Patients are not shown it: their clinic phones them.
        patient.user = django_user_model.objects.create_user(username="sam", password="pw-1")
        patient.save()
        client.force_login(patient.user)
        today = client.get(reverse("patient_today"))
        assert today.status_code == 200
        assert "not being sent" not in today.content.decode()


def test_the_banner_says_so_when_nothing_was_ever_dispatched(db: None) -> None:
    assert DispatchStage.objects.count() == 0
    assert health.dispatch_banner(now=T0) == (
        "Reminders are not being sent — contact your administrator."
    )
