"""Steps the browser tests share (tests/browser)."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

SERIOUS = {"serious", "critical"}


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page, one line each."""
    results = Axe().run(page)
    return [
        f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


def patient_log_in(page: Any, live_server: Any, username: str) -> None:
    """A patient of the suite (password pw-for-tests-1) logs in and lands on Today."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/me/")


def log_in(
    page: Any, live_server: Any, username: str = "alice", lands_on: str = "Clinic dashboard"
) -> None:
    """A user of the suite (password pw-for-tests-1) logs in and sees their first page: the
    dashboard for staff, Today ("Today, <day>") for a patient."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=lands_on)).to_be_visible()
