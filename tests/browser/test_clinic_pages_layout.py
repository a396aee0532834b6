"""The new-plan form and its live preview side by side (issue #18): measured in a real
browser at the widths a clinic's screens have, the preview never covers a field of the
form, and at a tablet's 768 px it still sits beside the form, not a page below it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from planner.models import Patient
from tests.support.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]




def fill_regimen(page: Any) -> None:
    # htmx (deferred) must be running, or the redraw on choosing is missed.
    page.wait_for_load_state("load")
    page.get_by_label("Medicine", exact=True).select_option("baclofen-oral-tablet")
    page.get_by_label("Months on therapy").fill("2")
    page.get_by_label("First day of the taper").fill("2027-04-05")
    page.get_by_label("Dose 1 time").fill("08:00")
    page.get_by_label("Dose 1 amount (mg)").fill("20")
    page.get_by_label("Dose 2 time").fill("14:00")
    page.get_by_label("Dose 2 amount (mg)").fill("20")
    page.get_by_label("Dose 3 time").fill("20:00")
    page.get_by_label("Dose 3 amount (mg)").fill("20")


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("width", [768, 1024, 1280, 1920])
def test_the_preview_never_covers_the_plan_form(
    page: Any, live_server: Any, alice: Any, patient: Patient, width: int
) -> None:
    # Pregnant in the third trimester: the preview shows its critical box too.
    patient.sex = "female"
    patient.pregnancy_trimester = 3
    patient.save()
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server)
    page.goto(f"{live_server.url}/clinic/patients/{patient.pk}/plans/new/")
    fill_regimen(page)
    preview = page.locator("#preview")
    expect(preview.locator(".critical-banner")).to_be_visible()
    expect(preview.locator("svg")).to_be_visible()

    form = page.locator("form.plan-form").bounding_box()
    box = preview.bounding_box()
    assert not overlaps(form, box), (form, box)
    for name in ("heading", "banner"):
        part = (preview.get_by_role("heading", name="Preview") if name == "heading"
                else preview.locator(".critical-banner")).bounding_box()
        assert not overlaps(form, part), (name, form, part)
    controls = page.locator("form.plan-form input:visible, form.plan-form select:visible")
    assert controls.count() > 10
    for index in range(controls.count()):
        control = controls.nth(index).bounding_box()
        # Inside the form's own column, and under no part of the preview.
        assert control["x"] >= form["x"] - 1, index
        assert control["x"] + control["width"] <= form["x"] + form["width"] + 1, index
        assert not overlaps(control, box), (index, control, box)
    # Beside the form at every one of these widths: its top within a line of the form's.
    assert box["x"] >= form["x"] + form["width"]
    assert abs(box["y"] - form["y"]) < 40, (form, box)
    # No sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_form_starts_empty_and_copies_a_plan_only_when_asked(
    page: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    from planner import services
    from tests.support.plans import engine_input

    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    log_in(page, live_server)
    page.goto(f"{live_server.url}/clinic/patients/{patient.pk}/plans/new/")
    expect(page.get_by_label("Medicine", exact=True)).to_have_value("")
    expect(page.get_by_label("Dose 1 amount (mg)")).to_have_count(0)
    expect(page.get_by_text("The form starts empty")).to_be_visible()
    page.get_by_role("link", name=f"Start from plan {plan.pk}").click()
    expect(page.get_by_text(f"Copied from plan {plan.pk}")).to_be_visible()
    expect(page.get_by_label("Dose 3 amount (mg)")).to_have_value("10")
    # Saved untouched, it is refused: no copy of plan N.
    page.get_by_role("button", name="Save draft plan").click()
    expect(page.get_by_text(f"Nothing differs from plan {plan.pk}")).to_be_visible()
    # The third dose removed: a new plan with two doses.
    page.get_by_label("Remove dose 3").check()
    page.get_by_role("button", name="Save draft plan").click()
    expect(page.get_by_role("heading", name="Taper plan")).to_be_visible()
    newest = patient.plans.order_by("-id").first()
    assert newest.pk != plan.pk
    assert len(newest.current_revision.engine_input["doses"]) == 2


def test_what_the_browser_cannot_read_as_a_number_is_refused_not_dropped(
    page: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    log_in(page, live_server)
    page.goto(f"{live_server.url}/clinic/patients/{patient.pk}/edit/")
    page.get_by_label("Weight (kg)").fill("seventy")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Weight (kg): enter a number in figures")).to_be_visible()
    patient.refresh_from_db()
    assert patient.weight_kg is None

    page.goto(f"{live_server.url}/clinic/patients/{patient.pk}/plans/new/")
    fill_regimen(page)
    page.get_by_label("Dose 2 amount (mg)").fill("2,5")
    expect(page.locator("#preview")).to_contain_text("Dose 2 amount (mg): write decimals")
    page.get_by_role("button", name="Save draft plan").click()
    expect(page.locator(".field-error").first).to_contain_text("write decimals with a point")
    assert patient.plans.count() == 0


def test_each_step_shows_its_own_missed_dose_advice_in_the_browser(
    page: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    from planner import services
    from tests.support.plans import engine_input

    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    log_in(page, live_server)
    page.goto(f"{live_server.url}/clinic/plans/{plan.pk}/")
    advice = page.locator(".missed-step")
    first = advice.filter(has=page.get_by_role("heading", name="Step 1 ("))
    expect(first).to_contain_text("If you miss the 14:00 dose")
    later = advice.filter(has=page.get_by_role("heading", name="Steps 3–4"))
    expect(later).to_contain_text("If you miss the 20:00 dose")
    expect(later).not_to_contain_text("14:00")
