"""The service worker in Debian's chromium when the browser rotates the push subscription
(issue #17): on pushsubscriptionchange it subscribes again with the server's VAPID key
and posts the new subscription with the old endpoint, and the server swaps it in place.
Chromium does not fire the event on its own, so the test dispatches it in the worker,
with PushManager.subscribe standing in for the push service on the internet."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from planner.models import Patient
from reminders import push
from reminders.models import PushSubscription
from tests.support.browser import patient_log_in
from tests.support.clock import NOW
from tests.support.factories import patient_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEYS = push.vapid_keys_generate()
OLD: dict[str, Any] = {"endpoint": "https://push.example.org/send/old",
       "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22}}  # fmt: skip
NEW: dict[str, Any] = {"endpoint": "https://push.example.org/send/new",
       "keys": {"p256dh": "B" + "Q" * 86, "auth": "Q" * 22}}  # fmt: skip
ROTATE = """async ([oldEndpoint, fresh]) => {
  self.registration.pushManager.subscribe = async (options) => {
    const key = new Uint8Array(options.applicationServerKey);
    self.__subscribedWith = btoa(String.fromCharCode(...key))
      .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    return { endpoint: fresh.endpoint, toJSON: () => fresh };
  };
  const event = new ExtendableEvent("pushsubscriptionchange");
  Object.defineProperty(event, "oldSubscription", { value: { endpoint: oldEndpoint } });
  Object.defineProperty(event, "newSubscription", { value: null });
  // A synthetic event's waitUntil throws; the worker's handler has already started.
  self.dispatchEvent(event);
}"""


def test_the_worker_resubscribes_and_the_server_replaces_the_old_endpoint(
    browser: Any, live_server: Any, patient: Patient, django_user_model: Any, settings: Any
) -> None:
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = KEYS["public"], KEYS["private"]
    user = patient_account(django_user_model, patient, "sam")
    push.push_subscription_add(patient=patient, subscription=OLD, device_name="Sam's phone",
                               now=NOW)  # fmt: skip
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        patient_log_in(page, live_server, user.username)
        page.goto(f"{live_server.url}/me/settings/")  # registers the worker
        expect(page.get_by_role("heading", name="Notifications and text messages")).to_be_visible()
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        # The rotation comes when the patient is long logged out: no session, no CSRF token.
        context.clear_cookies()
        [worker] = [w for w in context.service_workers if w.url.endswith("/me/sw.js")]
        worker.evaluate(ROTATE, [OLD["endpoint"], NEW])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = PushSubscription.objects.get()
            if row.endpoint == NEW["endpoint"]:
                break
            page.wait_for_timeout(200)
        assert (row.endpoint, row.p256dh, row.auth) == (
            NEW["endpoint"], NEW["keys"]["p256dh"], NEW["keys"]["auth"]
        )
        assert (row.patient_id, row.device_name) == (patient.pk, "Sam's phone")
        assert worker.evaluate("self.__subscribedWith") == KEYS["public"]
    finally:
        context.close()
