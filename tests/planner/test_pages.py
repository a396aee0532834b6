"""The skeleton's pages: log-in, the landing page and the health check."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from planner.models import Patient
from reminders import health as reminder_services


def test_the_login_page_loads(client: Client) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Log in" in response.content


def test_the_home_page_sends_anonymous_visitors_to_log_in(client: Client) -> None:
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_clinician_can_log_in_and_sees_their_clinics_patients(
    client: Client, alice: Any, patient: Patient
) -> None:
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-for-tests-1"})
    assert response.status_code == 302
    page = client.get(reverse("home"), follow=True)
    assert page.redirect_chain[-1][0] == reverse("dashboard")
    assert "Clinic dashboard" in page.content.decode()
    assert "Sam Sample" in client.get(reverse("patients")).content.decode()


def test_a_clinician_of_another_clinic_does_not_see_the_patient(
    client: Client, charlie: Any, patient: Patient
) -> None:
    client.force_login(charlie)
    page = client.get(reverse("patients"))
    assert page.status_code == 200
    assert "Sam Sample" not in page.content.decode()


def test_a_wrong_password_is_refused_with_a_message(client: Client, alice: Any) -> None:
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


@pytest.mark.django_db
def test_old_heartbeats_are_pruned_when_a_new_one_is_recorded() -> None:
    with time_machine.travel("2026-03-01 12:00:00+00:00", tick=False):
        reminder_services.worker_heartbeat_record(hostname="w1")
    with time_machine.travel("2026-03-02 12:00:01+00:00", tick=False):
        reminder_services.worker_heartbeat_record(hostname="w1")
    from reminders.models import WorkerHeartbeat

    assert WorkerHeartbeat.objects.count() == 1
