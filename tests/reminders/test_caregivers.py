"""Caregivers (issue #17): added by the patient or, with consent, by the clinician;
invited by e-mail or text; told nothing until they confirm; then told of missed doses
and abrupt-stop alerts about them, PHI-minimal and without action links, once each;
removal stops them at once."""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client, TestCase
from django.urls import reverse

from planner.logfilters import redact
from planner.models import Patient, TaperPlan
from reminders import caregivers, checkin, dispatch
from reminders.channels import Channel, EmailChannel, InAppChannel, SmsChannel
from reminders.models import (
    AbruptStopAlert,
    Caregiver,
    CaregiverStatus,
    Recipient,
    Reminder,
    ReminderStatus,
)
from tests.support.clock import NOW
from tests.support.factories import patient_account
from tests.support.plans import active_plan, dose_at
from tests.support.standins import TwilioStandIn, twilio_configured

CHANNELS: list[Channel] = [EmailChannel(), InAppChannel(), SmsChannel()]
CAREGIVER_EMAIL = "maria@example.net"
LINK = re.compile(r"https?://[^\s\"'<>]+/c/([A-Za-z0-9_:.\-]+)/")


@pytest.fixture
def plan(alice: Any, patient: Patient, django_user_model: Any) -> TaperPlan:
    alice.email = "alice@clinic.example"
    alice.save()
    patient_account(django_user_model, patient, "sam")
    return active_plan(patient, alice)


@pytest.fixture
def twilio(settings: Any) -> Iterator[TwilioStandIn]:
    with twilio_configured(settings) as stand_in:
        yield stand_in
    assert stand_in.refused_auth == 0


def add(plan: TaperPlan, *, share: bool = False, email: str = "", phone: str = "") -> Caregiver:
    return caregivers.caregiver_add(
        patient=plan.patient, name="Maria", email=email, phone=phone, share_first_name=share,
        by=user_of(plan), now=NOW,
    )  # fmt: skip


def text_of(message: Any) -> str:
    return str(message.body)


def html_of(message: Any) -> str:
    return str(message.alternatives[0][0])


def user_of(plan: TaperPlan) -> Any:
    user = plan.patient.user
    assert user is not None
    return user


def token_in(text: str) -> str:
    match = LINK.search(text)
    assert match, text
    return match.group(1)


def confirmed(plan: TaperPlan, **kwargs: Any) -> Caregiver:
    caregiver = add(plan, email=CAREGIVER_EMAIL, **kwargs)
    return caregivers.caregiver_answer(caregiver=caregiver, confirm=True, now=NOW)


def tick(now: dt.datetime) -> None:
    """One dispatcher minute, with every claimed row delivered."""
    claimed: list[int] = []
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispatch.dispatch_tick(now=now, enqueue=lambda ids, claim: claimed.extend(ids))
    for pk in claimed:
        dispatch.reminder_deliver(reminder_id=pk, now=now, channels=CHANNELS)


def miss(plan: TaperPlan, day: str, time: str) -> None:
    tick(dose_at(plan, day, time).catch_up_until + dt.timedelta(minutes=1))


def to_caregiver() -> list[Any]:
    return [m for m in mail.outbox if m.to == [CAREGIVER_EMAIL]]


def assert_phi_minimal(plan: TaperPlan, *texts: str) -> None:
    for text in texts:
        assert plan.drug.lower() not in text.lower()
        assert " mg" not in text
        assert " mL" not in text
        assert "/a/" not in text  # no Taken / Skip / missed / snooze links
        assert plan.patient.family_name not in text


def test_an_invitation_by_e_mail_carries_a_signed_link_and_nothing_of_the_medicine(
    plan: TaperPlan,
) -> None:
    caregiver = add(plan, email=CAREGIVER_EMAIL)
    assert caregiver.status == CaregiverStatus.INVITED
    assert caregiver.added_by == user_of(plan)
    assert caregiver.consent_recorded_at is None
    [invitation] = mail.outbox
    assert invitation.to == [CAREGIVER_EMAIL]
    html = html_of(invitation)
    assert token_in(text_of(invitation)) == token_in(html)
    assert "Someone you know" in invitation.subject
    assert plan.patient.given_name not in invitation.body
    assert_phi_minimal(plan, str(invitation.subject), text_of(invitation), html)
    assert caregivers.caregiver_from_token(token_in(text_of(invitation))) == caregiver


def test_until_they_confirm_a_caregiver_is_told_nothing(plan: TaperPlan) -> None:
    add(plan, email=CAREGIVER_EMAIL)
    mail.outbox.clear()
    miss(plan, "2027-03-01", "08:00")
    miss(plan, "2027-03-01", "14:00")
    assert AbruptStopAlert.objects.exists()
    assert to_caregiver() == []
    assert not Reminder.objects.filter(recipient=Recipient.CAREGIVER).exists()


def test_a_confirmed_caregiver_is_told_of_each_missed_dose_once_without_phi(
    plan: TaperPlan,
) -> None:
    confirmed(plan)
    mail.outbox.clear()
    miss(plan, "2027-03-01", "08:00")
    tick(dose_at(plan, "2027-03-01", "08:00").catch_up_until + dt.timedelta(minutes=5))
    [message] = to_caregiver()
    assert message.subject == "Someone you know has not confirmed a dose"
    assert "did not confirm their 08:00 dose" in message.body
    html = html_of(message)
    assert_phi_minimal(plan, str(message.subject), text_of(message), html)
    assert plan.patient.given_name not in message.body
    # The patient's own follow-up still went, to the patient only.
    assert any("You missed your 08:00 dose" in m.subject for m in mail.outbox)


def test_the_first_name_appears_only_if_the_patient_chose_so(plan: TaperPlan) -> None:
    confirmed(plan, share=True)
    mail.outbox.clear()
    miss(plan, "2027-03-01", "08:00")
    [message] = to_caregiver()
    assert message.subject == f"{plan.patient.given_name} has not confirmed a dose"


def test_a_confirmed_caregiver_is_told_of_an_abrupt_stop_alert_but_not_of_symptoms(
    plan: TaperPlan,
) -> None:
    confirmed(plan)
    checkin.checkin_record(
        plan=plan,
        answers={s.key: "none" for s in checkin.SYMPTOMS} | {"seizure": "severe"},
        now=NOW,
    )
    assert not Reminder.objects.filter(recipient=Recipient.CAREGIVER).exists()
    mail.outbox.clear()
    miss(plan, "2027-03-01", "08:00")
    miss(plan, "2027-03-01", "14:00")
    alerts = [m for m in to_caregiver() if m.subject.endswith("may need your help today")]
    assert len(alerts) == 1
    assert "their clinic has been alerted" in alerts[0].body
    assert "emergency services" in alerts[0].body
    assert_phi_minimal(plan, text_of(alerts[0]), html_of(alerts[0]))


def test_the_caregivers_e_mails_show_the_clinics_numbers(plan: TaperPlan) -> None:
    clinic = plan.patient.clinic
    clinic.phone, clinic.out_of_hours_phone = "+1 555 0100", "+1 555 0199"
    clinic.save()
    confirmed(plan)
    mail.outbox.clear()
    miss(plan, "2027-03-01", "08:00")
    [message] = to_caregiver()
    assert "Their clinic: +1 555 0100." in message.body
    assert "Out of hours: +1 555 0199." in message.body
    html = html_of(message)
    assert '<a href="tel:+15550100">+1 555 0100</a>' in html
    assert '<a href="tel:+15550199">+1 555 0199</a>' in html


def test_removal_stops_messages_at_once_and_voids_the_link(plan: TaperPlan) -> None:
    caregiver = confirmed(plan)
    token = token_in(text_of(mail.outbox[0]))
    # A row already made (and one already claimed by a worker) when the patient removes.
    miss_at = dose_at(plan, "2027-03-01", "08:00").catch_up_until + dt.timedelta(minutes=1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispatch.doses_mark_missed(now=miss_at)
    rows = Reminder.objects.filter(recipient=Recipient.CAREGIVER)
    assert rows.count() == 1
    claimed = rows.get()
    assert caregivers.caregiver_remove(
        patient=plan.patient, caregiver_id=caregiver.pk, by=user_of(plan), now=NOW
    )
    assert rows.get().status == ReminderStatus.CANCELLED
    Reminder.objects.filter(pk=claimed.pk).update(status=ReminderStatus.SENDING)
    mail.outbox.clear()
    assert dispatch.reminder_deliver(reminder_id=claimed.pk, now=miss_at, channels=CHANNELS) == (
        "skipped"
    )
    miss(plan, "2027-03-01", "14:00")
    assert to_caregiver() == []
    assert caregivers.caregiver_from_token(token) is None
    caregiver.refresh_from_db()
    assert (caregiver.status, caregiver.removed_by) == (CaregiverStatus.REMOVED, user_of(plan))
    assert caregiver.history.first().history_change_reason == "the patient removed the caregiver"


def test_the_confirmation_page_asks_first_and_records_the_answer(
    client: Client, plan: TaperPlan
) -> None:
    caregiver = add(plan, email=CAREGIVER_EMAIL)
    url = reverse("caregiver_confirm", args=[token_in(text_of(mail.outbox[0]))])
    page = client.get(url)
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "same-origin"
    assert "Yes, tell me" in page.content.decode()
    caregiver.refresh_from_db()
    assert caregiver.status == CaregiverStatus.INVITED  # a mail scanner's GET does nothing
    assert client.post(url, {}).status_code == 400
    done = client.post(url, {"answer": "confirm"})
    assert "you are confirmed" in done.content.decode()
    caregiver.refresh_from_db()
    assert (caregiver.status, caregiver.confirmed_at) == (CaregiverStatus.CONFIRMED, NOW)


def test_declining_removes_the_caregiver(client: Client, plan: TaperPlan) -> None:
    caregiver = add(plan, email=CAREGIVER_EMAIL)
    url = reverse("caregiver_confirm", args=[token_in(text_of(mail.outbox[0]))])
    client.post(url, {"answer": "decline"})
    caregiver.refresh_from_db()
    assert caregiver.status == CaregiverStatus.REMOVED
    assert client.get(url).status_code == 404


def test_the_link_expires_after_seven_days_and_a_forged_one_never_works(
    client: Client, plan: TaperPlan
) -> None:
    add(plan, email=CAREGIVER_EMAIL)
    url = reverse("caregiver_confirm", args=[token_in(text_of(mail.outbox[0]))])
    with time_machine.travel(NOW + dt.timedelta(days=7, minutes=1), tick=False):
        page = client.get(url)
    assert page.status_code == 404
    assert "This invitation no longer works" in page.content.decode()
    assert client.get(url[:-3] + "x/").status_code == 404


def test_the_confirmation_page_speaks_the_patients_language(
    client: Client, plan: TaperPlan
) -> None:
    from reminders.models import PatientPreferences

    PatientPreferences.objects.update_or_create(patient=plan.patient, defaults={"language": "es"})
    add(plan, email=CAREGIVER_EMAIL)
    assert mail.outbox[0].subject.startswith("Alguien que usted conoce")
    page = client.get(reverse("caregiver_confirm", args=[token_in(text_of(mail.outbox[0]))]))
    assert "Sí, avíseme" in page.content.decode()


@pytest.mark.parametrize(
    ("address", "field", "words"),
    [
        ({}, "email", "Give an e-mail address or a mobile number"),
        ({"email": "maria@", "phone": ""}, "email", "does not look like an address"),
        ({"phone": "+34600111222"}, "phone", "Text messages are not available"),
    ],
)
def test_a_caregiver_without_a_usable_address_is_refused_and_nothing_is_written(
    plan: TaperPlan, address: dict[str, str], field: str, words: str
) -> None:
    with pytest.raises(caregivers.CaregiverError) as refusal:
        add(plan, email=address.get("email", ""), phone=address.get("phone", ""))
    assert refusal.value.field == field
    assert words in str(refusal.value)
    assert not Caregiver.objects.exists()
    assert mail.outbox == []


def test_the_same_caregiver_twice_and_too_many_are_refused(plan: TaperPlan) -> None:
    add(plan, email=CAREGIVER_EMAIL)
    with pytest.raises(caregivers.CaregiverError, match="already on the list"):
        add(plan, email=CAREGIVER_EMAIL.upper())
    for n in range(caregivers.MAX_CAREGIVERS - 1):
        add(plan, email=f"c{n}@example.net")
    with pytest.raises(caregivers.CaregiverError, match="at most 5"):
        add(plan, email="one-too-many@example.net")


def test_an_invitation_that_cannot_be_sent_leaves_nothing(
    plan: TaperPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise smtplib.SMTPServerDisconnected("away")

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    with pytest.raises(caregivers.CaregiverError, match="could not be sent"):
        add(plan, email=CAREGIVER_EMAIL)
    assert not Caregiver.objects.exists()


def test_a_caregiver_by_text_is_invited_and_told_by_text_until_stop(
    plan: TaperPlan, twilio: TwilioStandIn
) -> None:
    caregiver = add(plan, phone="+34 600 99 88 77")
    [invitation] = twilio.texts
    assert invitation["To"] == "+34600998877"
    caregivers.caregiver_answer(
        caregiver=caregivers.caregiver_from_token(token_in(invitation["Body"])),  # type: ignore[arg-type]
        confirm=True, now=NOW,
    )  # fmt: skip
    miss(plan, "2027-03-01", "08:00")
    texts = [t for t in twilio.texts if t["To"] == "+34600998877"]
    assert len(texts) == 2
    assert "did not confirm their 08:00 dose" in texts[1]["Body"]
    assert "reply STOP" in texts[1]["Body"]
    assert_phi_minimal(plan, texts[1]["Body"])
    assert "http" not in texts[1]["Body"]
    from reminders import sms

    sms.sms_inbound(params={"From": "+34600998877", "Body": "STOP"}, now=NOW)
    caregiver.refresh_from_db()
    assert caregiver.opted_out_at == NOW
    miss(plan, "2027-03-01", "14:00")
    assert len([t for t in twilio.texts if t["To"] == "+34600998877"]) == 2


def test_a_clinician_adds_a_caregiver_only_with_the_patients_consent_recorded(
    client: Client, alice: Any, plan: TaperPlan
) -> None:
    client.force_login(alice)
    url = reverse("clinic_caregiver_add", args=[plan.patient.pk])
    refused = client.post(url, {"name": "Maria", "email": CAREGIVER_EMAIL})
    assert refused.status_code == 400
    assert "Tick this only once the patient has agreed." in refused.content.decode()
    assert not Caregiver.objects.exists()
    client.post(url, {"name": "Maria", "email": CAREGIVER_EMAIL, "patient_consented": "on"})
    caregiver = Caregiver.objects.get()
    assert (caregiver.consent_recorded_by, caregiver.consent_recorded_at) == (alice, NOW)
    assert caregiver.status == CaregiverStatus.INVITED
    page = client.get(reverse("patient", args=[plan.patient.pk])).content.decode()
    assert "Maria (maria@example.net): invited" in page
    assert "added by alice with the patient's consent" in page


def test_the_patient_adds_sees_and_removes_a_caregiver_in_settings(
    client: Client, plan: TaperPlan
) -> None:
    client.force_login(user_of(plan))
    refused = client.post(reverse("patient_caregiver_add"), {"name": "Maria"})
    assert refused.status_code == 400
    assert "Give an e-mail address or a mobile number" in refused.content.decode()
    response = client.post(
        reverse("patient_caregiver_add"), {"name": "Maria", "email": CAREGIVER_EMAIL}
    )
    assert response.status_code == 302
    settings_page = client.get(reverse("patient_settings")).content.decode()
    assert "Maria (maria@example.net):" in settings_page
    assert "invited, not yet confirmed" in settings_page
    caregiver = Caregiver.objects.get()
    remove = reverse("patient_caregiver_remove", args=[caregiver.pk])
    assert "Yes, remove Maria" in client.get(remove).content.decode()
    caregiver.refresh_from_db()
    assert caregiver.status == CaregiverStatus.INVITED  # asking changes nothing
    client.post(remove)
    caregiver.refresh_from_db()
    assert caregiver.status == CaregiverStatus.REMOVED
    assert "Nobody is told for now." in client.get(reverse("patient_settings")).content.decode()
    assert client.get(remove).status_code == 404


def test_another_patients_caregiver_cannot_be_removed(
    client: Client, plan: TaperPlan, django_user_model: Any, clinic: Any
) -> None:
    caregiver = add(plan, email=CAREGIVER_EMAIL)
    other = Patient.objects.create(
        clinic=clinic, given_name="Bea", family_name="Other", date_of_birth=dt.date(1970, 1, 1),
        sex="female",
    )  # fmt: skip
    client.force_login(patient_account(django_user_model, other, "bea"))
    remove = reverse("patient_caregiver_remove", args=[caregiver.pk])
    assert client.get(remove).status_code == 404
    assert client.post(remove).status_code == 404
    caregiver.refresh_from_db()
    assert caregiver.status == CaregiverStatus.INVITED


def test_the_invitation_link_is_redacted_from_the_logs(
    plan: TaperPlan, caplog: pytest.LogCaptureFixture
) -> None:
    add(plan, email=CAREGIVER_EMAIL)
    token = token_in(text_of(mail.outbox[0]))
    assert token not in redact(f"Not Found: /c/{token}/")
    with caplog.at_level(logging.DEBUG):
        Client().get(f"/c/{token}x/")
    assert token not in caplog.text
    assert CAREGIVER_EMAIL not in caplog.text
