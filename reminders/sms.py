"""Text-message reminders: a provider interface, the Twilio client behind it, and the
patient's number — verified by a code before any reminder is texted, and never texted
again once it answered STOP.

Off unless settings.SMS_PROVIDER names a provider. Numbers and codes are never logged;
a code is stored only as a keyed hash (HMAC with SECRET_KEY), expires after
CODE_VALID_FOR, allows CODE_TRIES guesses, and at most CODES_PER_WINDOW codes are sent
per CODES_WINDOW."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
import re
import secrets
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from planner.audit import update_with_history
from planner.models import Patient
from reminders.channels import Message, PermanentError, TransientError
from reminders.models import Caregiver, SmsNumber

log = logging.getLogger(__name__)

CODE_VALID_FOR = dt.timedelta(minutes=10)
CODE_TRIES = 5
CODES_PER_WINDOW = 3
CODES_WINDOW = dt.timedelta(hours=1)
SMS_TIMEOUT_SECONDS = 10
# Twilio's error for a number that answered STOP (its "Advanced Opt-Out").
TWILIO_UNSUBSCRIBED = 21610
# The keywords carriers and Twilio treat as opting out and back in.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
E164 = re.compile(r"^\+[1-9]\d{7,14}$")


class SmsOptedOut(PermanentError):
    """The number answered STOP: it must not be texted."""


class SmsError(ValueError):
    """The patient's request cannot be carried out; the message is for them."""


class SmsProvider(Protocol):
    name: str

    def send(self, *, to: str, body: str) -> None:
        """Send or raise TransientError, PermanentError or SmsOptedOut."""

    def inbound_is_genuine(self, *, url: str, params: dict[str, str], signature: str) -> bool:
        """Was this inbound webhook request signed by the provider?"""


class _ApiBaseClient(TwilioHttpClient):
    """Twilio's own HTTP client (a custom http_client is its supported extension point)
    sending to another base address: a stand-in of the API in tests or a local sink."""

    def __init__(self, api_base: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_base = urlsplit(api_base)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)._replace(scheme=self.api_base.scheme, netloc=self.api_base.netloc)
        return super().request(method, urlunsplit(parts), *args, **kwargs)


class TwilioSms:
    name = "twilio"

    def __init__(self, *, account_sid: str, auth_token: str, from_: str, api_base: str) -> None:
        http_client = (
            _ApiBaseClient(api_base, timeout=SMS_TIMEOUT_SECONDS)
            if api_base
            else TwilioHttpClient(timeout=SMS_TIMEOUT_SECONDS)
        )
        self._client = Client(account_sid, auth_token, http_client=http_client)
        self._validator = RequestValidator(auth_token)
        self._from = from_

    def send(self, *, to: str, body: str) -> None:
        sender = (
            {"messaging_service_sid": self._from}
            if self._from.startswith("MG")
            else {"from_": self._from}
        )
        try:
            self._client.messages.create(to=to, body=body, **sender)
        except TwilioRestException as error:
            if error.code == TWILIO_UNSUBSCRIBED:
                raise SmsOptedOut("the number has opted out (STOP)") from None
            if error.status == 429 or error.status >= 500:
                raise TransientError(f"the SMS provider answered {error.status}") from None
            raise PermanentError(f"the SMS provider refused the text ({error.code})") from None
        except (requests.RequestException, OSError) as error:
            raise TransientError(
                f"the SMS provider could not be reached ({type(error).__name__})"
            ) from None

    def inbound_is_genuine(self, *, url: str, params: dict[str, str], signature: str) -> bool:
        return bool(signature) and bool(self._validator.validate(url, params, signature))


@functools.cache
def _provider(name: str, account_sid: str, auth_token: str, from_: str, base: str) -> SmsProvider:
    if name == "twilio":
        return TwilioSms(account_sid=account_sid, auth_token=auth_token, from_=from_, api_base=base)
    raise PermanentError(f"unknown SMS_PROVIDER {name!r}")


def sms_provider() -> SmsProvider | None:
    """The configured provider (one client per process: its connections are reused),
    or None when SMS is off."""
    if not settings.SMS_PROVIDER:
        return None
    return _provider(
        settings.SMS_PROVIDER,
        settings.SMS_TWILIO_ACCOUNT_SID,
        settings.SMS_TWILIO_AUTH_TOKEN,
        settings.SMS_FROM,
        settings.SMS_TWILIO_API_BASE,
    )


def sms_text(message: Message) -> str:
    """A reminder as a text: subject, the short wording and the Today page (never the
    e-mail's signed action links: a text can be read on the lock screen and forwarded)."""
    parts = (message.subject, message.short_text, message.open_url)
    return "\n".join(part for part in parts if part)


def message_text(message: Message) -> None:
    provider = sms_provider()
    if provider is None:
        raise PermanentError("SMS is not configured")
    # Looked up again at the moment of sending: a STOP may have come in since the batch
    # was loaded (from a patient's number or a caregiver's).
    if (
        SmsNumber.objects.filter(phone=message.sms_to, opted_out_at__isnull=False).exists()
        or Caregiver.objects.filter(phone=message.sms_to, opted_out_at__isnull=False).exists()
    ):
        raise SmsOptedOut("the number has opted out (STOP)")
    try:
        provider.send(to=message.sms_to, body=sms_text(message))
    except SmsOptedOut:
        sms_opt_out_record(phone=message.sms_to, opted_out=True, now=timezone.now())
        raise


# --- the patient's number -----------------------------------------------------------


def phone_normalise(raw: str) -> str:
    """An international number as E.164 ("+34 600 11 12 22" → "+34600111222")."""
    phone = re.sub(r"[\s().-]", "", raw or "")
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not E164.match(phone):
        raise SmsError(_("Phone number: write it with its country code, like +34 600 111 222."))
    return phone


def _code_hash(number: SmsNumber, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"sms-code:{number.pk}:{number.phone}:{code}".encode(),
                    hashlib.sha256).hexdigest()  # fmt: skip


@transaction.atomic
def sms_number_start(*, patient: Patient, phone: str, now: dt.datetime) -> SmsNumber:
    """Text a verification code to the number (new, changed, or asked again). Texts stay
    off until the code comes back. Limited to CODES_PER_WINDOW codes per CODES_WINDOW."""
    provider = sms_provider()
    if provider is None:
        raise SmsError(_("Text messages are not available at your clinic."))
    phone = phone_normalise(phone)
    number, _created = SmsNumber.objects.select_for_update().get_or_create(
        patient=patient, defaults={"phone": phone}
    )
    if number.codes_window_from is None or now - number.codes_window_from >= CODES_WINDOW:
        number.codes_window_from, number.codes_sent = now, 0
    if number.codes_sent >= CODES_PER_WINDOW:
        raise SmsError(_("Too many codes were sent. Try again in an hour."))
    if number.phone != phone:
        # A new number: not verified, and its own STOP (if any) comes from the provider.
        number.phone, number.verified_at, number.enabled = phone, None, False
        number.opted_out_at = None
    code = f"{secrets.randbelow(10**6):06d}"
    number.code_hash = _code_hash(number, code)
    number.code_expires_at = now + CODE_VALID_FOR
    number.code_tries = 0
    number.codes_sent += 1
    number.save()
    try:
        provider.send(
            to=phone,
            body=_("Your Taper Planner code is %(code)s. It expires in 10 minutes.")
            % {"code": code},
        )
    except SmsOptedOut:
        raise SmsError(
            _("This number has stopped texts from us. Text START to us from it, then try again.")
        ) from None
    except (TransientError, PermanentError):
        raise SmsError(_("The code could not be sent. Check the number and try again.")) from None
    return number


def sms_number_verify(*, patient: Patient, code: str, now: dt.datetime) -> SmsNumber:
    """The code the patient typed: right, in time and within the tries → texts are on.
    A wrong guess is counted (and kept: the refusal is raised after the commit)."""
    with transaction.atomic():
        number = SmsNumber.objects.select_for_update().filter(patient=patient).first()
        if number is None or not number.code_hash or number.code_expires_at is None:
            refusal = _("Ask for a code first.")
        elif now > number.code_expires_at or number.code_tries >= CODE_TRIES:
            refusal = _("That code has expired. Ask for a new one.")
        else:
            number.code_tries += 1
            if hmac.compare_digest(number.code_hash, _code_hash(number, code.strip())):
                number.verified_at, number.enabled = now, True
                number.code_hash, number.code_expires_at = "", None
                number.save()
                return number
            number.save(update_fields=["code_tries"])
            refusal = _("Code: that is not the code we sent.")
    raise SmsError(refusal)


def sms_number_switch(*, patient: Patient, enabled: bool) -> int:
    """Texts on or off for a verified number (the number stays verified)."""
    return update_with_history(
        SmsNumber.objects.filter(patient=patient, verified_at__isnull=False),
        reason="the patient switched texts " + ("on" if enabled else "off"),
        enabled=enabled,
    )


def sms_opt_out_record(*, phone: str, opted_out: bool, now: dt.datetime) -> int:
    """A STOP (or START) from the number: recorded on every patient and caregiver row
    with it."""
    from reminders.caregivers import caregivers_opt_out_record  # it builds on this module

    caregivers_opt_out_record(phone=phone, opted_out=opted_out, now=now)
    return update_with_history(
        SmsNumber.objects.filter(phone=phone),
        reason="the number texted " + ("STOP" if opted_out else "START"),
        opted_out_at=now if opted_out else None,
    )


def sms_inbound(*, params: dict[str, str], now: dt.datetime) -> str:
    """An inbound text from the provider's webhook: STOP and START are recorded
    (Twilio also says which in OptOutType). Returns what was recorded."""
    word = (params.get("OptOutType") or params.get("Body") or "").strip().upper()
    phone = params.get("From", "")
    if word in STOP_WORDS:
        sms_opt_out_record(phone=phone, opted_out=True, now=now)
        return "stop"
    if word in START_WORDS:
        sms_opt_out_record(phone=phone, opted_out=False, now=now)
        return "start"
    return "ignored"
