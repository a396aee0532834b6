"""The Supply section on a phone (issue #17): Today's line leads to My plan's section,
which fits 390 px, reads per strength and is axe-clean."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from playwright.sync_api import expect

from planner.models import Patient
from tests.browser.test_patient_portal import PHONE
from tests.browser.test_patient_today_phone import page_width
from tests.support.browser import log_in, serious_violations
from tests.support.factories import patient_account
from tests.support.plans import active_plan, at_new_york, supply_dispensed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_supply_line_on_today_opens_the_supply_section_of_my_plan_on_a_phone(
    page: Any, live_server: Any, alice: Any, patient: Patient, django_user_model: Any
) -> None:
    patient_account(django_user_model, patient, "sam")
    plan = active_plan(patient, alice)
    supply_dispensed(plan, alice)
    page.set_viewport_size(PHONE)
    with time_machine.travel(at_new_york("2027-03-01", "12:00"), tick=True):
        log_in(page, live_server, "sam", lands_on="Today, Monday 1 March")
        line = page.locator(".supply-soon")
        expect(line).to_contain_text("Your medicine runs out on Saturday 6 March.")
        scroll_width, viewport = page_width(page)
        assert scroll_width <= viewport == PHONE["width"]
        assert serious_violations(page) == []
        line.get_by_role("link", name="See your supply").click()
        section = page.locator("section.supply")
        expect(section.get_by_role("heading", name="Your supply")).to_be_visible()
        ten = section.locator("li", has=page.get_by_role("heading", name="10 mg tablets"))
        expect(ten).to_contain_text("Needed from today")
        expect(ten).to_contain_text("13 tablets")
        expect(ten).to_contain_text("8 tablets (1 March 2027)")
        expect(ten).to_contain_text("Saturday 6 March")
        five = section.locator("li", has=page.get_by_role("heading", name="5 mg tablets"))
        expect(five).to_contain_text("Lasts the whole plan")
        scroll_width, viewport = page_width(page)
        assert scroll_width <= viewport == PHONE["width"]
        assert serious_violations(page) == []
