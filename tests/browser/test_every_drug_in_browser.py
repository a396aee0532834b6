"""Issue #22 in a real browser: the clinician picks clonazepam first, the form then offers
its strengths and the switch to diazepam, the preview shows the equivalence, and the plan
is saved; the pages pass axe. Without JavaScript, a button shows the medicine's fields."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from planner.models import Patient, TaperPlan
from tests.support.browser import log_in, serious_violations
from tests.support.clock import START

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_clinician_picks_clonazepam_first_switches_to_diazepam_and_saves_the_plan(
    page: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    log_in(page, live_server)
    page.goto(f"{live_server.url}/clinic/patients/{patient.pk}/plans/new/")
    # Before a medicine is chosen, nothing else is asked.
    expect(page.get_by_label("Dose 1 time")).to_have_count(0)
    expect(page.locator("#preview")).to_contain_text("Choose the medicine first")
    assert serious_violations(page) == []

    page.get_by_label("Medicine", exact=True).select_option("clonazepam-oral-tablet")
    expect(page.locator(".medicine-facts")).to_contain_text("Clonazepam")
    page.get_by_label("Months on therapy").fill("60")
    page.get_by_label("First day of the taper").fill(START.isoformat())
    page.get_by_label("Switch to a longer-acting benzodiazepine first").select_option(
        "diazepam-oral-tablet"
    )
    page.get_by_label("Dose 1 time").fill("08:00")
    page.get_by_label("Dose 1 amount (mg)").fill("1")
    page.get_by_label("Dose 2 time").fill("20:00")
    page.get_by_label("Dose 2 amount (mg)").fill("1")
    preview = page.locator("#preview")
    expect(preview.locator(".equivalence")).to_contain_text("Switch from Clonazepam")
    expect(preview).to_contain_text("EQUIVALENCE_SWITCH")
    expect(preview.locator("svg")).to_be_visible()
    assert serious_violations(page) == []

    page.get_by_role("button", name="Save draft plan").click()
    expect(page.get_by_role("heading", name="Taper plan")).to_contain_text("Clonazepam")
    expect(page.locator(".equivalence")).to_be_visible()
    assert serious_violations(page) == []
    plan = TaperPlan.objects.get(patient=patient)
    assert plan.drug == "clonazepam"
    assert plan.current_revision.engine_input["switch_to"] == "diazepam-oral-tablet"


def test_without_javascript_a_button_shows_the_fields_of_the_chosen_medicine(
    browser: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("pw-for-tests-1")
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{live_server.url}/clinic/patients/{patient.pk}/plans/new/")
        page.get_by_label("Medicine", exact=True).select_option("gabapentin-oral-capsule")
        page.get_by_role("button", name="Show the fields for this medicine").click()
        expect(page.locator(".kidney-facts")).to_contain_text("not recorded")
        page.get_by_label("Months on therapy").fill("12")
        page.get_by_label("First day of the taper").fill(START.isoformat())
        for row, time in enumerate(("08:00", "14:00", "20:00"), start=1):
            page.get_by_label(f"Dose {row} time").fill(time)
            page.get_by_label(f"Dose {row} amount (mg)").fill("300")
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#preview")).to_contain_text("gabapentinoid-oral")
        page.get_by_role("button", name="Save draft plan").click()
        expect(page.get_by_role("heading", name="Taper plan")).to_contain_text("Gabapentin")
    finally:
        context.close()
    assert TaperPlan.objects.get(patient=patient).drug == "gabapentin"


def test_a_medicine_chosen_before_htmx_is_ready_still_shows_its_fields(
    page: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    """htmx loads deferred: a clinician quick enough (or a slow network) chose the
    medicine before it was ready, and nothing came. The page now sends the choice once
    htmx is ready. Here htmx is held back until the medicine has been chosen."""
    log_in(page, live_server)
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)

    page.route("**/vendor/htmx.min.js", hold)
    page.goto(f"{live_server.url}/clinic/patients/{patient.pk}/plans/new/", wait_until="commit")
    page.get_by_label("Medicine", exact=True).select_option("clonazepam-oral-tablet")
    expect(page.locator(".medicine-facts")).to_have_count(0)
    for _ in range(50):  # the request for htmx is in flight and held
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1
    held[0].continue_()

    expect(page.locator(".medicine-facts")).to_contain_text("Clonazepam")
    expect(page.get_by_label("Dose 1 time")).to_be_visible()
    expect(page.get_by_label("Medicine", exact=True)).to_have_value("clonazepam-oral-tablet")
