"""Continuity of treatment where the clinician meets it (issue #15): a first day in the
past is refused next to the field, and the plan page says what activating a replacement
will do before the clinician presses Activate."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect

from planner import services
from planner.models import Patient, PlanStatus, TaperPlan
from reminders.models import Dose, DoseStatus
from tests.support.browser import log_in
from tests.support.clock import START, TODAY
from tests.support.plans import engine_input

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]




def test_a_first_day_in_the_past_is_refused_next_to_the_field(
    page: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    log_in(page, live_server)
    page.goto(f"{live_server.url}/clinic/patients/{patient.pk}/plans/new/")
    # htmx (deferred) must be running, or the redraw on choosing is missed.
    page.wait_for_load_state("load")
    page.get_by_label("Medicine", exact=True).select_option("baclofen-oral-tablet")
    page.get_by_label("Months on therapy").fill("3")
    page.get_by_label("First day of the taper").fill((TODAY - dt.timedelta(days=3)).isoformat())
    page.get_by_label("Dose 1 time").fill("08:00")
    page.get_by_label("Dose 1 amount (mg)").fill("10")
    page.get_by_role("button", name="Save draft plan").click()
    field = page.locator(".field.has-error", has=page.locator("#id_start_date"))
    expect(field.locator(".field-error")).to_contain_text("today or later")
    assert not TaperPlan.objects.exists()


def test_the_plan_page_says_what_a_replacement_will_do_before_activation(
    page: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    running = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_activate(plan=running, by=alice)
    new_start = START + dt.timedelta(days=5)
    replacement = services.plan_create(
        patient=patient, by=alice,
        engine_input=engine_input(patient, start_date=new_start.isoformat()),
    )  # fmt: skip
    log_in(page, live_server)
    page.goto(f"{live_server.url}/clinic/plans/{replacement.pk}/")
    summary = page.get_by_role("region", name="What activation will do")
    expect(summary).to_contain_text(f"plan {running.pk} continues unchanged until")
    expect(summary).to_contain_text(f"{new_start - dt.timedelta(days=1):%d %B %Y}")
    page.get_by_role("button", name="Activate").click()
    expect(page.locator(".status")).to_contain_text("Active")
    running.refresh_from_db()
    assert (running.status, running.replaced_by_id) == (PlanStatus.ACTIVE, replacement.pk)
    last = (
        Dose.objects.filter(plan=running).exclude(status=DoseStatus.CANCELLED)
        .order_by("-local_date").values_list("local_date", flat=True).first()
    )
    assert last == new_start - dt.timedelta(days=1)
