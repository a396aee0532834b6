"""Web Push: the browsers a patient turned notifications on in, and sending to them.

pywebpush encrypts the payload for each browser (RFC 8291, aes128gcm) and signs the
request with the site's VAPID key (RFC 8292, settings.VAPID_*). A push service that
answers 404 or 410 has dropped the subscription (the browser was reset, the site's
permission taken back): the row is removed. Endpoints and keys are never logged."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import logging
import os
import threading
import time
import urllib.request
from typing import Any
from urllib.parse import urlparse

import requests
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from py_vapid import Vapid, Vapid01
from pywebpush import WebPusher, WebPushException

from planner.models import Patient
from reminders.channels import Message, PermanentError, PushTarget, TransientError
from reminders.models import PushSubscription

log = logging.getLogger(__name__)

# How long a push service keeps a notification for a phone that is off (its TTL): a
# reminder older than this is of no use — the Today page and the e-mail have it.
PUSH_TTL_SECONDS = 3600
PUSH_TIMEOUT_SECONDS = 10
# Push services accept payloads of 4,096 bytes; the encryption adds up to ~100.
PUSH_PAYLOAD_MAX = 3800
EXPIRED = (404, 410)
ALLOWED_SCHEMES = ("https://",)


class PushSubscriptionError(ValueError):
    """The browser's subscription is unusable; the message names the field."""


def push_configured() -> bool:
    return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def vapid_keys_generate() -> dict[str, str]:
    """A new VAPID key pair as the settings want them (base64url public point and raw
    private key): py-vapid makes the P-256 key."""
    vapid = Vapid()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return {"public": _b64url(public), "private": _b64url(private)}


@functools.cache
def _vapid(private_key: str) -> Vapid01:
    return Vapid.from_string(private_key=private_key)


_sessions = threading.local()


def _session() -> requests.Session:
    """One HTTP session per worker thread: connections to the push services are reused
    across the reminders of a batch. The environment's proxy settings are read once,
    here: requests would read the whole environment again for every notification."""
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
        session.trust_env = False
        session.proxies = {
            scheme: url
            for scheme, url in urllib.request.getproxies().items()
            if scheme in ("http", "https")
        }
        session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
    return session


# RFC 8292 section 2: a VAPID token may be used until it expires. One per push service
# (the audience is the endpoint's origin), made for 12 hours (pywebpush's lifetime) and
# renewed an hour before it runs out: signing one for every notification costs an
# ECDSA signature each.
VAPID_TOKEN_SECONDS = 12 * 3600
VAPID_RENEW_BEFORE_SECONDS = 3600
_vapid_tokens: dict[tuple[str, str, str], tuple[dict[str, str], int]] = {}


def vapid_headers(endpoint: str, now: float) -> dict[str, str]:
    """The Authorization header for a notification to `endpoint` at `now` (epoch seconds)."""
    url = urlparse(endpoint)
    audience = f"{url.scheme}://{url.netloc}"
    key = (settings.VAPID_PRIVATE_KEY, settings.VAPID_SUBJECT, audience)
    cached = _vapid_tokens.get(key)
    if cached is None or cached[1] - now < VAPID_RENEW_BEFORE_SECONDS:
        expires = int(now) + VAPID_TOKEN_SECONDS
        claims = {"sub": settings.VAPID_SUBJECT, "aud": audience, "exp": expires}
        cached = _vapid_tokens[key] = (
            dict(_vapid(settings.VAPID_PRIVATE_KEY).sign(claims)), expires
        )
    return dict(cached[0])


def payload(message: Message) -> str:
    """What the service worker shows (static/portal/sw.js): the subject as title, the
    short text, the page a tap opens and the e-mail's action links as buttons."""
    data: dict[str, Any] = {
        "title": message.subject,
        "body": message.short_text,
        "url": message.open_url,
        "tag": f"reminder-{message.reminder_id}",
        "actions": [
            {"action": f"link-{index}", "title": label, "url": url}
            for index, (label, url) in enumerate(message.links)
        ],
    }
    encoded = json.dumps(data, ensure_ascii=False)
    if len(encoded.encode()) > PUSH_PAYLOAD_MAX:
        data["body"] = ""  # the title, actions and page still say what to do
        encoded = json.dumps(data, ensure_ascii=False)
    return encoded


def _send_one(target: PushTarget, data: str) -> None:
    """Encrypt for the browser (pywebpush) and post to its push service with the VAPID
    token; an answer above 202 raises WebPushException as pywebpush's webpush() does."""
    response = WebPusher(
        {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}},
        requests_session=_session(),
    ).send(
        data,
        vapid_headers(target.endpoint, time.time()),
        ttl=PUSH_TTL_SECONDS,
        timeout=PUSH_TIMEOUT_SECONDS,
    )
    assert isinstance(response, requests.Response)
    if response.status_code > 202:
        raise WebPushException(
            f"Push failed: {response.status_code}", response=response
        )


def message_push(message: Message) -> None:
    """Send one message to each of the patient's browsers. Delivered to one is
    delivered: a retry would show it twice on the others. Expired subscriptions are
    removed; a push service that is away is tried again with the reminder."""
    if not push_configured():
        raise PermanentError("push is not configured (VAPID keys)")
    data = payload(message)
    delivered = 0
    transient = refused = ""
    expired: list[int] = []
    for target in message.push_targets:
        try:
            _send_one(target, data)
        except WebPushException as error:
            status = error.response.status_code if error.response is not None else None
            if status in EXPIRED:
                expired.append(target.subscription_id)
            elif status is None or status == 429 or status >= 500:
                transient = f"the push service answered {status}"
            else:
                refused = f"the push service refused the notification ({status})"
        except (requests.RequestException, OSError) as error:
            transient = f"the push service could not be reached ({type(error).__name__})"
        else:
            delivered += 1
    if expired:
        removed, _ = PushSubscription.objects.filter(id__in=expired).delete()
        log.info("removed %s expired push subscription(s) of reminder %s",
                 removed, message.reminder_id)  # fmt: skip
    if delivered:
        return
    if transient:
        raise TransientError(transient)
    raise PermanentError(refused or "every browser's subscription had expired")


# --- the patient's browsers ---------------------------------------------------------


def _key(value: object, field: str, length: int) -> str:
    """A base64url key of the expected decoded length (p256dh: 65 bytes, auth: 16)."""
    if not isinstance(value, str) or not value or len(value) > 200:
        raise PushSubscriptionError(f"{field}: missing")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        raise PushSubscriptionError(f"{field}: not base64url") from None
    if len(raw) != length:
        raise PushSubscriptionError(f"{field}: must be {length} bytes")
    return value


def _subscription_fields(subscription: object) -> tuple[str, str, str]:
    """The endpoint and keys of a browser's subscription (PushSubscription.toJSON()),
    checked; PushSubscriptionError names the field that is wrong."""
    if not isinstance(subscription, dict):
        raise PushSubscriptionError("subscription: must be an object")
    endpoint = subscription.get("endpoint")
    if (
        not isinstance(endpoint, str)
        or not endpoint.startswith(ALLOWED_SCHEMES + tuple(settings.PUSH_TEST_ENDPOINTS))
        or len(endpoint) > 1000
    ):
        raise PushSubscriptionError("endpoint: must be an https address")
    keys = subscription.get("keys")
    if not isinstance(keys, dict):
        raise PushSubscriptionError("keys: missing")
    return endpoint, _key(keys.get("p256dh"), "keys.p256dh", 65), _key(
        keys.get("auth"), "keys.auth", 16
    )


@transaction.atomic
def push_subscription_add(
    *, patient: Patient, subscription: object, device_name: str, now: dt.datetime
) -> PushSubscription:
    """Store the browser's subscription (PushSubscription.toJSON()) for the patient.
    The same browser subscribing again replaces its row; an endpoint that belonged to
    another patient (a shared computer) moves to this one."""
    endpoint, p256dh, auth = _subscription_fields(subscription)
    row, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "patient": patient,
            "p256dh": p256dh,
            "auth": auth,
            "device_name": device_name.strip()[:100],
            "created_at": now,
        },
    )
    return row


@transaction.atomic
def push_subscription_replace(*, old_endpoint: object, subscription: object) -> PushSubscription:
    """The browser rotated its subscription (the service worker's pushsubscriptionchange,
    templates/portal/sw.js): the row of the old endpoint takes the new endpoint and keys,
    keeping its patient and device name. The old endpoint is the credential — a secret
    only the browser, its push service and this server know — so this needs no log-in
    (the patient's session may have ended long before the browser rotates)."""
    endpoint, p256dh, auth = _subscription_fields(subscription)
    row = (
        PushSubscription.objects.select_for_update().filter(endpoint=old_endpoint).first()
        if isinstance(old_endpoint, str)
        else None
    )
    if row is None:
        raise PushSubscriptionError("old_endpoint: no such subscription")
    # The new endpoint may already be stored (the patient turned notifications on again
    # on that page meanwhile): one row per browser.
    PushSubscription.objects.filter(endpoint=endpoint).exclude(pk=row.pk).delete()
    row.endpoint, row.p256dh, row.auth = endpoint, p256dh, auth
    row.save(update_fields=["endpoint", "p256dh", "auth"])
    return row


def push_subscription_remove(*, patient: Patient, subscription_id: int) -> bool:
    removed, _ = PushSubscription.objects.filter(patient=patient, pk=subscription_id).delete()
    return bool(removed)
