"""The patient's own choices, for reading: they change them on their settings page,
where the rule about dose e-mails and the calendar is kept."""

from __future__ import annotations

from django.contrib import admin

from reminders.admin import ReadOnlyAdmin
from reminders.models import PatientPreferences


@admin.register(PatientPreferences)
class PatientPreferencesAdmin(ReadOnlyAdmin):
    list_display = ["patient", "language", "email_dose", "email_dose_change",
                    "email_missed_dose", "email_check_in", "updated_at"]
    list_filter = ["language", "email_dose"]
    search_fields = ["patient__family_name"]
