"""Intrathecal pumps: an overdue refill becomes an abrupt-stop alert; recording a refill ends it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError

from planner import services
from planner.models import Patient, TaperPlan
from planner.roles import Role
from reminders.models import AbruptStopAlert, AlertReason, Reminder, ReminderKind
from reminders.refills import alerts_check_refills, refill_record
from tests.support.factories import make_staff
from tests.support.plans import active_pump_plan


@pytest.fixture
def pump_plan(alice: Any, patient: Patient, django_user_model: Any, clinic: Any) -> TaperPlan:
    reviewer = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    return active_pump_plan(patient, alice, reviewer)


def at_noon_new_york(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T17:00:00+00:00")


def test_refill_reminders_go_to_patient_and_clinic_14_7_and_2_days_ahead(
    pump_plan: TaperPlan,
) -> None:
    rows = Reminder.objects.filter(plan=pump_plan, kind=ReminderKind.REFILL)
    # (20 − 2) mL × 500 mcg/mL ÷ 250 mcg/day = 36 days: alarm on 6 April.
    assert {r.context["alarm_date"] for r in rows} == {"2027-04-06"}
    assert sorted({r.context["days_before"] for r in rows}) == [2, 7, 14]
    assert {r.recipient for r in rows} == {"patient", "clinic"}


def test_an_overdue_refill_raises_one_alert_and_a_recorded_refill_ends_it(
    alice: Any, pump_plan: TaperPlan
) -> None:
    assert alerts_check_refills(now=at_noon_new_york("2027-04-06")) == 0
    assert alerts_check_refills(now=at_noon_new_york("2027-04-07")) == 1
    assert alerts_check_refills(now=at_noon_new_york("2027-04-08")) == 0
    alert = AbruptStopAlert.objects.get()
    assert alert.reason == AlertReason.REFILL_OVERDUE
    assert Reminder.objects.filter(kind=ReminderKind.ABRUPT_STOP_ALERT, recipient="clinic")
    refill_record(
        plan=pump_plan,
        refilled_on=dt.date(2027, 4, 8),
        volume_ml=Decimal(20),
        by=alice,
        now=at_noon_new_york("2027-04-08"),
    )
    alert.refresh_from_db()
    assert alert.closed_at is not None
    # The next alarm is 36 days after the recorded refill.
    assert alerts_check_refills(now=at_noon_new_york("2027-05-14")) == 0
    assert alerts_check_refills(now=at_noon_new_york("2027-05-15")) == 1


def test_a_refill_in_the_future_is_refused(alice: Any, pump_plan: TaperPlan) -> None:
    with pytest.raises(ValidationError) as refusal:
        refill_record(
            plan=pump_plan,
            refilled_on=dt.date(2027, 4, 9),
            volume_ml=Decimal(20),
            by=alice,
            now=at_noon_new_york("2027-04-08"),
        )
    assert "refilled_on" in refusal.value.message_dict


def test_the_clinician_records_a_refill_on_the_plan_page(
    client: Any, alice: Any, pump_plan: TaperPlan
) -> None:
    from django.urls import reverse

    from reminders.models import PumpRefill

    client.force_login(alice)
    assert "Record refill" in client.get(reverse("plan", args=[pump_plan.pk])).content.decode()
    client.post(reverse("plan_refill", args=[pump_plan.pk]), {"refilled_on": "not a date"})
    assert not PumpRefill.objects.exists()
    client.post(
        reverse("plan_refill", args=[pump_plan.pk]),
        {"refilled_on": "2027-02-20", "volume_ml": "20"},
    )
    assert not PumpRefill.objects.exists()  # before the fill on the pump record (03-01)
    with time_machine.travel(dt.datetime(2027, 3, 20, 15, tzinfo=dt.UTC)):
        client.force_login(alice)  # a session from a month ago has expired
        response = client.post(
            reverse("plan_refill", args=[pump_plan.pk]),
            {"refilled_on": "2027-03-20", "volume_ml": "20"},
            follow=True,
        )
    assert PumpRefill.objects.get().refilled_on == dt.date(2027, 3, 20)
    assert "Refill recorded" in response.content.decode()


def test_a_plan_that_cannot_be_checked_does_not_stop_the_others(
    alice: Any, pump_plan: TaperPlan, clinic: Any, django_user_model: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from planner.models import PlanRevision

    other = Patient.objects.create(
        clinic=clinic, given_name="Ada", family_name="Second", date_of_birth=dt.date(1970, 1, 1),
        sex="female", home_timezone="America/New_York",
    )
    broken = services.plan_create(
        patient=other, by=alice,
        engine_input={**pump_plan.current_revision.engine_input, "timezone": "UTC"},
    )
    services.plan_submit(plan=broken, by=alice)
    services.plan_approve(plan=broken, by=django_user_model.objects.get(username="bob"))
    services.plan_activate(plan=broken, by=alice)
    PlanRevision.objects.filter(plan=broken).update(engine_output={"pump": 1})

    assert alerts_check_refills(now=at_noon_new_york("2027-04-07")) == 1
    assert AbruptStopAlert.objects.get().plan_id == pump_plan.pk
    assert f"Refill check failed for plan {broken.pk}" in caplog.text


def test_a_recorded_refill_moves_the_dates_reminders_history_and_calendar(
    alice: Any, pump_plan: TaperPlan
) -> None:
    """Filled 2027-03-01 with 20 mL of 500 mcg/mL at 250 a day: due 04-06 (36 days).
    Refilled on 03-20 with 16 mL: (16 − 2) × 500 / 250 = 28 days, due 04-17 (03-20 + 180
    is later), reminders 04-03, 04-10, 04-15; empty 16 × 500 / 250 = 32 days, 04-21."""
    from reminders import feeds

    feed_before = feeds.plan_calendar(pump_plan, pump_plan.patient).decode()
    with time_machine.travel(dt.datetime(2027, 3, 20, 15, tzinfo=dt.UTC)):
        refill_record(
            plan=pump_plan,
            refilled_on=dt.date(2027, 3, 20),
            volume_ml=Decimal(16),
            by=alice,
            now=at_noon_new_york("2027-03-20"),
        )
    rows = Reminder.objects.filter(plan=pump_plan, kind=ReminderKind.REFILL)
    assert {r.context["alarm_date"] for r in rows} == {"2027-04-17"}
    assert sorted({r.due_at.date().isoformat() for r in rows}) == [
        "2027-04-03", "2027-04-10", "2027-04-15"
    ]
    assert {r.context["empty_date"] for r in rows} == {"2027-04-21"}
    history = TaperPlan.history.filter(id=pump_plan.pk).latest("history_date")
    assert history.history_change_reason == (
        "Pump refilled on 2027-03-20: 16 mL of 500 mcg/mL; next refill due 2027-04-17"
    )
    assert history.history_user == alice
    patient = Patient.objects.get(pk=pump_plan.patient_id)
    feed_after = feeds.plan_calendar(pump_plan, patient).decode()
    assert "DTSTART;VALUE=DATE:20270406" in feed_before
    assert "DTSTART;VALUE=DATE:20270417" in feed_after
    assert "DTSTART;VALUE=DATE:20270406" not in feed_after
    # The same event moved: its SEQUENCE rises (the refill is a calendar version, and the
    # feed's version moves too).
    refill_event = feed_after.split("refill-1@")[1].split("END:VEVENT")[0]
    assert "SEQUENCE:2" in refill_event
    assert patient.calendar_settings_changed_at is not None
    # Overdue now counts from the recorded refill's due date.
    assert alerts_check_refills(now=at_noon_new_york("2027-04-17")) == 0
    assert alerts_check_refills(now=at_noon_new_york("2027-04-18")) == 1


def test_a_refill_at_a_new_concentration_counts_the_dates_at_that_concentration(
    alice: Any, pump_plan: TaperPlan
) -> None:
    """Refilled on 03-10 with 20 mL of 1000 mcg/mL: (20 − 2) × 1000 / 250 = 72 days,
    alarm 05-21; due there (03-10 + 180 is later)."""
    refill_record(
        plan=pump_plan,
        refilled_on=dt.date(2027, 3, 10),
        volume_ml=Decimal(20),
        concentration_mcg_per_ml=Decimal(1000),
        by=alice,
        now=at_noon_new_york("2027-03-10"),
    )
    rows = Reminder.objects.filter(plan=pump_plan, kind=ReminderKind.REFILL)
    assert {r.context["alarm_date"] for r in rows} == {"2027-05-21"}


def test_a_refill_that_does_not_fit_is_refused_naming_the_field_and_nothing_is_written(
    alice: Any, pump_plan: TaperPlan
) -> None:
    from reminders.models import PumpRefill

    before = list(Reminder.objects.filter(plan=pump_plan).values_list("id", flat=True))
    for volume, concentration, field in [
        (Decimal(25), None, "volume_ml"),
        (Decimal(2), None, "volume_ml"),
        (Decimal(20), Decimal(700), "concentration_mcg_per_ml"),
    ]:
        with pytest.raises(ValidationError) as refusal:
            refill_record(
                plan=pump_plan,
                refilled_on=dt.date(2027, 3, 10),
                volume_ml=volume,
                concentration_mcg_per_ml=concentration,
                by=alice,
                now=at_noon_new_york("2027-03-10"),
            )
        assert field in refusal.value.message_dict
    assert not PumpRefill.objects.exists()
    assert list(Reminder.objects.filter(plan=pump_plan).values_list("id", flat=True)) == before
