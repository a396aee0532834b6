"""The patient portal in a real browser: the main path from the clinic's invitation to a
calendar subscription, and an axe-core accessibility check of every patient page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from playwright.sync_api import expect

from planner import services
from planner.models import Patient, TaperPlan
from portal.services import invite_link
from reminders import actions
from reminders.models import Dose, DoseStatus
from tests.support.browser import serious_violations
from tests.support.clock import START
from tests.support.plans import engine_input

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Monday 1 March 2027, 15:00 in New York: the 08:00 dose's window closed at 11:00, the
# 14:00 dose can still be taken until 17:00.
AFTERNOON = dt.datetime.combine(START, dt.time(15, 0), tzinfo=ZoneInfo("America/New_York"))
PHONE = {"width": 390, "height": 844}


def start_plan(patient: Patient, clinician: Any) -> TaperPlan:
    plan = services.plan_create(patient=patient, by=clinician, engine_input=engine_input(patient))
    with time_machine.travel(dt.datetime(2027, 2, 20, tzinfo=dt.UTC)):
        services.plan_activate(plan=plan, by=clinician)
    return plan


def dose(plan: TaperPlan, time: str) -> Dose:
    return Dose.objects.get(plan=plan, local_date="2027-03-01", local_time=time)


def test_a_patient_is_invited_records_a_dose_gets_missed_dose_help_and_subscribes(
    page: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    patient.email = "sam@example.org"
    patient.save()
    plan = start_plan(patient, alice)
    page.set_viewport_size(PHONE)
    with time_machine.travel(AFTERNOON, tick=True):
        # The clinician sends the invitation.
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("pw-for-tests-1")
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{live_server.url}/clinic/patients/{patient.pk}/")
        page.get_by_role("button", name="Invite to the patient portal").click()
        expect(page.get_by_text("Invitation sent")).to_be_visible()
        page.get_by_role("button", name="Log out").click()

        # The patient opens the link and chooses a password.
        link = re.search(r"http://\S+/me/welcome/\S+/", str(mail.outbox[-1].body))
        assert link is not None
        page.goto(live_server.url + "/me/welcome/" + link.group(0).split("/me/welcome/")[1])
        expect(page.get_by_role("heading", name="Welcome: choose your password")).to_be_visible()
        page.get_by_label("New password", exact=True).fill("a-long-new-passphrase-42")
        page.get_by_label("New password confirmation").fill("a-long-new-passphrase-42")
        page.get_by_role("button", name="Save my password").click()

        # Today.
        expect(page.get_by_role("heading", name="Today, Monday 1 March")).to_be_visible()
        expect(page.get_by_text("Day 1 of")).to_be_visible()
        morning = page.locator("li.dose-card", has_text="08:00")
        expect(morning.locator(".dose-state")).to_have_text("Missed")
        afternoon = page.locator("li.dose-card", has_text="14:00")
        expect(afternoon.locator(".dose-state")).to_have_text("Late: you can still take it")

        # Too late for the morning dose: nothing to record (Dose.state_at), the 14:00
        # one can still be taken or skipped.
        expect(morning.get_by_role("button")).to_have_count(0)
        expect(afternoon.get_by_role("button", name="I am skipping it")).to_be_visible()
        assert dose(plan, "08:00").status == DoseStatus.SCHEDULED

        # Missed-dose help for the 14:00 dose, from the clock.
        page.get_by_role("link", name="I missed a dose").click()
        advice = page.locator(".advice")
        expect(advice).to_contain_text("You can still take it now, until 17:00.")
        expect(advice).to_contain_text("take your 20:00 dose as usual")
        expect(advice).to_contain_text("Never take two doses at once.")
        page.get_by_role("button", name="I have taken it").click()
        expect(page.locator(".advice")).to_contain_text("This dose is recorded as taken.")
        assert dose(plan, "14:00").status == DoseStatus.TAKEN

        # Subscribe to the calendar.
        page.get_by_role("link", name="Calendar").click()
        page.get_by_label("Name of the device").fill("My phone")
        page.get_by_role("button", name="Add my plan to a calendar").click()
        expect(page.locator(".qr svg")).to_be_visible()
        expect(page.locator(".feed-url")).to_contain_text("/calendar/")
        expect(page.get_by_role("link", name="Google Calendar")).to_be_visible()




def test_every_patient_page_passes_the_axe_check(
    page: Any, live_server: Any, alice: Any, patient: Patient, django_user_model: Any
) -> None:
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="sam", email="sam@example.org")
    user.set_unusable_password()
    user.save()
    user.groups.add(Group.objects.get_or_create(name="patient")[0])
    patient.user = user
    patient.email = "sam@example.org"
    patient.save()
    start_plan(patient, alice)
    page.set_viewport_size(PHONE)
    # The check itself works: an unlabelled field is a critical violation.
    page.set_content('<html lang="en"><title>t</title><main><input type="text"></main></html>')
    assert any("label" in line for line in serious_violations(page))
    found: list[str] = []
    with time_machine.travel(AFTERNOON, tick=True):
        page.goto(live_server.url + invite_link(user).split("://", 1)[1].split("/", 1)[1].join(
            ["/", ""]
        ))
        expect(page.get_by_role("heading", name="Welcome: choose your password")).to_be_visible()
        found += serious_violations(page)
        page.get_by_label("New password", exact=True).fill("a-long-new-passphrase-42")
        page.get_by_label("New password confirmation").fill("a-long-new-passphrase-42")
        page.get_by_role("button", name="Save my password").click()
        expect(page.get_by_role("heading", name="Today, Monday 1 March")).to_be_visible()
        for path in (
            "/me/",
            "/me/plan/",
            "/me/missed/",
            f"/me/doses/{dose(patient.plans.get(), '08:00').pk}/missed/",
            "/me/check-in/",
            "/me/calendar/",
            "/me/history/",
            "/me/settings/",
        ):
            page.goto(live_server.url + path)
            found += serious_violations(page)
        # The calendar page while the address is shown, and a severe check-in's answer.
        page.goto(live_server.url + "/me/calendar/")
        page.get_by_label("Name of the device").fill("My phone")
        page.get_by_role("button", name="Add my plan to a calendar").click()
        expect(page.locator(".qr svg")).to_be_visible()
        found += serious_violations(page)
        # The list of devices and the confirmation before a new address or a stop.
        page.goto(live_server.url + "/me/calendar/")
        found += serious_violations(page)
        page.get_by_role("button", name="Make a new address").click()
        renew = page.get_by_role("heading", name="Make a new address for “My phone”?")
        expect(renew).to_be_visible()
        found += serious_violations(page)
        page.get_by_role("link", name="No, go back").click()
        page.get_by_role("button", name="Stop").click()
        expect(page.get_by_role("heading", name="Stop the address of “My phone”?")).to_be_visible()
        found += serious_violations(page)
        page.goto(live_server.url + "/me/check-in/")
        for fieldset in page.locator("fieldset").all():
            fieldset.get_by_label("None").check()
        page.locator("fieldset", has_text="fever").get_by_label("Severe").check()
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_text("Contact your clinic now.")).to_be_visible()
        found += serious_violations(page)
        # The pages behind the links in reminder e-mails, which open without a log-in.
        evening = dose(patient.plans.get(), "20:00")
        for token in (
            actions.dose_link(evening.pk, "taken", evening.catch_up_until),
            actions.check_in_link(evening.plan_id, AFTERNOON),
        ):
            page.goto(f"{live_server.url}/a/{token}/")
            found += serious_violations(page)
        page.goto(f"{live_server.url}/a/{'x' * 40}/")  # an expired or made-up link
        expect(page.get_by_role("link", name="Back to today")).to_be_visible()
        found += serious_violations(page)
        # The pages of a patient who is not logged in.
        page.get_by_role("button", name="Log out").click()
        for path in ("/accounts/login/", "/accounts/password-reset/",
                     "/accounts/password-reset/sent/"):
            page.goto(live_server.url + path)
            found += serious_violations(page)
    assert found == []
