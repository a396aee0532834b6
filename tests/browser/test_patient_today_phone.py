"""Today on a phone (390 px) once reminders have arrived, and before the plan starts
(issue #17): nothing wider than the screen, the wording a patient needs, axe-clean."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from playwright.sync_api import expect

from planner import display
from planner.models import Patient
from reminders.models import DoseStatus
from tests.browser.test_patient_portal import PHONE
from tests.portal.test_today_messages import deliver_in_app
from tests.support.browser import log_in, serious_violations
from tests.support.clock import START
from tests.support.factories import patient_account
from tests.support.plans import active_plan, at_new_york, dose_at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def page_width(page: Any) -> tuple[int, int]:
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return int(scroll), int(client)


def test_today_with_reminder_messages_fits_a_phone_and_answers_from_the_message(
    page: Any, live_server: Any, alice: Any, patient: Patient, django_user_model: Any
) -> None:
    patient_account(django_user_model, patient, "sam")
    plan = active_plan(patient, alice)
    morning, noon = dose_at(plan, "2027-03-01", "08:00"), dose_at(plan, "2027-03-01", "14:00")
    with time_machine.travel(at_new_york("2027-03-01", "08:00"), tick=False):
        deliver_in_app(morning)
    morning.status = DoseStatus.TAKEN
    morning.save(update_fields=["status"])
    with time_machine.travel(at_new_york("2027-03-01", "14:00"), tick=False):
        deliver_in_app(noon)
    page.set_viewport_size(PHONE)
    with time_machine.travel(at_new_york("2027-03-01", "14:05"), tick=True):
        log_in(page, live_server, "sam", lands_on="Today, Monday 1 March")
        messages = page.locator(".notices li")
        expect(messages).to_have_count(2)
        scroll_width, viewport = page_width(page)
        assert scroll_width <= viewport == PHONE["width"]
        assert serious_violations(page) == []
        # The morning reminder's dose is answered: it says so and offers nothing.
        answered = messages.filter(has_text="08:00")
        expect(answered).to_contain_text("Already answered")
        expect(answered.get_by_role("button")).to_have_count(0)
        # The 14:00 reminder is answered from the message itself.
        messages.filter(has_text="14:00").get_by_role("button", name="I have taken it").click()
        expect(page.get_by_text("Recorded: you have taken your 14:00 dose.")).to_be_visible()
        expect(page.locator(".notices li", has_text="14:00")).to_contain_text("Already answered")
    noon.refresh_from_db()
    assert noon.status == DoseStatus.TAKEN


def test_before_the_plan_starts_today_says_when_and_to_keep_the_current_medicine(
    page: Any, live_server: Any, alice: Any, patient: Patient, django_user_model: Any
) -> None:
    patient_account(django_user_model, patient, "sam")
    active_plan(patient, alice)
    page.set_viewport_size(PHONE)
    before = at_new_york("2027-02-26", "09:00")
    with time_machine.travel(before, tick=True):
        log_in(page, live_server, "sam", lands_on="Today, Friday 26 February")
        upcoming = page.locator(".upcoming")
        expect(upcoming).to_contain_text(f"Your plan starts on {display.long_day(START)}.")
        expect(upcoming).to_contain_text("keep taking your medicine as you take it now")
        expect(page.get_by_text("Day 0 of")).to_have_count(0)
        expect(page.get_by_text("No doses today.")).to_have_count(0)
        scroll_width, viewport = page_width(page)
        assert scroll_width <= viewport
        assert serious_violations(page) == []
    assert START - before.date() == dt.timedelta(days=3)
