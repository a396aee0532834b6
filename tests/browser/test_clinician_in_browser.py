"""A clinician creates a patient and a plan in a real browser, watching the preview."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from planner.models import Patient, TaperPlan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_clinician_creates_a_patient_and_a_plan_and_sees_the_preview_change(
    page: Any, live_server: Any, alice: Any
) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Clinic dashboard")).to_be_visible()

    page.get_by_role("link", name="Add a patient").first.click()
    page.get_by_label("Given name").fill("Casey")
    page.get_by_label("Family name").fill("Browser")
    page.get_by_label("Date of birth").fill("1960-05-04")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Home time zone").select_option("Europe/Berlin")
    page.get_by_label("Weight (kg)").fill("70")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Casey Browser")).to_be_visible()
    patient = Patient.objects.get(family_name="Browser")

    page.get_by_role("link", name="New taper plan").click()
    # htmx (deferred) must be running, or the redraw on choosing is missed.
    page.wait_for_load_state("load")
    page.get_by_label("Medicine", exact=True).select_option("baclofen-oral-tablet")
    page.get_by_label("Months on therapy").fill("2")
    page.get_by_label("First day of the taper").fill("2027-04-05")
    page.get_by_label("Dose 1 time").fill("08:00")
    page.get_by_label("Dose 1 amount (mg)").fill("10")
    page.get_by_label("Dose 2 time").fill("20:00")
    page.get_by_label("Dose 2 amount (mg)").fill("10")
    preview = page.locator("#preview")
    # Age 66 on the start date: the protocol's × 1.5 gives 21 days, not 14.
    expect(preview).to_contain_text("21 days")
    expect(preview.locator("svg")).to_be_visible()
    expect(preview).to_contain_text("ELDERLY")

    page.get_by_label("Pace").select_option("slower")
    expect(preview).to_contain_text("32 days")

    page.get_by_role("button", name="Save draft plan").click()
    expect(page.get_by_role("heading", name="Taper plan")).to_be_visible()
    expect(page.locator("figure.chart svg")).to_be_visible()
    expect(page.get_by_text("Pharmacy order")).to_be_visible()
    plan = TaperPlan.objects.get(patient=patient)
    assert plan.current_revision.engine_output["duration_days"] == 32
