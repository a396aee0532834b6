"""Abrupt-stop alerts a clinic works (issue #18): acknowledged, annotated and closed with
who and when; left open past the clinic's threshold, escalated to its reviewers once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from planner import services
from planner.models import AlertEvent, Patient
from planner.roles import Role
from reminders import alerts
from reminders.models import AbruptStopAlert, AlertReason, Notice
from tests.support.factories import PatientFactory, make_staff
from tests.support.plans import engine_input


@pytest.fixture
def bob(django_user_model: Any, clinic: Any) -> Any:
    return make_staff(django_user_model, "bob", clinic, Role.REVIEWER)


def raise_alert(patient: Patient, by: Any, hours_ago: float = 0) -> AbruptStopAlert:
    plan = services.plan_create(patient=patient, by=by, engine_input=engine_input(patient))
    at = timezone.now() - dt.timedelta(hours=hours_ago)
    return AbruptStopAlert.objects.create(
        plan=plan, reason=AlertReason.CONSECUTIVE_MISSED, since=at, raised_at=at
    )


def test_a_clinician_acknowledges_annotates_and_closes_an_alert_with_who_and_when(
    client: Client, alice: Any, patient: Patient
) -> None:
    patient.clinic.time_zone = "America/New_York"
    patient.clinic.save()
    alert = raise_alert(patient, alice)
    client.force_login(alice)
    url = reverse("alert", args=[alert.pk])
    assert f'href="{url}"' in client.get(reverse("dashboard")).content.decode()

    assert client.post(url, {"action": "acknowledge"}).status_code == 302
    again = client.post(url, {"action": "acknowledge"})
    assert again.status_code == 400
    assert "Already acknowledged by alice" in again.content.decode()
    empty = client.post(url, {"action": "note", "text": "  "})
    assert empty.status_code == 400
    assert "Write the note" in empty.content.decode()
    client.post(url, {"action": "note", "text": "Called patient, restarted 10 mg"})
    client.post(url, {"action": "close", "text": "Back on the plan"})

    alert.refresh_from_db()
    assert alert.closed_by == alice
    assert alert.closed_at == timezone.now()
    events = [(e.kind, e.by, e.text) for e in AlertEvent.objects.filter(alert=alert)]
    assert events == [
        ("acknowledged", alice, ""),
        ("note", alice, "Called patient, restarted 10 mg"),
        ("closed", alice, "Back on the plan"),
    ]
    body = client.get(url).content.decode()
    # 09:00 UTC is 04:00 in New York.
    assert "Closed 2027-02-20 04:00 EST by alice" in body
    assert "Called patient, restarted 10 mg" in body
    # Closed alerts leave the dashboard's open list; a closed one cannot close again.
    assert f'href="{url}"' not in client.get(reverse("dashboard")).content.decode()
    assert "already closed" in client.post(url, {"action": "close"}).content.decode()


def test_another_clinics_alert_is_not_found(
    client: Client, alice: Any, charlie: Any, other_clinic: Any
) -> None:
    theirs = raise_alert(PatientFactory.create(clinic=other_clinic), charlie)
    client.force_login(alice)
    assert client.get(reverse("alert", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("alert", args=[theirs.pk]), {"action": "close"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.closed_at is None


def test_an_alert_open_past_the_clinics_threshold_goes_to_the_reviewers_once(
    alice: Any, bob: Any, patient: Patient
) -> None:
    patient.clinic.alert_escalation_hours = 6
    patient.clinic.save()
    young = raise_alert(patient, alice, hours_ago=5)
    old = raise_alert(PatientFactory.create(clinic=patient.clinic, family_name="Old"), alice,
                      hours_ago=7)
    closed = raise_alert(PatientFactory.create(clinic=patient.clinic), alice, hours_ago=9)
    alerts.alert_close(alert=closed, by=alice)

    assert alerts.alerts_escalate(now=timezone.now()) == 1
    assert alerts.alerts_escalate(now=timezone.now()) == 0  # once
    notice = Notice.objects.get()
    assert notice.user == bob
    assert notice.subject == f"Abrupt-stop alert {old.pk} still open"
    assert reverse("alert", args=[old.pk]) in notice.body
    assert "Old" not in notice.body  # no patient name in a notice
    assert AlertEvent.objects.filter(alert=young).count() == 0
    # An hour later the younger one is past the threshold too.
    assert alerts.alerts_escalate(now=timezone.now() + dt.timedelta(hours=1)) == 1


def test_escalation_runs_from_the_beat_schedule() -> None:
    from planner.celery import app
    from reminders import tasks

    app.loader.import_default_modules()  # what a worker does: autodiscovery
    assert tasks.escalate_open_alerts.name == "planner.tasks.escalate_open_alerts"
    entry = app.conf.beat_schedule["escalate-open-alerts"]
    assert entry["task"] == "planner.tasks.escalate_open_alerts"
    assert "planner.tasks.escalate_open_alerts" in app.tasks


def test_the_threshold_is_a_clinic_setting_within_limits(clinic: Any) -> None:
    from django.core.exceptions import ValidationError

    clinic.alert_escalation_hours = 0
    with pytest.raises(ValidationError):
        clinic.full_clean()
    clinic.alert_escalation_hours = 12
    clinic.full_clean()
