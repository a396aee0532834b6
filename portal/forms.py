"""Forms of the patient portal; labels are the patient's words, translated."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from planner.zones import zone_choices
from reminders.models import Language


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


def _home_zone_choices() -> list[tuple[str, object]]:
    # First a blank: a zone stored before the list was real places only (UTC, say) is
    # not silently shown as the list's first place.
    return [("", _("Choose your home time zone")), *zone_choices()]


class TimezoneForm(forms.Form):
    # Real places only, by region, with friendly names (planner.zones).
    home_timezone = forms.ChoiceField(label=_("Home time zone"), choices=_home_zone_choices)
