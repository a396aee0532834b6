"""What a patient chose in the portal: which reminder e-mails they get and their language.
Owned by reminders, which reads them to deliver; the portal's settings page writes them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from planner.models import Patient


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Español"


class PatientPreferences(models.Model):
    """One row per patient, made the first time it is needed. In-app notices are always
    stored; these switches only stop the e-mail copy."""

    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, related_name="portal_preferences"
    )
    # Turning dose e-mails off is allowed only while the calendar is subscribed;
    # reminders.preferences.email_wanted also ignores this switch once the feed is revoked.
    email_dose = models.BooleanField(_("Dose reminders"), default=True)
    email_dose_change = models.BooleanField(_("Dose changes and the last day"), default=True)
    email_missed_dose = models.BooleanField(_("Missed-dose follow-ups"), default=True)
    email_check_in = models.BooleanField(_("Symptom check-ins"), default=True)
    language = models.CharField(max_length=5, choices=Language.choices, default=Language.ENGLISH)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The table keeps the name it had when the model lived in portal.
        db_table = "portal_patientpreferences"
        verbose_name_plural = "patient preferences"

    def __str__(self) -> str:
        return f"Preferences of patient {self.patient_id}"
