"""The reminder loop on a phone (issue #17): Today at 390 px says what to take and that
the dose changed, offers the snooze and records it; the clinic's number is a tel: link;
axe-core finds nothing serious on the changed pages (Today, the e-mail's snooze page, a
moderate check-in's advice, the dashboard's "symptoms rising")."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from planner.models import Patient
from reminders import actions
from reminders.models import Dose, Reminder, ReminderKind
from tests.support.browser import log_in
from tests.support.clock import START
from tests.support.factories import patient_account
from tests.support.plans import active_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
# Monday 1 March 2027, the plan's first day (a change), 14:10 in New York: the 14:00
# dose (½ tablet of 5 mg) is due and can be taken until 17:00.
DUE = dt.datetime.combine(START, dt.time(14, 10), tzinfo=ZoneInfo("America/New_York"))


def serious_violations(page: Any) -> list[str]:
    results = Axe().run(page)
    return [
        f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


def fits_the_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"


def test_today_on_a_phone_says_what_to_take_and_snoozes(
    page: Any, live_server: Any, alice: Any, patient: Patient, django_user_model: Any
) -> None:
    patient.clinic.phone, patient.clinic.out_of_hours_phone = "+1 555 0100", "+1 555 0199"
    patient.clinic.opening_hours = "Mon–Fri 08:00–18:00"
    patient.clinic.save()
    user = patient_account(django_user_model, patient, "sam")
    user.set_password("a-long-new-passphrase-42")
    user.save()
    plan = active_plan(patient, alice)
    midday = Dose.objects.get(plan=plan, local_date=START, local_time=dt.time(14))
    page.set_viewport_size(PHONE)
    found: list[str] = []
    with time_machine.travel(DUE, tick=True):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill("sam")
        page.get_by_label("Password").fill("a-long-new-passphrase-42")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Today, Monday 1 March")).to_be_visible()
        card = page.locator(".dose-card", has_text="14:00")
        expect(card.locator(".dose-amount")).to_have_text("½ tablet of 5 mg (2.5 mg)")
        expect(card.get_by_text("Your dose changed today: check the amount.")).to_be_visible()
        expect(page.locator('a[href="tel:+15550100"]').first).to_be_visible()
        fits_the_phone(page)
        found += serious_violations(page)
        card.get_by_role("button", name="Remind me in 30 minutes").click()
        expect(page.get_by_text("again at 14:40")).to_be_visible()
        fits_the_phone(page)
        found += serious_violations(page)
        follow_up = Reminder.objects.get(dose=midday, kind=ReminderKind.DOSE_FOLLOW_UP)
        # The clock ticks in this test: 30 minutes after the click.
        assert dt.timedelta(0) <= follow_up.due_at - (DUE + dt.timedelta(minutes=30)) < (
            dt.timedelta(minutes=1)
        )
        # The e-mail's "Remind me later" page.
        token = actions.dose_link(midday.pk, "snooze", midday.catch_up_until)
        page.goto(f"{live_server.url}/a/{token}/")
        page.get_by_role("button", name="Remind me in 60 minutes").click()
        expect(page.get_by_text("We will remind you again at 15:10.")).to_be_visible()
        fits_the_phone(page)
        found += serious_violations(page)
        # A moderate check-in: advice, the clinic's numbers.
        page.goto(f"{live_server.url}/me/check-in/")
        for fieldset in page.locator("fieldset").all():
            fieldset.get_by_label("None").check()
        page.locator("fieldset", has_text="Itching").get_by_label("Moderate").check()
        page.get_by_role("button", name="Send my answers").click()
        rising = page.get_by_text("Your symptoms are rising: contact your clinic today.")
        expect(rising).to_be_visible()
        fits_the_phone(page)
        found += serious_violations(page)
        page.get_by_role("button", name="Log out").click()
        # The clinic's dashboard lists the plan with its one-click hold.
        page.set_viewport_size({"width": 1280, "height": 900})
        log_in(page, live_server)
        expect(page.get_by_role("button", name="Hold the current dose 3 days")).to_be_visible()
        found += serious_violations(page)
    assert found == []
