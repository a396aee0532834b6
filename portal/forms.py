"""Forms of the patient portal; labels are the patient's words, translated."""

from __future__ import annotations

from zoneinfo import available_timezones

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.models import Language


class ReminderEmailForm(forms.Form):
    email_dose = forms.BooleanField(label=_("Dose reminders"), required=False)
    email_dose_change = forms.BooleanField(
        label=_("The day before a dose change, and before the last day"), required=False
    )
    email_missed_dose = forms.BooleanField(
        label=_("What to do after a missed dose"), required=False
    )
    email_check_in = forms.BooleanField(label=_("Symptom check-ins"), required=False)


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)


def _zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone.replace("_", " ")) for zone in sorted(available_timezones())]


class TimezoneForm(forms.Form):
    home_timezone = forms.ChoiceField(label=_("Home time zone"), choices=_zone_choices)
