"""The patient's own pages: Today, recording a dose, missed-dose help, check-in, plan,
history, calendar; each shows only the patient's own records."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from planner.models import Patient, TaperPlan
from reminders import checkin
from reminders.models import AbruptStopAlert, CheckIn, DoseStatus, Notice
from tests.support.plans import at_new_york, dose_at

PATIENT_PAGES = [
    "patient_today",
    "patient_plan",
    "patient_missed",
    "patient_check_in",
    "my_calendar",
    "patient_history",
    "patient_settings",
]


@pytest.mark.parametrize("name", PATIENT_PAGES)
def test_an_anonymous_visitor_is_sent_to_the_log_in_page(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", PATIENT_PAGES)
def test_a_clinician_without_a_patient_record_is_refused(
    client: Client, alice: Any, name: str
) -> None:
    client.force_login(alice)
    assert client.get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", PATIENT_PAGES)
def test_every_patient_page_opens_for_the_patient(
    sam_client: Client, plan: TaperPlan, name: str
) -> None:
    with time_machine.travel(at_new_york("2027-03-01", "09:30"), tick=False):
        response = sam_client.get(reverse(name))
    assert response.status_code == 200
    assert 'aria-current="page"' in response.content.decode()


def test_home_sends_a_logged_in_patient_to_today(sam_client: Client, plan: TaperPlan) -> None:
    response = sam_client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("patient_today")


def test_today_shows_each_dose_with_its_state_progress_and_next_change(
    sam_client: Client, plan: TaperPlan
) -> None:
    dose_at(plan, "2027-03-02", "08:00")  # exists
    with time_machine.travel(at_new_york("2027-03-02", "15:00"), tick=False):
        body = sam_client.get(reverse("patient_today")).content.decode()
    assert "08:00" in body
    assert "14:00" in body
    assert "20:00" in body
    assert "Missed" in body  # 08:00: its window closed at 11:00
    assert "Late: you can still take it" in body  # 14:00, in its catch-up window
    assert "Later today" in body  # 20:00
    assert "Day 2 of" in body
    assert "<progress" in body
    assert "Next dose change" in body
    assert "you can still take it until 17:00" in body  # the catch-up rule of the next one


def test_today_names_what_each_dose_is_for_as_the_approved_plan_does(
    sam_client: Client, plan: TaperPlan
) -> None:
    roles = {
        dose["time"]: dose["role"]
        for dose in plan.current_revision.engine_output["steps"][0]["doses"]
    }
    assert roles == {"08:00": "morning", "14:00": "midday", "20:00": "bedtime"}
    assert dose_at(plan, "2027-03-02", "20:00").role == "bedtime"
    with time_machine.travel(at_new_york("2027-03-02", "15:00"), tick=False):
        body = sam_client.get(reverse("patient_today")).content.decode()
    assert '<span class="dose-role">(bedtime)</span>' in body
    assert '<span class="dose-role">(morning)</span>' in body


def test_recording_a_dose_as_taken_changes_the_dose_log(
    sam_client: Client, plan: TaperPlan
) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    with time_machine.travel(at_new_york("2027-03-01", "08:10"), tick=False):
        response = sam_client.post(
            reverse("patient_dose_answer", args=[dose.pk]), {"answer": "taken"}
        )
        assert response.status_code == 302
        body = sam_client.get(reverse("patient_today")).content.decode()
    dose.refresh_from_db()
    assert dose.status == DoseStatus.TAKEN
    assert "Recorded: you have taken your 08:00 dose." in body


def test_recording_by_get_changes_nothing(sam_client: Client, plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    with time_machine.travel(at_new_york("2027-03-01", "08:10"), tick=False):
        response = sam_client.get(
            reverse("patient_dose_answer", args=[dose.pk]) + "?answer=taken"
        )
    assert response.status_code == 405
    dose.refresh_from_db()
    assert dose.status == DoseStatus.SCHEDULED


def test_taking_a_dose_after_its_window_is_refused_plainly(
    sam_client: Client, plan: TaperPlan
) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    with time_machine.travel(at_new_york("2027-03-01", "11:30"), tick=False):
        sam_client.post(reverse("patient_dose_answer", args=[dose.pk]), {"answer": "taken"})
        body = sam_client.get(reverse("patient_today")).content.decode()
    dose.refresh_from_db()
    assert dose.status == DoseStatus.SCHEDULED
    assert "too late for this dose" in body


def test_a_patient_cannot_record_or_read_another_patients_dose(
    sam_client: Client, plan: TaperPlan, other_plan: TaperPlan
) -> None:
    theirs = dose_at(other_plan, "2027-03-01", "08:00")
    with time_machine.travel(at_new_york("2027-03-01", "08:10"), tick=False):
        answer = sam_client.post(
            reverse("patient_dose_answer", args=[theirs.pk]), {"answer": "taken"}
        )
        missed = sam_client.get(reverse("patient_dose_missed", args=[theirs.pk]))
    assert answer.status_code == 404
    assert missed.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == DoseStatus.SCHEDULED


def test_today_and_history_list_only_the_patients_own_doses(
    sam_client: Client, plan: TaperPlan, other_plan: TaperPlan
) -> None:
    theirs = dose_at(other_plan, "2027-03-01", "08:00")
    theirs.status = DoseStatus.TAKEN
    theirs.save()
    with time_machine.travel(at_new_york("2027-03-01", "09:30"), tick=False):
        today = sam_client.get(reverse("patient_today"))
    history = sam_client.get(reverse("patient_history"))
    assert [line.dose.plan_id for line in today.context["lines"]] == [plan.pk] * 3
    assert list(history.context["page"].object_list) == []


def test_missed_dose_help_says_until_when_it_can_still_be_taken(
    sam_client: Client, plan: TaperPlan
) -> None:
    with time_machine.travel(at_new_york("2027-03-01", "09:30"), tick=False):
        body = sam_client.get(reverse("patient_missed")).content.decode()
    assert "You can still take it now, until 11:00." in body
    assert "Never take two doses at once." in body
    assert 'value="taken"' in body


def test_missed_dose_help_says_skip_it_once_the_window_has_closed(
    sam_client: Client, plan: TaperPlan
) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    with time_machine.travel(at_new_york("2027-03-01", "12:00"), tick=False):
        body = sam_client.get(reverse("patient_dose_missed", args=[dose.pk])).content.decode()
    assert "It is too late to take your 08:00 dose." in body
    assert "Skip it and take your 14:00 dose as usual." in body
    assert 'value="taken"' not in body


def test_a_mild_check_in_reaches_the_clinic_history_page(
    sam_client: Client, client: Client, plan: TaperPlan, alice: Any, patient: Patient
) -> None:
    answers = {s.key: "none" for s in checkin.SYMPTOMS} | {"itching": "mild"}
    body = sam_client.post(reverse("patient_check_in"), answers).content.decode()
    assert "Your clinic can see your answers" in body
    assert CheckIn.objects.get(plan=plan).severe is False
    assert not AbruptStopAlert.objects.filter(plan=plan).exists()
    client.force_login(alice)
    clinic_page = client.get(reverse("patient_dose_history", args=[patient.pk]))
    assert "itching: mild" in clinic_page.content.decode()


def test_a_severe_check_in_tells_the_patient_to_get_help_and_alerts_the_clinic(
    sam_client: Client, plan: TaperPlan
) -> None:
    answers = {s.key: "none" for s in checkin.SYMPTOMS} | {"seizure": "mild"}
    body = sam_client.post(reverse("patient_check_in"), answers).content.decode()
    assert "Contact your clinic now." in body
    assert "call emergency services" in body
    assert AbruptStopAlert.objects.filter(plan=plan, closed_at__isnull=True).exists()


def test_an_incomplete_check_in_is_sent_back_with_a_message(
    sam_client: Client, plan: TaperPlan
) -> None:
    response = sam_client.post(reverse("patient_check_in"), {"fever": "none"})
    assert response.status_code == 400
    assert "Please answer every question." in response.content.decode()
    assert not CheckIn.objects.exists()


def test_the_plan_page_shows_the_schedule_chart_rules_and_emergency_signs(
    sam_client: Client, plan: TaperPlan
) -> None:
    body = sam_client.get(reverse("patient_plan")).content.decode()
    assert "<svg" in body
    assert "2027-03-01" in body
    assert "If you miss the 08:00 dose, take it as soon as you remember, up to 11:00." in body
    assert "Call emergency services now" in body
    assert "Warning signs" in body


def test_the_plan_page_gives_each_step_its_own_missed_dose_window(
    sam_client: Client, plan: TaperPlan
) -> None:
    # Step 2 (4–6 March) has no 14:00 dose: its 08:00 dose may be taken until 14:00.
    body = sam_client.get(reverse("patient_plan")).content.decode()
    assert "From 4 March to 6 March" in body
    assert "If you miss the 08:00 dose, take it as soon as you remember, up to 14:00." in body
    from reminders.models import PatientPreferences

    PatientPreferences.objects.update_or_create(patient=plan.patient, defaults={"language": "es"})
    spanish = sam_client.get(reverse("patient_plan")).content.decode()
    assert "Del 4 de marzo al 6 de marzo" in spanish


def test_notices_are_shown_newest_first_and_can_be_marked_read(
    sam_client: Client, plan: TaperPlan, sam: Any
) -> None:
    Notice.objects.create(user=sam, subject="First notice", body="one")
    Notice.objects.create(user=sam, subject="Second notice", body="two")
    body = sam_client.get(reverse("patient_today")).content.decode()
    assert body.index("Second notice") < body.index("First notice")
    assert sam_client.post(reverse("patient_notices_read")).status_code == 302
    assert not Notice.objects.filter(user=sam, read_at__isnull=True).exists()


def test_history_lists_taken_missed_and_skipped_doses(
    sam_client: Client, plan: TaperPlan
) -> None:
    for time, status in (("08:00", "taken"), ("14:00", "missed"), ("20:00", "skipped")):
        dose = dose_at(plan, "2027-03-01", time)
        dose.status = status
        dose.save()
    body = sam_client.get(reverse("patient_history")).content.decode()
    assert body.count("state-taken") == 1
    assert body.count("state-missed") == 1
    assert body.count("state-skipped") == 1


def test_the_calendar_page_shows_the_subscription_once_with_a_qr_code(
    sam_client: Client, plan: TaperPlan
) -> None:
    body = sam_client.post(reverse("my_calendar"), {"action": "issue"}).content.decode()
    assert "<svg" in body
    assert "webcal://" in body
    assert "Keep this address private." in body
