"""A caregiver in Debian's chromium on a phone (390 px), issue #17: the patient names one
in Settings, the caregiver opens the invitation's link with no account and confirms,
the patient sees them as told and removes them after confirming. Every page passes
axe-core and none is wider than the phone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import expect

from planner.models import Patient
from reminders.models import Caregiver, CaregiverStatus
from tests.support.browser import patient_log_in, serious_violations
from tests.support.factories import patient_account
from tests.support.plans import active_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def fits_the_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"
    assert serious_violations(page) == []


def test_a_caregiver_confirms_with_no_account_and_the_patient_removes_them(
    browser: Any, live_server: Any, alice: Any, patient: Patient, django_user_model: Any,
    settings: Any,
) -> None:  # fmt: skip
    settings.SITE_URL = live_server.url
    user = patient_account(django_user_model, patient, "sam")
    active_plan(patient, alice)
    patient_side = browser.new_context(viewport=PHONE)
    caregiver_side = browser.new_context(viewport=PHONE)  # no session: a stranger's phone
    try:
        page = patient_side.new_page()
        page.set_default_timeout(15_000)
        patient_log_in(page, live_server, user.username)
        page.goto(f"{live_server.url}/me/settings/")
        expect(page.get_by_role("heading", name="Someone at home who is told")).to_be_visible()
        # Refused first: the error is next to the field, and the page still fits.
        page.get_by_label("Their name").fill("Maria")
        page.get_by_role("button", name="Send the invitation").click()
        expect(page.get_by_text("Give an e-mail address or a mobile number")).to_be_visible()
        fits_the_phone(page)
        page.get_by_label("Their e-mail address").fill("maria@example.net")
        page.get_by_role("button", name="Send the invitation").click()
        expect(page.get_by_text("invited, not yet confirmed: told nothing")).to_be_visible()
        fits_the_phone(page)

        [invitation] = mail.outbox
        link = re.search(r"http\S+/c/\S+/", str(invitation.body))
        assert link is not None
        other = caregiver_side.new_page()
        other.set_default_timeout(15_000)
        other.goto(link.group())
        asks = other.get_by_role("heading", name="Someone you know asks you to be told")
        expect(asks).to_be_visible()
        fits_the_phone(other)
        assert Caregiver.objects.get().status == CaregiverStatus.INVITED
        other.get_by_role("button", name="Yes, tell me").click()
        expect(other.get_by_role("heading", name="Thank you: you are confirmed")).to_be_visible()
        fits_the_phone(other)
        assert Caregiver.objects.get().status == CaregiverStatus.CONFIRMED

        page.reload()
        expect(page.get_by_text("confirmed, is told")).to_be_visible()
        page.get_by_role("link", name="Remove Maria").click()
        expect(page.get_by_role("heading", name="Remove Maria?")).to_be_visible()
        fits_the_phone(page)
        page.get_by_role("button", name="Yes, remove Maria").click()
        expect(page.get_by_text("Nobody is told for now.")).to_be_visible()
        assert Caregiver.objects.get().status == CaregiverStatus.REMOVED

        # The link no longer works once they are removed.
        other.goto(link.group())
        expect(other.get_by_role("heading", name="This invitation no longer works")).to_be_visible()
        fits_the_phone(other)
    finally:
        patient_side.close()
        caregiver_side.close()
