"""Reminders and the calendar of a patient on two tapers (issue #22): each plan's texts
name its own medicine in detailed mode and none by default; the feed holds both plans,
whose events stay distinct when they fall at the same time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from icalendar import Calendar

from planner.models import Patient, TaperPlan
from planner.roles import Role
from portal.services import language_set
from reminders import feeds
from reminders.messages import messages_for
from reminders.models import Reminder, ReminderKind
from tests.support.clock import START
from tests.support.factories import make_staff
from tests.support.plans import active_plan
from tests.support.two_tapers import drug_plan


@pytest.fixture
def two_plans(alice: Any, patient: Patient, django_user_model: Any, clinic: Any) -> tuple[
    TaperPlan, TaperPlan
]:
    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    patient.email = "sam@example.org"
    patient.save(update_fields=["email"])
    # Both at 09:00 and 21:00: two doses at the same moments.
    same_times = [{"time": "09:00", "amount_mg": 10}, {"time": "21:00", "amount_mg": 10}]
    baclofen = drug_plan(patient, alice, bob, product="baclofen-oral-tablet", doses=same_times,
                         months_on_therapy=3)
    return baclofen, drug_plan(patient, alice, bob)


def feed_events(client: Client, patient: Patient) -> list[Any]:
    token = feeds.feed_token_issue(patient=patient, by=None)
    response = client.get(reverse("calendar_feed", args=[token]))
    assert response.status_code == 200
    return list(Calendar.from_ical(response.content).walk("VEVENT"))


def test_the_feed_holds_both_plans_with_distinct_events_and_no_drug_by_default(
    client: Client, patient: Patient, two_plans: tuple[TaperPlan, TaperPlan]
) -> None:
    baclofen, diazepam = two_plans
    events = feed_events(client, patient)
    uids = [str(event["UID"]) for event in events]
    assert len(uids) == len(set(uids))
    first_doses = [e for e in events if "-dose-0900-2027-03-01" in str(e["UID"])]
    assert {str(e["UID"]).split("-dose")[0] for e in first_doses} == {
        f"plan-{baclofen.pk}", f"plan-{diazepam.pk}"
    }
    summaries = " ".join(str(e["SUMMARY"]) + str(e["DESCRIPTION"]) for e in events)
    assert "baclofen" not in summaries.lower()
    assert "diazepam" not in summaries.lower()


def test_detailed_titles_name_each_plans_own_medicine(
    client: Client, patient: Patient, two_plans: tuple[TaperPlan, TaperPlan]
) -> None:
    patient.calendar_detailed_titles = True
    patient.save()
    baclofen, diazepam = two_plans
    events = feed_events(client, patient)
    by_plan: dict[str, list[str]] = {}
    for event in events:
        by_plan.setdefault(str(event["UID"]).split("-")[1], []).append(str(event["SUMMARY"]))
    baclofen_titles = " | ".join(by_plan[str(baclofen.pk)])
    diazepam_titles = " | ".join(by_plan[str(diazepam.pk)])
    assert "Last day of diazepam taper" in diazepam_titles
    assert "Diazepam dose changes tomorrow:" in diazepam_titles
    assert "(diazepam " in diazepam_titles
    assert "baclofen" not in diazepam_titles.lower()
    assert "Last day of baclofen taper" in baclofen_titles
    assert "diazepam" not in baclofen_titles.lower()


def test_detailed_spanish_titles_name_the_medicine_in_spanish(
    client: Client, patient: Patient, two_plans: tuple[TaperPlan, TaperPlan]
) -> None:
    language_set(patient=patient, language="es")
    patient.calendar_detailed_titles = True
    patient.save()
    titles = " | ".join(str(e["SUMMARY"]) for e in feed_events(client, patient))
    assert "Último día de la reducción de baclofeno" in titles
    assert "Último día de la reducción de diazepam" in titles


@pytest.mark.parametrize("kind", [ReminderKind.DOSE_CHANGE, ReminderKind.LAST_DOSE])
def test_change_and_last_day_reminders_name_the_medicine_only_in_detailed_mode(
    patient: Patient, two_plans: tuple[TaperPlan, TaperPlan], kind: str
) -> None:
    _, diazepam = two_plans
    row = Reminder.objects.filter(plan=diazepam, kind=kind).first()
    assert row is not None
    with translation.override("en"):
        [plain] = messages_for(row)
        patient.calendar_detailed_titles = True
        patient.save()
        row.refresh_from_db()
        row.plan.patient.refresh_from_db()
        [detailed] = messages_for(row)
    assert "diazepam" not in (plain.subject + plain.text + plain.short_text).lower()
    assert "your diazepam" in detailed.text


def test_a_dose_reminder_in_detailed_mode_names_its_plans_medicine(
    alice: Any, patient: Patient, two_plans: tuple[TaperPlan, TaperPlan]
) -> None:
    baclofen, diazepam = two_plans
    patient.calendar_detailed_titles = True
    patient.save()
    texts = {}
    for plan in (baclofen, diazepam):
        row = Reminder.objects.filter(plan=plan, kind=ReminderKind.DOSE).order_by("due_at").first()
        assert row is not None
        row.plan.patient.refresh_from_db()
        [message] = messages_for(row)
        texts[plan.drug] = message.text
    assert "(baclofen " in texts["baclofen"]
    assert "(diazepam " in texts["diazepam"]
    assert "baclofen" not in texts["diazepam"]


def test_one_plan_alone_still_names_no_drug_by_default(
    client: Client, alice: Any, patient: Patient
) -> None:
    active_plan(patient, alice)
    titles = " ".join(str(e["SUMMARY"]) for e in feed_events(client, patient))
    assert "baclofen" not in titles.lower()


def test_plain_titles_of_two_tapers_say_each_plans_number_and_no_drug(
    client: Client, patient: Patient, two_plans: tuple[TaperPlan, TaperPlan]
) -> None:
    """Two "Medication dose" at 09:00 could not be told apart: each says its plan's
    number, as My plan does (tests/portal/test_two_tapers.py), in the title and the
    alarm; still no drug and no dose."""
    baclofen, diazepam = two_plans
    events = feed_events(client, patient)
    at_nine = {
        str(e["UID"]).split("-dose")[0]: e for e in events
        if "-dose-0900-2027-03-01" in str(e["UID"])
    }
    for plan in (baclofen, diazepam):
        event = at_nine[f"plan-{plan.pk}"]
        assert str(event["SUMMARY"]) == f"Medication dose (plan {plan.pk})"
        [alarm] = event.walk("VALARM")
        assert str(alarm["DESCRIPTION"]) == f"Medication dose (plan {plan.pk})"
    for event in events:
        plan_id = str(event["UID"]).split("-")[1]
        assert str(event["SUMMARY"]).endswith(f" (plan {plan_id})")
    titles = " ".join(str(e["SUMMARY"]) for e in events).lower()
    assert "baclofen" not in titles
    assert "diazepam" not in titles
    assert " mg" not in titles


def test_plain_spanish_titles_of_two_tapers_say_each_plans_number(
    client: Client, patient: Patient, two_plans: tuple[TaperPlan, TaperPlan]
) -> None:
    language_set(patient=patient, language="es")
    _, diazepam = two_plans
    titles = {str(e["SUMMARY"]) for e in feed_events(client, patient)}
    assert f"Dosis de medicamento (plan {diazepam.pk})" in titles
    assert f"Último día de su plan (plan {diazepam.pk})" in titles


def test_detailed_titles_of_two_tapers_carry_no_plan_number(
    client: Client, patient: Patient, two_plans: tuple[TaperPlan, TaperPlan]
) -> None:
    patient.calendar_detailed_titles = True
    patient.save()
    titles = " ".join(str(e["SUMMARY"]) for e in feed_events(client, patient))
    assert "(plan " not in titles


def test_a_second_taper_renames_the_first_plans_events_as_a_change(
    client: Client, alice: Any, django_user_model: Any, clinic: Any, patient: Patient
) -> None:
    """The first plan's titles gain its number when the second plan comes in: SEQUENCE
    goes up by one and DTSTAMP is the time the second plan was approved, so a subscribed
    calendar takes the new titles; the second plan's events are new (SEQUENCE 0)."""
    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    baclofen = drug_plan(patient, alice, bob, product="baclofen-oral-tablet",
                         doses=[{"time": "09:00", "amount_mg": 10}], months_on_therapy=3)
    before = {str(e["UID"]): e for e in feed_events(client, patient)}
    assert {str(e["SUMMARY"]) for e in before.values()} >= {"Medication dose"}
    assert {int(e["SEQUENCE"]) for e in before.values()} == {0}
    # Three days later, a diazepam plan (drug_plan makes it nine days before it starts).
    diazepam = drug_plan(patient, alice, bob, start=START + dt.timedelta(days=3))
    assert diazepam.approved_at is not None
    after = feed_events(client, patient)
    stamp = diazepam.approved_at.astimezone(dt.UTC).replace(microsecond=0)
    for event in after:
        uid = str(event["UID"])
        if uid.startswith(f"plan-{baclofen.pk}-"):
            assert str(event["SUMMARY"]).endswith(f"(plan {baclofen.pk})")
            assert int(event["SEQUENCE"]) == int(before[uid]["SEQUENCE"]) + 1
            assert event["DTSTAMP"].dt == stamp
        else:
            assert uid.startswith(f"plan-{diazepam.pk}-")
            assert int(event["SEQUENCE"]) == 0
            assert event["DTSTAMP"].dt < stamp + dt.timedelta(seconds=1)


def test_one_plan_alone_keeps_plain_titles_without_a_number(
    client: Client, alice: Any, patient: Patient
) -> None:
    active_plan(patient, alice)
    titles = {str(e["SUMMARY"]) for e in feed_events(client, patient)}
    assert "Medication dose" in titles
    assert not any("(plan " in title for title in titles)


def test_a_later_plan_of_a_medicine_already_there_does_not_rename_the_others_again(
    client: Client, alice: Any, django_user_model: Any, clinic: Any, patient: Patient
) -> None:
    """The titles changed once, when the second medicine came in: a new diazepam plan
    approved later (waiting to replace the running one) leaves the baclofen events'
    SEQUENCE and DTSTAMP as they were, and its own events are new."""
    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    baclofen = drug_plan(patient, alice, bob, product="baclofen-oral-tablet",
                         doses=[{"time": "09:00", "amount_mg": 10}], months_on_therapy=3)
    drug_plan(patient, alice, bob, start=START + dt.timedelta(days=3))
    before = {str(e["UID"]): e for e in feed_events(client, patient)}
    replacement = drug_plan(patient, alice, bob, start=START + dt.timedelta(days=6),
                            activate=False)
    assert replacement.approved_at is not None
    after = feed_events(client, patient)
    assert any(str(e["UID"]).startswith(f"plan-{replacement.pk}-") for e in after)
    for event in after:
        uid = str(event["UID"])
        if uid.startswith(f"plan-{baclofen.pk}-"):
            assert int(event["SEQUENCE"]) == int(before[uid]["SEQUENCE"]) == 1
            assert event["DTSTAMP"].dt == before[uid]["DTSTAMP"].dt
        elif uid.startswith(f"plan-{replacement.pk}-"):
            assert int(event["SEQUENCE"]) == 0
            assert str(event["SUMMARY"]).endswith(f"(plan {replacement.pk})")
