"""An abrupt-stop alert worked in a real browser (issue #18): from the dashboard to the
alert, acknowledged, annotated and closed, with who and when on the page."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from planner import services
from planner.models import Patient
from reminders.models import AbruptStopAlert, AlertReason
from tests.support.plans import engine_input

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_clinician_works_an_alert_from_the_dashboard_to_closed(
    page: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    patient.clinic.time_zone = "America/New_York"
    patient.clinic.save()
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    alert = AbruptStopAlert.objects.create(
        plan=plan, reason=AlertReason.CONSECUTIVE_MISSED, since=timezone.now(),
        raised_at=timezone.now(), detail="Two doses in a row were not taken.",
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    row = page.locator("tr", has_text="Two doses in a row missed.")
    expect(row).to_contain_text("not acknowledged")
    expect(row).not_to_contain_text("were not taken")
    row.get_by_role("link", name=f"Alert {alert.pk}").click()

    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Alert acknowledged.")).to_be_visible()
    expect(page.locator("dd", has_text="acknowledged by alice")).to_be_visible()
    page.get_by_label("Note").fill("Called patient, restarted 10 mg")
    page.get_by_role("button", name="Add the note").click()
    expect(page.locator(".alert-events")).to_contain_text("Called patient, restarted 10 mg")
    page.get_by_role("button", name="Close the alert").click()
    expect(page.get_by_text("Alert closed.")).to_be_visible()
    expect(page.locator("dd", has_text="Closed")).to_contain_text("by alice")
    expect(page.get_by_role("button", name="Close the alert")).to_have_count(0)
    page.get_by_role("link", name="← Dashboard").click()
    expect(page.get_by_text("Two doses in a row missed.")).to_have_count(0)


def test_the_clinic_pages_of_issue_18_pass_the_axe_check(
    page: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    from tests.support.plans import active_plan

    plan = active_plan(patient, alice)
    alert = AbruptStopAlert.objects.create(
        plan=plan, reason=AlertReason.CONSECUTIVE_MISSED, since=timezone.now(),
        raised_at=timezone.now(),
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    problems = []
    for path in ("/clinic/", f"/clinic/alerts/{alert.pk}/", f"/clinic/plans/{plan.pk}/",
                 f"/clinic/plans/{plan.pk}/handout/", f"/clinic/patients/{patient.pk}/plans/new/",
                 f"/clinic/patients/{patient.pk}/edit/"):
        page.goto(live_server.url + path)
        results = Axe().run(page)
        problems += [
            f"{path}: {v['id']} ({v['impact']}): {v['help']}"
            for v in results.response["violations"] if v["impact"] in {"serious", "critical"}
        ]
    assert problems == []
