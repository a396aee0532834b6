"""A pump patient end to end in a real browser (issue 21): the clinician enters the pump
and two wean visits (one refilling, one not), the plan is approved and started, a refill
is recorded, and the dates, the reminders and the `.ics` move with it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from playwright.sync_api import expect

from planner import services
from planner.models import Patient, PlanStatus, TaperPlan
from planner.roles import Role
from reminders.models import Reminder, ReminderKind, ReminderStatus
from tests.support.browser import log_in
from tests.support.clock import START
from tests.support.factories import make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def refill_reminder_days(plan: TaperPlan) -> list[str]:
    return sorted(
        {
            row.due_at.date().isoformat()
            for row in Reminder.objects.filter(
                plan=plan, kind=ReminderKind.REFILL, status=ReminderStatus.PENDING
            )
        }
    )


def refill_sequence(ics: str) -> int:
    event = ics.split("refill-1@")[1].split("END:VEVENT")[0]
    match = re.search(r"SEQUENCE:(\d+)", event)
    return int(match.group(1)) if match else 0


def test_a_pump_with_two_wean_visits_and_a_recorded_refill(
    page: Any, live_server: Any, alice: Any, patient: Patient, django_user_model: Any, clinic: Any
) -> None:
    """2000 mcg/mL, 40 mL, alarm 2 mL, 800 mcg a day, filled on 2027-03-01. Visits:
    04-12 → 640 refilling 40 mL; 05-10 → 560 reprogram only. From the 04-12 fill: 28 days
    × 640 = 17920 of 76000 mcg above the alarm; 58080 / 560 = 103 days after 05-10: due
    (and alarm) 2027-08-21; reminders 08-07, 08-14, 08-19.
    The clinic records 30 mL on 04-12 instead: 56000 − 17920 = 38080 / 560 = 68 days: due
    2027-07-17 (04-12 + 180 days is later); reminders 07-03, 07-10, 07-15."""
    log_in(page, live_server)
    page.goto(f"{live_server.url}/clinic/patients/{patient.pk}/plans/new/")
    # htmx (deferred) must be running, or the redraw on choosing is missed.
    page.wait_for_load_state("load")
    page.get_by_label("Medicine", exact=True).select_option("baclofen-intrathecal")
    # The oral regimen, goal and pace are not asked for a pump.
    expect(page.get_by_label("Dose 1 time")).to_be_hidden()
    expect(page.get_by_label("Goal")).to_be_hidden()
    page.get_by_label("Months on therapy").fill("48")
    page.get_by_label("First day of the taper").fill(START.isoformat())
    page.get_by_label("Pump concentration (mcg/mL)").fill("2000")
    page.get_by_label("Pump daily dose (mcg/day)").fill("800")
    page.get_by_label("Reservoir volume (mL)").fill("40")
    page.get_by_label("Low-reservoir alarm (mL)").fill("2")
    page.get_by_label("Last refill").fill(START.isoformat())
    page.get_by_role("button", name="Add a wean visit").click()
    page.get_by_label("Visit 1 date").fill("2027-04-12")
    page.get_by_label("Visit 1: new daily dose (mcg/day)").fill("640")
    page.get_by_label("Refill at visit 1").check()
    page.get_by_label("Visit 1: volume filled (mL)").fill("40")
    page.get_by_role("button", name="Add a wean visit").click()
    page.get_by_label("Visit 2 date").fill("2027-05-10")
    page.get_by_label("Visit 2: new daily dose (mcg/day)").fill("560")
    # The live preview shows the pump's arithmetic before saving.
    expect(page.locator("#preview .pump-refills")).to_contain_text("2027-08-21")
    page.get_by_role("button", name="Save draft plan").click()
    expect(page.locator(".status")).to_contain_text("Draft")
    plan = TaperPlan.objects.get(patient=patient)
    page.get_by_role("button", name="Submit for review").click()
    services.plan_approve(plan=plan, by=make_staff(django_user_model, "bob", clinic, Role.REVIEWER))
    page.reload()
    page.get_by_role("button", name="Activate").click()
    expect(page.locator(".status")).to_contain_text("Active")
    expect(page.locator(".wean-visits")).to_contain_text("no: reprogram only")
    expect(page.locator(".pump-refills")).to_contain_text("2027-08-21")
    expect(page.get_by_role("link", name="Revise…")).to_have_count(0)
    assert refill_reminder_days(plan) == ["2027-08-07", "2027-08-14", "2027-08-19"]
    ics_before = page.request.get(f"{live_server.url}/clinic/plans/{plan.pk}/calendar.ics").text()
    assert "DTSTART;VALUE=DATE:20270821" in ics_before

    with time_machine.travel(dt.datetime(2027, 4, 12, 18, tzinfo=dt.UTC), tick=False):
        log_in(page, live_server)  # the session of February has expired
        page.goto(f"{live_server.url}/clinic/plans/{plan.pk}/")
        page.get_by_label("Refill date").fill("2027-04-12")
        page.get_by_label("Volume filled (mL)").fill("30")
        page.get_by_role("button", name="Record refill").click()
        expect(page.locator(".messages, [role=status]").first).to_contain_text("Refill recorded")
        expect(page.locator(".refill-due")).to_contain_text("2027-07-17")
        expect(page.locator(".pump-refills")).to_contain_text("2027-07-17")
        expect(page.locator(".recorded-refills")).to_contain_text("2027-04-12: 30 mL")
        ics_after = page.request.get(
            f"{live_server.url}/clinic/plans/{plan.pk}/calendar.ics"
        ).text()
    assert refill_reminder_days(plan) == ["2027-07-03", "2027-07-10", "2027-07-15"]
    assert "DTSTART;VALUE=DATE:20270717" in ics_after
    assert "DTSTART;VALUE=DATE:20270821" not in ics_after
    # The same event (UID) moved, with a higher SEQUENCE: calendars update it in place.
    assert refill_sequence(ics_after) > refill_sequence(ics_before)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
