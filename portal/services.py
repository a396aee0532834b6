"""Writes for the patient portal: invitations, preferences, the home time zone, notices.
Views call these; each is one transaction and checks its own rules."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from planner import doses as reminder_services
from planner.clinic_phones import clinic_phones_text
from planner.models import Patient
from planner.roles import Role
from planner.zones import is_home_zone
from reminders.models import Language, Notice, PatientPreferences
from reminders.preferences import calendar_subscribed, patient_language


class InviteTokenGenerator(PasswordResetTokenGenerator):
    """Django's password-reset tokens with their own salt: the link expires after
    PASSWORD_RESET_TIMEOUT and stops working once a password is set."""

    key_salt = "portal.services.InviteTokenGenerator"


invite_token_generator = InviteTokenGenerator()


class PortalError(ValueError):
    """The request cannot be carried out; the message is for the person who asked."""


log = logging.getLogger(__name__)


def _username_for(patient: Patient) -> str:
    email = patient.email.strip().lower()
    if len(email) <= 150 and not User.objects.filter(username__iexact=email).exists():
        return email
    return f"patient-{patient.pk}"


def invite_link(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = invite_token_generator.make_token(user)
    return settings.SITE_URL + reverse("patient_welcome", args=[uid, token])


@transaction.atomic
def patient_invite(*, patient: Patient, by: User | None = None) -> User:
    """Give the patient an account (without a password) and e-mail them a signed,
    expiring link to set one, naming their clinic and the clinician who invites them
    (`by`), as text and HTML. Sending again is allowed until they have set it."""
    patient = Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)
    if not patient.email:
        raise PortalError("Add the patient's e-mail address before inviting them.")
    user = patient.user
    if user is not None and user.has_usable_password():
        raise PortalError("The patient already has an account and can log in.")
    if user is None:
        user = User(username=_username_for(patient), email=patient.email)
        user.set_unusable_password()
        user.save()
        user.groups.add(Group.objects.get_or_create(name=Role.PATIENT.value)[0])
        patient.user = user
        patient.save(update_fields=["user"])
    elif user.email != patient.email:
        user.email = patient.email
        user.save(update_fields=["email"])
    days = max(settings.PASSWORD_RESET_TIMEOUT // 86400, 1)
    context = {
        "link": invite_link(user),
        "username": user.get_username(),
        "days": days,
        "clinic": patient.clinic.name,
        "clinician": (by.get_full_name() or by.get_username()) if by is not None else "",
    }
    with translation.override(patient_language(patient)):
        # "Call your clinic: …": plain in the text part, tel: links in the HTML part.
        context["clinic_call"] = clinic_phones_text(patient.clinic)
        context["clinic_record"] = patient.clinic
        # A subject is plain text: the clinic's name goes in as written.
        subject = _("%(clinic)s invites you to follow your medication plan online") % {
            "clinic": patient.clinic.name
        }
        body = render_to_string("portal/email/invite.txt", context)
        html = render_to_string("portal/email/invite.html", {**context, "subject": subject})
    message = EmailMultiAlternatives(subject=subject, body=body.strip() + "\n", to=[patient.email])
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError):
        # The clinician is at the screen: say so and keep nothing, so a retry starts clean.
        log.warning("Invitation e-mail for patient %s could not be sent.", patient.pk)
        raise PortalError(
            "The invitation e-mail could not be sent just now, so nothing was changed. "
            "Try again in a few minutes."
        ) from None
    return user


def preferences_for(patient: Patient) -> PatientPreferences:
    preferences, _created = PatientPreferences.objects.get_or_create(patient=patient)
    return preferences


@transaction.atomic
def preferences_update(
    *,
    patient: Patient,
    email_dose: bool,
    email_dose_change: bool,
    email_missed_dose: bool,
    email_check_in: bool,
) -> PatientPreferences:
    """Dose e-mails may be turned off only while the calendar is subscribed: the
    patient must always have one working reminder."""
    if not email_dose and not calendar_subscribed(patient):
        raise PortalError(
            _(
                "You can turn off dose reminder e-mails only while your plan is in your "
                "calendar. Add it to your calendar first."
            )
        )
    preferences = preferences_for(patient)
    preferences.email_dose = email_dose
    preferences.email_dose_change = email_dose_change
    preferences.email_missed_dose = email_missed_dose
    preferences.email_check_in = email_check_in
    preferences.save()
    return preferences


@transaction.atomic
def language_set(*, patient: Patient, language: str) -> PatientPreferences:
    if language not in Language.values:
        raise PortalError("Choose English or Spanish.")
    preferences = preferences_for(patient)
    if preferences.language != language:
        # The calendar feed speaks this language too: its events change, so clients
        # see a new SEQUENCE and Last-Modified moves forward.
        Patient.objects.filter(pk=patient.pk).update(
            calendar_settings_version=F("calendar_settings_version") + 1,
            calendar_settings_changed_at=timezone.now(),
        )
    preferences.language = language
    preferences.save(update_fields=["language", "updated_at"])
    return preferences


@transaction.atomic
def patient_timezone_change(*, patient: Patient, zone: str, now: dt.datetime) -> int:
    """The patient moved their home time zone: doses still to come keep their wall-clock
    times (08:00 stays 08:00) in the new zone, and their reminders move with them.
    Travelling does not call this; only the patient's own choice does. Returns the
    number of doses moved."""
    if not is_home_zone(zone):
        raise PortalError("Choose a time zone from the list.")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if zone == patient.home_timezone:
        return 0
    old_zone = patient.home_timezone
    patient.home_timezone = zone
    patient.save(update_fields=["home_timezone"])
    return reminder_services.patient_doses_rezone(
        patient_id=patient.pk, old_zone=old_zone, zone=zone, now=now
    )


def notices_mark_read(*, user: User, now: dt.datetime) -> int:
    return Notice.objects.filter(user=user, read_at__isnull=True).update(read_at=now)
