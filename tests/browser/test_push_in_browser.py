"""Push in Debian's chromium: the patient turns notifications on in Settings (the page
registers the portal's service worker and sends the subscription), the server's own
payload for a dose reminder is delivered to the worker through the DevTools protocol
(ServiceWorker.deliverPushMessage), and the worker shows the notification with the
e-mail's answers; tapping an answer opens its confirmation page. The new parts of
Settings (notifications and texts) pass axe-core on a phone."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect

from planner.models import Patient
from reminders import actions, messages, push
from reminders.models import PushSubscription, Reminder, ReminderKind
from tests.support.browser import serious_violations
from tests.support.clock import START
from tests.support.factories import patient_account
from tests.support.plans import active_plan
from tests.support.standins import twilio_stand_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MORNING = dt.datetime.combine(START, dt.time(8, 0), tzinfo=ZoneInfo("America/New_York"))
PHONE = {"width": 390, "height": 844}
KEYS = push.vapid_keys_generate()
# The browser's push service is on the internet; the test stands in for
# PushManager.subscribe, keeping the key the page passes it (across the page's reload
# after subscribing), and answers with a
# subscription whose keys are well formed.
FAKE_SUBSCRIBE = """
PushManager.prototype.subscribe = async function (options) {
  const key = new Uint8Array(options.applicationServerKey);
  sessionStorage.subscribedWith = btoa(String.fromCharCode(...key))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const subscription = %s;
  return { toJSON: () => subscription };
};
"""


def wait_for(page: Any, read: Any, timeout: float = 10.0) -> Any:
    """Poll while Playwright goes on handling the browser's events (a plain sleep would
    hold back the DevTools events the test waits for)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value:
            return value
        page.wait_for_timeout(200)
    raise AssertionError("timed out")


def test_notifications_are_turned_on_and_a_pushed_reminder_shows_its_answers(
    browser: Any, live_server: Any, alice: Any, patient: Patient, django_user_model: Any,
    settings: Any,
) -> None:  # fmt: skip
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = KEYS["public"], KEYS["private"]
    settings.SITE_URL = live_server.url
    user = patient_account(django_user_model, patient, "sam")
    plan = active_plan(patient, alice)
    subscription = {
        "endpoint": "https://push.example.org/send/abc",
        "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
    }
    context = browser.new_context(viewport=PHONE)
    context.grant_permissions(["notifications"], origin=live_server.url)
    context.add_init_script(FAKE_SUBSCRIBE % json.dumps(subscription))
    page = context.new_page()
    page.set_default_timeout(15_000)
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)  # fmt: skip
    try:
        with twilio_stand_in() as twilio, time_machine.travel(MORNING, tick=True):
            settings.SMS_PROVIDER, settings.SMS_FROM = "twilio", "+15005550006"
            settings.SMS_TWILIO_ACCOUNT_SID = twilio.account_sid
            settings.SMS_TWILIO_AUTH_TOKEN = twilio.auth_token
            settings.SMS_TWILIO_API_BASE = twilio.base
            page.goto(f"{live_server.url}/accounts/login/")
            page.get_by_label("Username").fill(user.username)
            page.get_by_label("Password").fill("pw-for-tests-1")
            page.get_by_role("button", name="Log in").click()
            page.goto(f"{live_server.url}/me/settings/")
            heading = page.get_by_role("heading", name="Notifications and text messages")
            expect(heading).to_be_visible()
            assert serious_violations(page) == []

            # The page registered the worker, scoped to the portal.
            scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
            assert scope == f"{live_server.url}/me/"
            page.get_by_label("Name of this device").fill("Sam's phone")
            page.get_by_role("button", name="Turn on notifications on this device").click()
            turn_off = page.get_by_role("button", name="Turn off notifications on Sam's phone")
            expect(turn_off).to_be_visible()
            assert page.evaluate("sessionStorage.subscribedWith") == KEYS["public"]
            stored = PushSubscription.objects.get(patient=patient)
            assert stored.endpoint == subscription["endpoint"]
            assert stored.device_name == "Sam's phone"
            # The texts part with a code asked for, and an error shown, passes axe too.
            page.get_by_label("Mobile number, with its country code").fill("12")
            page.get_by_role("button", name="Text me a code").click()
            expect(page.get_by_text("Phone number: write it with its country code")).to_be_visible()
            assert serious_violations(page) == []
            page.get_by_label("Mobile number, with its country code").fill("+34600111222")
            page.get_by_role("button", name="Text me a code").click()
            expect(page.get_by_label("The 6-digit code we texted you")).to_be_visible()
            assert serious_violations(page) == []

            # The server's own payload for the 08:00 reminder, delivered to the worker.
            row = Reminder.objects.get(dose__local_date=START, dose__local_time="08:00",
                                       plan=plan, kind=ReminderKind.DOSE)  # fmt: skip
            data = push.payload(messages.messages_for(row)[0])
            cdp = context.new_cdp_session(page)
            registrations: list[dict[str, Any]] = []
            cdp.on("ServiceWorker.workerRegistrationUpdated",
                   lambda event: registrations.extend(event["registrations"]))  # fmt: skip
            cdp.send("ServiceWorker.enable")
            registration = wait_for(page, lambda: next(
                (r for r in registrations if r["scopeURL"] == scope and not r["isDeleted"]), None
            ))  # fmt: skip
            cdp.send("ServiceWorker.deliverPushMessage", {
                "origin": live_server.url, "registrationId": registration["registrationId"],
                "data": data,
            })  # fmt: skip
            shown = wait_for(page, lambda: page.evaluate(
                """navigator.serviceWorker.ready
                   .then((r) => r.getNotifications())
                   .then((list) => list.map((n) => ({title: n.title, body: n.body,
                       actions: n.actions.map((a) => a.title), data: n.data})))"""
            ))  # fmt: skip
            [notification] = shown
            assert notification["title"] == "Time for your 08:00 medication dose"
            assert "baclofen" not in notification["body"].lower()
            # Chromium shows as many of the e-mail's answers as the platform allows.
            answers = ["I have taken it", "I am skipping it", "I missed it — what now?"]
            assert notification["actions"] == answers[: len(notification["actions"])]
            assert len(notification["actions"]) >= 2
            assert notification["data"]["url"] == f"{live_server.url}/me/"

            # Tapping "I have taken it" opens that answer's confirmation page.
            [worker] = [w for w in context.service_workers if w.url.endswith("/me/sw.js")]
            opened = worker.evaluate("""async () => {
                self.clients.openWindow = async (url) => { self.__opened = url; return null; };
                const [n] = await self.registration.getNotifications();
                try {
                  self.dispatchEvent(new NotificationEvent("notificationclick",
                                                           {notification: n, action: "link-0"}));
                } catch (error) {}
                return self.__opened;
            }""")  # fmt: skip
            token = opened.rsplit("/a/", 1)[1].strip("/")
            link = actions.read_action(token)
            assert link is not None
            assert (link.object_id, link.action) == (row.dose_id, "taken")
            page.goto(opened)
            expect(page.get_by_role("button", name="Yes, I have taken it")).to_be_visible()
    finally:
        context.close()
    assert violations == [], "the page broke its Content-Security-Policy"
