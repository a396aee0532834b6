"""Today and My plan of a patient on two tapers (baclofen and diazepam) on a phone
(390 px), issue #22: each dose and each plan names its medicine, nothing is wider than
the screen, and axe finds nothing serious."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from playwright.sync_api import expect

from planner.models import Patient
from planner.roles import Role
from tests.browser.test_patient_portal import PHONE
from tests.browser.test_patient_today_phone import page_width
from tests.support.browser import log_in, serious_violations
from tests.support.factories import make_staff, patient_account
from tests.support.plans import active_plan, at_new_york
from tests.support.two_tapers import drug_plan

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_today_and_my_plan_with_two_tapers_fit_a_phone_and_name_each_medicine(
    page: Any, live_server: Any, alice: Any, patient: Patient, django_user_model: Any,
    clinic: Any,
) -> None:
    patient_account(django_user_model, patient, "sam")
    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    active_plan(patient, alice)
    drug_plan(patient, alice, bob)
    page.set_viewport_size(PHONE)
    with time_machine.travel(at_new_york("2027-03-02", "10:00"), tick=True):
        log_in(page, live_server, "sam", lands_on="Today, Tuesday 2 March")
        cards = page.locator(".dose-card")
        expect(cards).to_have_count(5)
        expect(cards.filter(has_text="09:00")).to_contain_text("(diazepam ")
        expect(cards.filter(has_text="14:00")).to_contain_text("(baclofen ")
        expect(page.locator("progress")).to_have_count(2)
        expect(page.locator(".dose-change")).to_have_count(2)
        scroll_width, viewport = page_width(page)
        assert scroll_width <= viewport == PHONE["width"]
        assert serious_violations(page) == []
        page.get_by_role("link", name="My plan").first.click()
        expect(page.get_by_role("heading", name="Your diazepam plan")).to_be_visible()
        expect(page.get_by_role("heading", name="Your baclofen plan")).to_be_visible()
        expect(page.locator("figure.chart")).to_have_count(2)
        assert serious_violations(page) == []
