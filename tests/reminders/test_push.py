"""Web Push reminders, end to end against a push service on 127.0.0.1 that decrypts each
notification with the subscription's own keys and checks the VAPID signature; each
channel's outcome kept on its own, so a retry sends only where it has not arrived."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from py_vapid import Vapid

from planner.models import Patient, TaperPlan
from reminders import actions, dispatch, messages, push
from reminders.channels import Channel, EmailChannel, InAppChannel, PushChannel
from reminders.models import (
    Delivery,
    DeliveryStatus,
    EmailAddressStatus,
    PushSubscription,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from tests.support import channels as channel_steps
from tests.support.clock import NOW
from tests.support.factories import patient_account
from tests.support.plans import active_plan
from tests.support.standins import PushStandIn, push_stand_in

CHANNELS: list[Channel] = [EmailChannel(), InAppChannel(), PushChannel()]
KEYS = push.vapid_keys_generate()


@pytest.fixture
def service(settings: Any) -> Iterator[PushStandIn]:
    settings.VAPID_PUBLIC_KEY = KEYS["public"]
    settings.VAPID_PRIVATE_KEY = KEYS["private"]
    settings.VAPID_SUBJECT = "mailto:clinic@example.org"
    with push_stand_in() as stand_in:
        settings.PUSH_TEST_ENDPOINTS = [stand_in.base]
        yield stand_in
    assert stand_in.errors == []


@pytest.fixture
def plan(alice: Any, patient: Patient) -> TaperPlan:
    patient.email = "sam@example.org"
    patient.save()
    return active_plan(patient, alice)


def subscribe(service: PushStandIn, patient: Patient, name: str = "Phone") -> PushSubscription:
    return push.push_subscription_add(
        patient=patient, subscription=service.subscription(), device_name=name, now=NOW
    )


def deliver(row: Reminder, now: dt.datetime) -> str:
    return channel_steps.deliver(row, now, CHANNELS)


dose_row = channel_steps.first_dose_reminder


def test_a_dose_reminder_arrives_encrypted_with_the_email_actions_and_no_drug_or_dose(
    service: PushStandIn, plan: TaperPlan, caplog: pytest.LogCaptureFixture
) -> None:
    subscription = subscribe(service, plan.patient)
    row, now = dose_row(plan)
    caplog.set_level(logging.INFO)  # the production level

    assert deliver(row, now) == "sent"

    [received] = service.received
    notice = received.payload
    assert notice["title"] == "Time for your 08:00 medication dose"
    assert "08:00" in notice["body"]
    assert "call your clinic" in notice["body"]
    assert "baclofen" not in json.dumps(notice).lower()
    assert " mg" not in notice["body"]
    assert notice["url"].endswith(reverse("patient_today"))
    # The e-mail's answers and its snooze, each its signed link to the confirmation page.
    assert [action["title"] for action in notice["actions"]] == [
        "I have taken it", "I am skipping it", "I missed it — what now?", "Remind me later"
    ]
    answers = ("taken", "skipped", "missed", "snooze")
    for action, answer in zip(notice["actions"], answers, strict=True):
        token = action["url"].rsplit("/a/", 1)[1].strip("/")
        link = actions.read_action(token, now)
        assert link is not None
        assert (link.object_id, link.action) == (row.dose_id, answer)
    assert received.vapid_claims["sub"] == "mailto:clinic@example.org"
    assert received.vapid_claims["aud"] == service.base
    assert received.vapid_public_key == KEYS["public"]
    assert int(received.headers["ttl"]) == push.PUSH_TTL_SECONDS
    outcomes = dict(Delivery.objects.filter(reminder=row).values_list("channel", "status"))
    assert outcomes == {"email": DeliveryStatus.SENT, "push": DeliveryStatus.SENT}
    assert subscription.endpoint not in caplog.text
    assert subscription.auth not in caplog.text


def test_detailed_text_names_the_drug_in_the_notification(
    service: PushStandIn, plan: TaperPlan
) -> None:
    Patient.objects.filter(pk=plan.patient_id).update(calendar_detailed_titles=True)
    subscribe(service, plan.patient)
    row, now = dose_row(plan)
    deliver(row, now)
    assert "baclofen" in service.received[0].payload["body"]


def test_every_device_of_the_patient_gets_it(service: PushStandIn, plan: TaperPlan) -> None:
    subscribe(service, plan.patient, "Phone")
    subscribe(service, plan.patient, "Laptop")
    row, now = dose_row(plan)
    deliver(row, now)
    assert sorted(received.path for received in service.received) == ["/push/1", "/push/2"]


def test_an_expired_subscription_is_removed_and_the_other_device_still_gets_it(
    service: PushStandIn, plan: TaperPlan
) -> None:
    gone = subscribe(service, plan.patient, "Old phone")
    kept = subscribe(service, plan.patient, "New phone")
    service.answers["/push/1"] = 410
    row, now = dose_row(plan)

    assert deliver(row, now) == "sent"

    assert list(PushSubscription.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not PushSubscription.objects.filter(pk=gone.pk).exists()
    assert [received.path for received in service.received] == ["/push/2"]


def test_when_the_only_subscription_has_expired_the_email_still_counts(
    service: PushStandIn, plan: TaperPlan
) -> None:
    subscribe(service, plan.patient)
    service.answers["/push/1"] = 404
    row, now = dose_row(plan)

    assert deliver(row, now) == "sent"

    assert not PushSubscription.objects.exists()
    outcomes = dict(Delivery.objects.filter(reminder=row).values_list("channel", "status"))
    assert outcomes == {"email": DeliveryStatus.SENT, "push": DeliveryStatus.FAILED}
    assert len(mail.outbox) == 1


def test_a_push_service_that_is_away_is_retried_without_sending_the_email_again(
    service: PushStandIn, plan: TaperPlan
) -> None:
    subscribe(service, plan.patient)
    service.answers["/push/1"] = 503
    row, now = dose_row(plan)

    assert deliver(row, now) == "retry"
    assert len(mail.outbox) == 1
    push_delivery = Delivery.objects.get(reminder=row, channel="push")
    assert (push_delivery.status, push_delivery.attempts) == (DeliveryStatus.RETRYING, 1)
    assert Reminder.objects.get(pk=row.pk).status == ReminderStatus.PENDING

    del service.answers["/push/1"]
    assert deliver(row, now + dt.timedelta(minutes=1)) == "sent"

    assert len(mail.outbox) == 1  # the e-mail went once
    assert len(service.received) == 1
    push_delivery.refresh_from_db()
    assert (push_delivery.status, push_delivery.attempts) == (DeliveryStatus.SENT, 2)
    # A redelivered copy of the finished task sends nothing anywhere.
    assert dispatch.reminder_deliver(reminder_id=row.pk, now=now, channels=CHANNELS) == (
        "not claimed"
    )
    assert (len(mail.outbox), len(service.received)) == (1, 1)


def test_a_patient_without_push_gets_no_push_row(service: PushStandIn, plan: TaperPlan) -> None:
    row, now = dose_row(plan)
    deliver(row, now)
    assert list(Delivery.objects.filter(reminder=row).values_list("channel", flat=True)) == [
        "email"
    ]
    assert service.received == []


# --- the patient's browsers --------------------------------------------------------------


@pytest.fixture
def sam_client(client: Client, django_user_model: Any, patient: Patient) -> Client:
    return channel_steps.logged_in_patient(client, django_user_model, patient)


def test_the_settings_page_stores_the_browsers_subscription(
    service: PushStandIn, sam_client: Client, patient: Patient
) -> None:
    body = {"subscription": service.subscription(), "device_name": "Kitchen tablet"}
    response = sam_client.post(
        reverse("patient_push_subscribe"), json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201
    row = PushSubscription.objects.get(pk=response.json()["id"])
    assert (row.patient_id, row.device_name) == (patient.pk, "Kitchen tablet")
    page = sam_client.get(reverse("patient_settings")).content.decode()
    assert "Kitchen tablet" in page
    assert KEYS["public"] in page

    response = sam_client.post(
        reverse("patient_settings"), {"action": "push_remove", "subscription": row.pk}
    )
    assert response.status_code == 302
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body"),
        ({"subscription": "x"}, "subscription"),
        ({"subscription": {"endpoint": "http://evil.example/x", "keys": {}}}, "endpoint"),
        ({"subscription": {"endpoint": "https://push.example/x"}}, "keys"),
        ({"subscription": {"endpoint": "https://push.example/x",
                           "keys": {"p256dh": "AAAA", "auth": "AAAA"}}}, "keys.p256dh"),
    ],
)
def test_a_bad_subscription_is_refused_naming_the_field(
    service: PushStandIn, sam_client: Client, body: Any, field: str
) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    response = sam_client.post(
        reverse("patient_push_subscribe"), data, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith(field + ":")
    assert not PushSubscription.objects.exists()


def test_without_vapid_keys_there_is_no_push(sam_client: Client, settings: Any) -> None:
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    page = sam_client.get(reverse("patient_settings")).content.decode()
    assert "push-settings" not in page
    assert sam_client.post(reverse("patient_push_subscribe"), "{}",
                           content_type="application/json").status_code == 404  # fmt: skip


def test_the_web_app_files_are_public_and_scoped_to_the_portal(client: Client) -> None:
    manifest = client.get(reverse("web_manifest"))
    data = json.loads(manifest.content)
    assert manifest["Content-Type"] == "application/manifest+json"
    assert (data["start_url"], data["scope"], data["display"]) == ("/me/", "/me/", "standalone")
    assert {icon["sizes"] for icon in data["icons"]} == {"192x192", "512x512"}
    worker = client.get(reverse("service_worker"))
    assert worker["Content-Type"] == "text/javascript"
    assert reverse("service_worker").startswith("/me/")
    assert b"showNotification" in worker.content
    assert b"openWindow" in worker.content


def test_push_dev_keys_writes_a_usable_pair_once(tmp_path: Path, settings: Any) -> None:
    settings.VAPID_DEV_KEYS_FILE = tmp_path / "vapid-dev.json"
    call_command("push_dev_keys")
    keys = json.loads(settings.VAPID_DEV_KEYS_FILE.read_text())
    vapid = Vapid.from_string(private_key=keys["private"])
    assert push.vapid_keys_generate().keys() == keys.keys()
    from cryptography.hazmat.primitives import serialization

    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    from tests.support.standins import b64url

    assert b64url(public) == keys["public"]
    call_command("push_dev_keys")
    assert json.loads(settings.VAPID_DEV_KEYS_FILE.read_text()) == keys  # kept, not replaced


def test_a_spanish_speaking_patient_gets_the_notification_in_spanish(
    service: PushStandIn, plan: TaperPlan
) -> None:
    from reminders.models import PatientPreferences

    PatientPreferences.objects.create(patient=plan.patient, language="es")
    subscribe(service, plan.patient)
    row, now = dose_row(plan)
    deliver(row, now)
    notice = service.received[0].payload
    assert notice["title"] == "Es la hora de su dosis de las 08:00"
    assert notice["actions"][0]["title"] == "Ya la he tomado"


def test_push_dev_keys_prints_a_production_pair_without_writing(
    tmp_path: Path, settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.VAPID_DEV_KEYS_FILE = tmp_path / "vapid-dev.json"
    call_command("push_dev_keys", "--print")
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    Vapid.from_string(private_key=lines["VAPID_PRIVATE_KEY"])
    assert len(lines["VAPID_PUBLIC_KEY"]) == 87  # 65 bytes, base64url
    assert not settings.VAPID_DEV_KEYS_FILE.exists()


@pytest.mark.parametrize("detailed", [False, True])
def test_plain_notification_text_names_no_drug_or_dose_whatever_the_kind(
    service: PushStandIn, plan: TaperPlan, detailed: bool
) -> None:
    """Every patient reminder of the plan, and a revision notice whose change names mg:
    plain text keeps drug and dose out of the push and SMS wording; detailed text lets
    the e-mail's own words through."""
    Patient.objects.filter(pk=plan.patient_id).update(calendar_detailed_titles=detailed)
    subscribe(service, plan.patient)  # the short text is made for a patient it reaches
    dispatch.reminder_add(
        plan=plan, kind=ReminderKind.PLAN_REVISED, key="revised-test", due_at=NOW,
        context={"effective_from": "2027-03-05", "change": "held at 20 mg a day"},
    )  # fmt: skip
    kinds: dict[str, Reminder] = {}
    for row in Reminder.objects.filter(plan=plan, recipient="patient").select_related(
        "plan__patient", "dose"
    ).prefetch_related("plan__patient__push_subscriptions"):
        kinds.setdefault(row.kind, row)
    assert {ReminderKind.DOSE, ReminderKind.DOSE_CHANGE, ReminderKind.PLAN_REVISED} <= set(kinds)
    texts = {kind: messages.messages_for(row)[0].short_text for kind, row in kinds.items()}
    for kind, text in texts.items():
        assert text, kind
        if not detailed:
            assert "baclofen" not in text.lower(), kind
            assert " mg" not in text, kind
    if detailed:
        assert "baclofen" in texts[ReminderKind.DOSE]
        assert " mg" in texts[ReminderKind.DOSE_CHANGE]
        assert "20 mg" in texts[ReminderKind.PLAN_REVISED]


def test_a_patient_reached_only_in_app_whose_push_expired_is_not_marked_unreachable(
    service: PushStandIn, plan: TaperPlan, django_user_model: Any
) -> None:
    """No e-mail, the only browser gone: the in-app notice stands, the row is not failed
    and the clinic is not told the patient cannot be reached."""
    patient_account(django_user_model, plan.patient, "sam")
    Patient.objects.filter(pk=plan.patient_id).update(email="")
    subscribe(service, plan.patient)
    service.answers["/push/1"] = 410
    row, now = dose_row(plan)

    assert deliver(row, now) == "sent"

    assert not EmailAddressStatus.objects.exists()
    assert not Reminder.objects.filter(kind=ReminderKind.CHANNEL_FAILING).exists()
    assert Delivery.objects.get(reminder=row, channel="push").status == DeliveryStatus.FAILED
    assert not PushSubscription.objects.exists()


# --- a subscription the browser rotated (the worker's pushsubscriptionchange) ------------


def rotate(client: Client, old_endpoint: str, subscription: Any) -> Any:
    body = {"old_endpoint": old_endpoint, "subscription": subscription}
    return client.post(
        reverse("patient_push_subscribe"), json.dumps(body), content_type="application/json"
    )


def test_a_rotated_subscription_replaces_the_old_one_and_reminders_follow_it(
    service: PushStandIn, plan: TaperPlan
) -> None:
    old = subscribe(service, plan.patient, "Sam's phone")
    new = service.subscription()
    # The worker has no CSRF token and maybe no session: the old endpoint is its credential.
    response = rotate(Client(enforce_csrf_checks=True), old.endpoint, new)
    assert response.status_code == 200
    [row] = PushSubscription.objects.all()
    assert (row.pk, row.patient_id, row.device_name) == (old.pk, plan.patient.pk, "Sam's phone")
    assert (row.endpoint, row.p256dh, row.auth) == (
        new["endpoint"], new["keys"]["p256dh"], new["keys"]["auth"]
    )
    reminder, now = dose_row(plan)
    deliver(reminder, now)
    assert [received.path for received in service.received] == ["/push/2"]


def test_a_rotation_naming_an_unknown_endpoint_changes_nothing(
    service: PushStandIn, plan: TaperPlan
) -> None:
    old = subscribe(service, plan.patient)
    response = rotate(Client(), service.base + "/push/unknown", service.subscription())
    assert response.status_code == 404
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [old.endpoint]


def test_a_rotation_with_a_bad_new_subscription_keeps_the_old_one(
    service: PushStandIn, plan: TaperPlan
) -> None:
    old = subscribe(service, plan.patient)
    bad = {"endpoint": "http://evil.example/x", "keys": {}}
    response = rotate(Client(), old.endpoint, bad)
    assert (response.status_code, response.json()["error"]) == (
        400, "endpoint: must be an https address"
    )
    assert PushSubscription.objects.get().endpoint == old.endpoint


def test_a_rotation_onto_an_endpoint_already_stored_keeps_one_row(
    service: PushStandIn, plan: TaperPlan
) -> None:
    old = subscribe(service, plan.patient, "Phone")
    new = service.subscription()
    push.push_subscription_add(patient=plan.patient, subscription=new, device_name="", now=NOW)
    assert rotate(Client(), old.endpoint, new).status_code == 200
    [row] = PushSubscription.objects.all()
    assert (row.endpoint, row.device_name) == (new["endpoint"], "Phone")


def test_turning_notifications_on_still_needs_the_log_in_and_the_csrf_token(
    service: PushStandIn, django_user_model: Any, patient: Patient
) -> None:
    client = Client(enforce_csrf_checks=True)
    body = json.dumps({"subscription": service.subscription()})
    url = reverse("patient_push_subscribe")
    anonymous = client.post(url, body, content_type="application/json")
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    channel_steps.logged_in_patient(client, django_user_model, patient)
    assert client.post(url, body, content_type="application/json").status_code == 403
    assert not PushSubscription.objects.exists()


def test_the_worker_subscribes_again_on_rotation_with_the_servers_key(
    service: PushStandIn, client: Client
) -> None:
    worker = client.get(reverse("service_worker")).content.decode()
    assert 'addEventListener("pushsubscriptionchange"' in worker
    assert f'const VAPID_KEY = "{KEYS["public"]}";' in worker
    assert f'const SUBSCRIBE = "{reverse("patient_push_subscribe")}";' in worker


def test_a_vapid_token_serves_its_push_service_until_an_hour_before_it_expires(
    service: PushStandIn, plan: TaperPlan
) -> None:
    """RFC 8292: one signed token per push service for 12 hours, not one signature per
    notification; renewed an hour before it runs out; another service gets its own."""
    endpoint = service.subscription()["endpoint"]
    start = NOW.timestamp()
    first = push.vapid_headers(endpoint, start)
    assert push.vapid_headers(endpoint, start + 10 * 3600) == first
    renewed = push.vapid_headers(endpoint, start + 11 * 3600 + 1)
    assert renewed != first
    other = push.vapid_headers("https://push.example.net/abc", start)
    assert other != first

    subscribe(service, plan.patient, "Phone")
    subscribe(service, plan.patient, "Laptop")
    row, now = dose_row(plan)
    deliver(row, now)
    tokens = {received.headers["authorization"] for received in service.received}
    assert len(service.received) == 2
    assert len(tokens) == 1
    [claims] = {json.dumps(received.vapid_claims) for received in service.received}
    assert json.loads(claims)["aud"] == service.base
    # Issued against the process clock (the suite's frozen one), not the reminder's time.
    assert json.loads(claims)["exp"] > time.time() + 3600
