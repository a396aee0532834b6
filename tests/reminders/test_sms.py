"""Text-message reminders through Twilio's own client, against a stand-in of its API on
127.0.0.1: off by default, the number verified by a code (hashed, expiring, limited),
STOP recorded from the signed webhook and never texted after."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from twilio.request_validator import RequestValidator

from planner.models import Patient, TaperPlan
from reminders import sms
from reminders.channels import Channel, EmailChannel, InAppChannel, SmsChannel
from reminders.models import (
    Delivery,
    DeliveryStatus,
    Reminder,
    SmsNumber,
)
from tests.support import channels as channel_steps
from tests.support.clock import NOW
from tests.support.plans import active_plan
from tests.support.standins import TwilioStandIn, twilio_configured

CHANNELS: list[Channel] = [EmailChannel(), InAppChannel(), SmsChannel()]
PHONE = "+34600111222"


@pytest.fixture
def twilio(settings: Any) -> Iterator[TwilioStandIn]:
    with twilio_configured(settings) as stand_in:
        yield stand_in
    assert stand_in.refused_auth == 0


@pytest.fixture
def plan(alice: Any, patient: Patient) -> TaperPlan:
    patient.email = "sam@example.org"
    patient.save()
    return active_plan(patient, alice)


def verified(patient: Patient, twilio: TwilioStandIn) -> SmsNumber:
    sms.sms_number_start(patient=patient, phone="+34 600 11 12 22", now=NOW)
    return sms.sms_number_verify(patient=patient, code=twilio.last_code(), now=NOW)


def deliver(row: Reminder, now: dt.datetime) -> str:
    return channel_steps.deliver(row, now, CHANNELS)


dose_row = channel_steps.first_dose_reminder


def test_sms_is_off_unless_a_provider_is_configured() -> None:
    assert django_settings.SMS_PROVIDER == ""
    assert sms.sms_provider() is None


def test_a_number_is_verified_by_the_code_texted_to_it_and_the_code_is_not_stored(
    twilio: TwilioStandIn, patient: Patient
) -> None:
    number = sms.sms_number_start(patient=patient, phone="0034 600-11-12-22", now=NOW)
    [text] = twilio.texts
    assert (text["To"], text["From"]) == (PHONE, "+15005550006")
    code = twilio.last_code()
    assert len(code) == 6
    assert code not in number.code_hash
    assert not number.textable

    with pytest.raises(sms.SmsError, match="Code: that is not the code"):
        sms.sms_number_verify(patient=patient, code="000000" if code != "000000" else "111111",
                              now=NOW)  # fmt: skip
    number = sms.sms_number_verify(patient=patient, code=code, now=NOW + dt.timedelta(minutes=9))
    assert number.verified_at == NOW + dt.timedelta(minutes=9)
    assert number.textable
    assert number.code_hash == ""


def test_a_code_expires_after_ten_minutes(twilio: TwilioStandIn, patient: Patient) -> None:
    sms.sms_number_start(patient=patient, phone=PHONE, now=NOW)
    with pytest.raises(sms.SmsError, match="expired"):
        sms.sms_number_verify(
            patient=patient, code=twilio.last_code(), now=NOW + dt.timedelta(minutes=11)
        )
    assert not SmsNumber.objects.get(patient=patient).textable


def test_a_code_allows_five_guesses(twilio: TwilioStandIn, patient: Patient) -> None:
    sms.sms_number_start(patient=patient, phone=PHONE, now=NOW)
    code = twilio.last_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(sms.CODE_TRIES):
        with pytest.raises(sms.SmsError, match="not the code"):
            sms.sms_number_verify(patient=patient, code=wrong, now=NOW)
    with pytest.raises(sms.SmsError, match="expired"):
        sms.sms_number_verify(patient=patient, code=code, now=NOW)


def test_at_most_three_codes_an_hour(twilio: TwilioStandIn, patient: Patient) -> None:
    for minute in range(3):
        sms.sms_number_start(patient=patient, phone=PHONE, now=NOW + dt.timedelta(minutes=minute))
    with pytest.raises(sms.SmsError, match="Too many codes"):
        sms.sms_number_start(patient=patient, phone=PHONE, now=NOW + dt.timedelta(minutes=30))
    assert len(twilio.texts) == 3
    sms.sms_number_start(patient=patient, phone=PHONE, now=NOW + dt.timedelta(minutes=61))
    assert len(twilio.texts) == 4


@pytest.mark.parametrize("phone", ["600111222", "+0123456789", "+34 abc", ""])
def test_a_number_without_its_country_code_is_refused(
    twilio: TwilioStandIn, patient: Patient, phone: str
) -> None:
    with pytest.raises(sms.SmsError, match="Phone number"):
        sms.sms_number_start(patient=patient, phone=phone, now=NOW)
    assert twilio.texts == []
    assert not SmsNumber.objects.exists()


def test_a_dose_reminder_is_texted_plainly_with_no_link_token(
    twilio: TwilioStandIn, plan: TaperPlan, caplog: pytest.LogCaptureFixture
) -> None:
    verified(plan.patient, twilio)
    row, now = dose_row(plan)
    caplog.set_level(logging.INFO)

    assert deliver(row, now) == "sent"

    text = twilio.texts[-1]
    assert text["To"] == PHONE
    assert text["Body"].startswith("Time for your 08:00 medication dose\n")
    assert "baclofen" not in text["Body"].lower()
    assert " mg" not in text["Body"]
    assert "/a/" not in text["Body"]  # the signed action links stay in the e-mail
    assert text["Body"].endswith(reverse("patient_today"))
    outcomes = dict(Delivery.objects.filter(reminder=row).values_list("channel", "status"))
    assert outcomes == {"email": DeliveryStatus.SENT, "sms": DeliveryStatus.SENT}
    assert PHONE not in caplog.text
    assert "600" not in caplog.text


def test_a_provider_outage_retries_the_text_alone(
    twilio: TwilioStandIn, plan: TaperPlan
) -> None:
    verified(plan.patient, twilio)
    row, now = dose_row(plan)
    twilio.answers[PHONE] = (503, {"code": 20500, "message": "down", "status": 503})
    assert deliver(row, now) == "retry"
    del twilio.answers[PHONE]
    assert deliver(row, now + dt.timedelta(minutes=1)) == "sent"
    assert len(mail.outbox) == 1
    assert len(twilio.texts) == 2  # the code, then the reminder once


def test_stop_through_the_signed_webhook_is_recorded_and_never_texted_after(
    twilio: TwilioStandIn, plan: TaperPlan, client: Client
) -> None:
    verified(plan.patient, twilio)
    params = {"From": PHONE, "To": "+15005550006", "Body": "Stop", "OptOutType": "STOP"}
    url = django_settings.SITE_URL + reverse("sms_inbound")
    signature = RequestValidator(twilio.auth_token).compute_signature(url, params)

    forged = client.post(reverse("sms_inbound"), params, HTTP_X_TWILIO_SIGNATURE="x" + signature)
    assert forged.status_code == 403
    assert SmsNumber.objects.get(patient=plan.patient).opted_out_at is None

    response = client.post(reverse("sms_inbound"), params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200
    assert b"<Response>" in response.content
    number = SmsNumber.objects.get(patient=plan.patient)
    assert number.opted_out_at == NOW
    assert number.history.filter(history_change_reason="the number texted STOP").exists()

    texts_before = len(twilio.texts)
    row, now = dose_row(plan)
    assert deliver(row, now) == "sent"  # by e-mail
    assert len(twilio.texts) == texts_before
    assert not Delivery.objects.filter(reminder=row, channel="sms").exists()


def test_the_providers_unsubscribed_answer_records_the_opt_out(
    twilio: TwilioStandIn, plan: TaperPlan
) -> None:
    verified(plan.patient, twilio)
    twilio.answers[PHONE] = (400, {"code": 21610, "message": "unsubscribed", "status": 400})
    row, now = dose_row(plan)
    assert deliver(row, now) == "sent"  # the e-mail reached the patient
    assert SmsNumber.objects.get(patient=plan.patient).opted_out_at is not None
    assert Delivery.objects.get(reminder=row, channel="sms").status == DeliveryStatus.FAILED


# --- Settings -----------------------------------------------------------------------------


@pytest.fixture
def sam_client(client: Client, django_user_model: Any, patient: Patient) -> Client:
    return channel_steps.logged_in_patient(client, django_user_model, patient)


def test_the_patient_turns_texts_on_in_settings(
    twilio: TwilioStandIn, sam_client: Client, patient: Patient
) -> None:
    url = reverse("patient_settings")
    assert "sms-settings" in sam_client.get(url).content.decode()
    started = sam_client.post(url, {"action": "sms_start", "phone": "+34 600 111 222"})
    assert started.status_code == 302
    wrong = sam_client.post(url, {"action": "sms_verify", "code": "12ab56"})
    assert wrong.status_code == 400
    assert "Code: type the 6 digits" in wrong.content.decode()
    confirmed = sam_client.post(url, {"action": "sms_verify", "code": twilio.last_code()})
    assert confirmed.status_code == 302
    assert SmsNumber.objects.get(patient=patient).textable
    assert "Text reminders go to +34600111222" in sam_client.get(url).content.decode()

    sam_client.post(url, {"action": "sms_off"})
    assert not SmsNumber.objects.get(patient=patient).textable
    sam_client.post(url, {"action": "sms_on"})
    assert SmsNumber.objects.get(patient=patient).textable


def test_a_bad_number_in_settings_names_the_field(
    twilio: TwilioStandIn, sam_client: Client
) -> None:
    response = sam_client.post(reverse("patient_settings"), {"action": "sms_start", "phone": "12"})
    assert response.status_code == 400
    assert "Phone number: write it with its country code" in response.content.decode()
    assert not SmsNumber.objects.exists()


def test_without_a_provider_settings_offers_no_texts(sam_client: Client) -> None:
    assert "sms-settings" not in sam_client.get(reverse("patient_settings")).content.decode()
    response = sam_client.post(reverse("patient_settings"), {"action": "sms_start",
                                                             "phone": PHONE})  # fmt: skip
    assert response.status_code == 400
    assert not SmsNumber.objects.exists()


def test_settings_speak_spanish_to_a_spanish_speaking_patient(
    twilio: TwilioStandIn, sam_client: Client, patient: Patient
) -> None:
    from reminders.models import PatientPreferences

    PatientPreferences.objects.create(patient=patient, language="es")
    page = sam_client.get(reverse("patient_settings")).content.decode()
    assert "Notificaciones y mensajes SMS" in page
    assert "Número de móvil, con su prefijo de país" in page
    sam_client.post(reverse("patient_settings"), {"action": "sms_start", "phone": PHONE})
    assert twilio.texts[-1]["Body"].startswith("Su código de Taper Planner es ")
