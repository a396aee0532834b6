"""Caregivers (issue #17): someone at home who is told when the patient misses a dose or
may be stopping suddenly.

The patient adds a caregiver in Settings, or a clinician on the patient page with the
patient's consent recorded (who, when). The caregiver gets an invitation — an e-mail or
a text with a signed link that expires — and confirms on a public page; until then
nothing else is sent to them. A confirmed caregiver gets, through the dispatcher, one
ledger row per event (Recipient.CAREGIVER): each missed-dose follow-up and each
abrupt-stop alert about missed doses. Their messages are PHI-minimal (no drug, no dose,
the patient's first name only if the patient chose so) and never carry action links.
Removal (by the patient, or the caregiver declining) voids the link and stops every
message not yet sent, at once: the dispatcher asks again at the moment of sending.

Addresses, numbers and tokens are never logged."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from planner.audit import update_with_history
from planner.models import Patient
from reminders.channels import PermanentError, TransientError
from reminders.mime import html_paragraphs
from reminders.models import (
    AbruptStopAlert,
    AlertReason,
    Caregiver,
    CaregiverStatus,
    Dose,
    Recipient,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from reminders.preferences import patient_language

log = logging.getLogger(__name__)

INVITE_VALID_FOR = dt.timedelta(days=7)
# A patient names a few people, not a mailing list: the invitation is sent on their word.
MAX_CAREGIVERS = 5
_SALT = "reminders.caregivers.invite"
# The alerts a caregiver is told of: the patient may be stopping suddenly (missed
# doses). Severe symptoms are the patient's own report to the clinic, and pump refills
# the clinic's business: neither is passed on (docs/patient-portal.md).
TOLD_ALERTS = frozenset({AlertReason.CONSECUTIVE_MISSED, AlertReason.NO_CONFIRMED_DOSE})
# Kinds a caregiver's ledger row can have (reminders.messages renders them).
CAREGIVER_KINDS = (ReminderKind.MISSED_DOSE, ReminderKind.ABRUPT_STOP_ALERT)


class CaregiverError(ValueError):
    """The request cannot be carried out: `field` is the form field the words are for."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def caregiver_who(caregiver: Caregiver) -> str:
    """How messages to the caregiver name the patient: the first name if the patient
    chose so, otherwise no name at all."""
    if caregiver.share_first_name:
        return caregiver.patient.given_name
    return _("Someone you know")


def _clean(
    patient: Patient, name: str, email: str, phone: str
) -> tuple[str, str, str]:
    from reminders import sms  # sms builds on the channels, as this module does

    name = " ".join((name or "").split())
    if not name:
        raise CaregiverError(_("Name: write the caregiver's name."), "name")
    email = (email or "").strip()
    phone = (phone or "").strip()
    if bool(email) == bool(phone):
        raise CaregiverError(_("Give an e-mail address or a mobile number, not both."), "email")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            refusal = _("E-mail: this does not look like an address.")
            raise CaregiverError(refusal, "email") from None
    else:
        if sms.sms_provider() is None:
            raise CaregiverError(
                _("Text messages are not available at your clinic: give an e-mail address."),
                "phone",
            )
        try:
            phone = sms.phone_normalise(phone)
        except sms.SmsError as refusal:
            raise CaregiverError(str(refusal), "phone") from None
    live = Caregiver.objects.filter(patient=patient).exclude(status=CaregiverStatus.REMOVED)
    if live.filter(email__iexact=email, phone=phone).exists():
        field = "email" if email else "phone"
        raise CaregiverError(_("This caregiver is already on the list."), field)
    if live.count() >= MAX_CAREGIVERS:
        raise CaregiverError(
            _("You can name at most %(count)s caregivers. Remove one first.")
            % {"count": MAX_CAREGIVERS},
            "name",
        )
    return name, email, phone


@transaction.atomic
def caregiver_add(
    *,
    patient: Patient,
    name: str,
    email: str,
    phone: str,
    share_first_name: bool,
    by: User,
    now: dt.datetime,
    patient_consented: bool | None = None,
) -> Caregiver:
    """Add a caregiver and send them the invitation. `patient_consented` is None when the
    patient adds them; a clinician adding one must record the patient's consent (True),
    which is kept with who recorded it and when. Nothing is written if the invitation
    cannot be sent."""
    if patient_consented is False:
        raise CaregiverError(
            "Tick that the patient consented: a caregiver is added only with their consent.",
            "patient_consented",
        )
    Patient.objects.select_for_update().filter(pk=patient.pk).first()  # one add at a time
    name, email, phone = _clean(patient, name, email, phone)
    caregiver = Caregiver.objects.create(
        patient=patient,
        name=name,
        email=email,
        phone=phone,
        share_first_name=share_first_name,
        added_by=by,
        consent_recorded_by=by if patient_consented else None,
        consent_recorded_at=now if patient_consented else None,
        invite_nonce=secrets.token_hex(8),
        invited_at=now,
    )
    _invite_send(caregiver)
    return caregiver


def caregiver_invite_token(caregiver: Caregiver) -> str:
    return signing.dumps([caregiver.pk, caregiver.invite_nonce], salt=_SALT, compress=True)


def caregiver_invite_url(caregiver: Caregiver) -> str:
    token = caregiver_invite_token(caregiver)
    return settings.SITE_URL + reverse("caregiver_confirm", args=[token])


def caregiver_from_token(token: str) -> Caregiver | None:
    """The caregiver a link was made for, while it is alive: signed, not older than
    INVITE_VALID_FOR, and not voided by a removal. None otherwise."""
    try:
        pk, nonce = signing.loads(token, salt=_SALT, max_age=INVITE_VALID_FOR)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    caregiver = (
        Caregiver.objects.select_related("patient__clinic")
        .filter(pk=pk, invite_nonce=nonce)
        .first()
    )
    if caregiver is None or caregiver.status == CaregiverStatus.REMOVED:
        return None
    return caregiver


def _invite_send(caregiver: Caregiver) -> None:
    """The invitation, in the patient's language: an e-mail (text and HTML) or a text,
    each with the confirmation link and nothing of the patient's medicine."""
    from reminders import sms

    patient = caregiver.patient
    with translation.override(patient_language(patient)):
        context = {
            "caregiver": caregiver,
            "who": caregiver_who(caregiver),
            "link": caregiver_invite_url(caregiver),
            "days": INVITE_VALID_FOR.days,
            "by_email": bool(caregiver.email),
        }
        subject = _("%(who)s asks you to be told about their medication plan") % context
        text = render_to_string("reminders/email/caregiver_invite.txt", context).strip() + "\n"
        try:
            if caregiver.email:
                links = [(_("Confirm or decline"), str(context["link"]))]
                before, after = html_paragraphs(text, links)
                html = render_to_string(
                    "reminders/email/base.html",
                    {
                        "subject": subject,
                        "paragraphs": before,
                        "links": links,
                        "paragraphs_after": after,
                    },
                )
                email = EmailMultiAlternatives(subject=subject, body=text, to=[caregiver.email])
                email.attach_alternative(html, "text/html")
                email.send()
            else:
                provider = sms.sms_provider()
                if provider is None:
                    raise PermanentError("SMS is not configured")
                provider.send(to=caregiver.phone, body=f"{subject}\n{text}")
        except (PermanentError, TransientError, OSError) as error:
            log.warning("caregiver %s: the invitation could not be sent (%s)",
                        caregiver.pk, type(error).__name__)  # fmt: skip
            raise CaregiverError(
                _("The invitation could not be sent. Check the address and try again."),
                "email" if caregiver.email else "phone",
            ) from None


@transaction.atomic
def caregiver_answer(*, caregiver: Caregiver, confirm: bool, now: dt.datetime) -> Caregiver:
    """The caregiver's answer on the public page: confirmed (messages start with the next
    event) or declined (removed, the link voided)."""
    locked = Caregiver.objects.select_for_update().get(pk=caregiver.pk)
    if locked.status == CaregiverStatus.REMOVED:
        raise CaregiverError(_("This invitation is no longer valid."))
    if confirm:
        if locked.status != CaregiverStatus.CONFIRMED:
            locked.status, locked.confirmed_at = CaregiverStatus.CONFIRMED, now
            locked._change_reason = "the caregiver confirmed"  # type: ignore[attr-defined]
            locked.save(update_fields=["status", "confirmed_at"])
        return locked
    _remove(locked, now=now, by=None, reason="the caregiver declined")
    return locked


def _remove(caregiver: Caregiver, *, now: dt.datetime, by: User | None, reason: str) -> None:
    caregiver.status, caregiver.removed_at, caregiver.removed_by = CaregiverStatus.REMOVED, now, by
    caregiver.invite_nonce = secrets.token_hex(8)
    caregiver._change_reason = reason  # type: ignore[attr-defined]
    caregiver.save(update_fields=["status", "removed_at", "removed_by", "invite_nonce"])
    # What was waiting for them goes; a row already being sent is refused at the moment
    # of sending (caregiver_still_told).
    Reminder.objects.filter(
        recipient=Recipient.CAREGIVER,
        status=ReminderStatus.PENDING,
        context__caregiver_id=caregiver.pk,
    ).update(status=ReminderStatus.CANCELLED, last_error="the caregiver was removed")


@transaction.atomic
def caregiver_remove(*, patient: Patient, caregiver_id: int, by: User, now: dt.datetime) -> bool:
    """The patient removes a caregiver: nothing more is sent to them. False if there was
    no such caregiver of this patient still on the list."""
    caregiver = (
        Caregiver.objects.select_for_update()
        .filter(patient=patient, pk=caregiver_id)
        .exclude(status=CaregiverStatus.REMOVED)
        .first()
    )
    if caregiver is None:
        return False
    _remove(caregiver, now=now, by=by, reason="the patient removed the caregiver")
    return True


def caregivers_listed(patient: Patient) -> list[Caregiver]:
    """The caregivers the patient (and the clinic) sees: invited and confirmed."""
    return list(
        Caregiver.objects.filter(patient=patient).exclude(status=CaregiverStatus.REMOVED)
    )


def caregivers_opt_out_record(*, phone: str, opted_out: bool, now: dt.datetime) -> int:
    """A STOP (or START) texted from a caregiver's number."""
    return update_with_history(
        Caregiver.objects.filter(phone=phone),
        reason="the number texted " + ("STOP" if opted_out else "START"),
        opted_out_at=now if opted_out else None,
    )


# --- the dispatcher's side --------------------------------------------------------------


def _told_by_patient(patient_ids: Iterable[int]) -> dict[int, list[int]]:
    told: dict[int, list[int]] = {}
    for pk, patient_id in Caregiver.objects.filter(
        patient_id__in=set(patient_ids), status=CaregiverStatus.CONFIRMED
    ).values_list("pk", "patient_id"):
        told.setdefault(patient_id, []).append(pk)
    return told


def missed_dose_rows(doses: Iterable[Dose], now: dt.datetime) -> list[Reminder]:
    """One row per confirmed caregiver of each missed dose's patient (one query)."""
    doses = list(doses)
    told = _told_by_patient(dose.plan.patient_id for dose in doses)
    return [
        Reminder(
            plan=dose.plan,
            kind=ReminderKind.MISSED_DOSE,
            recipient=Recipient.CAREGIVER,
            key=f"missed-{dose.pk}-caregiver-{caregiver_id}",
            due_at=now,
            # The dose's local time only: what the caregiver is told (no drug, no dose).
            context={"caregiver_id": caregiver_id, "time": f"{dose.local_time:%H:%M}"},
        )
        for dose in doses
        for caregiver_id in told.get(dose.plan.patient_id, [])
    ]


def alert_rows(alert: AbruptStopAlert, now: dt.datetime) -> list[Reminder]:
    """One row per confirmed caregiver for an alert about missed doses."""
    if alert.reason not in TOLD_ALERTS:
        return []
    told = _told_by_patient([alert.plan.patient_id])
    return [
        Reminder(
            plan=alert.plan,
            kind=ReminderKind.ABRUPT_STOP_ALERT,
            recipient=Recipient.CAREGIVER,
            key=f"alert-{alert.pk}-caregiver-{caregiver_id}",
            due_at=now,
            context={"caregiver_id": caregiver_id, "reason": alert.reason},
        )
        for caregiver_id in told.get(alert.plan.patient_id, [])
    ]


def caregiver_still_told(row: Reminder) -> Caregiver | None:
    """The caregiver of a row, if they are still confirmed at the moment of sending."""
    return (
        Caregiver.objects.select_related("patient__clinic")
        .filter(pk=row.context.get("caregiver_id"), status=CaregiverStatus.CONFIRMED)
        .first()
    )
