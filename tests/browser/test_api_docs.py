"""The API's browsable documentation renders in a real browser under the site's CSP."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]




def test_swagger_ui_lists_the_operations(page: Any, live_server: Any, alice: Any) -> None:
    log_in(page, live_server)
    page.goto(f"{live_server.url}/api/v1/schema/docs/")
    expect(page.get_by_text("Taper Planner API").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/plans/preview/")).to_be_visible()


def test_redoc_lists_the_operations(page: Any, live_server: Any, alice: Any) -> None:
    log_in(page, live_server)
    page.goto(f"{live_server.url}/api/v1/schema/redoc/")
    expect(page.get_by_role("heading", name="Taper Planner API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/plans/preview/").first).to_be_attached()
