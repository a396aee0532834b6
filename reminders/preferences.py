"""Reads of a patient's portal choices, for the reminder dispatcher and the pages.

Kept free of any import of reminders' delivery code so that reminders.messages can
import it."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest
from django.utils import translation

from planner.models import Patient
from reminders.models import FeedToken, Language, PatientPreferences, ReminderKind

# Which switch stops which kind of e-mail. Kinds not listed (plan revised, pump
# refill) always go out: missing them can mean a sudden stop.
EMAIL_SWITCHES: dict[str, str] = {
    ReminderKind.DOSE: "email_dose",
    ReminderKind.DOSE_CHANGE: "email_dose_change",
    ReminderKind.LAST_DOSE: "email_dose_change",
    ReminderKind.MISSED_DOSE: "email_missed_dose",
    ReminderKind.CHECK_IN: "email_check_in",
}


def stored_preferences(patient: Patient) -> PatientPreferences | None:
    try:
        return patient.portal_preferences
    except ObjectDoesNotExist:
        return None


def calendar_subscribed(patient: Patient) -> bool:
    return FeedToken.objects.filter(patient=patient, revoked_at__isnull=True).exists()


def email_wanted(patient: Patient, kind: str) -> bool:
    """Does the patient want this kind of reminder by e-mail? Dose e-mails come back on
    by themselves when the calendar address is revoked."""
    preferences = stored_preferences(patient)
    switch = EMAIL_SWITCHES.get(kind)
    if preferences is None or switch is None or getattr(preferences, switch):
        return True
    if kind == ReminderKind.DOSE:
        return not calendar_subscribed(patient)
    return False


def patient_language(patient: Patient) -> str:
    preferences = stored_preferences(patient)
    return preferences.language if preferences is not None else Language.ENGLISH


def patient_language_activate(request: HttpRequest, patient: Patient) -> None:
    """A patient who chose a language sees it on every page, whatever the browser says."""
    preferences = stored_preferences(patient)
    if preferences is not None:
        translation.activate(preferences.language)
        request.LANGUAGE_CODE = preferences.language


def email_failing_since(patient: Patient) -> dt.datetime | None:
    """Since when the mail server has refused the patient's current address, or None
    (reminders.models.EmailAddressStatus: a corrected address is not failing)."""
    try:
        status = patient.email_status
    except ObjectDoesNotExist:
        return None
    return status.failing_since if status.address == patient.email else None
