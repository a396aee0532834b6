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


class SmsNumberForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile number, with its country code"),
        max_length=24,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )


class SmsCodeForm(forms.Form):
    code = forms.RegexField(
        label=_("The 6-digit code we texted you"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Code: type the 6 digits of the text.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class CaregiverForm(forms.Form):
    """A caregiver, by e-mail or mobile number (reminders.caregivers checks which)."""

    name = forms.CharField(label=_("Their name"), max_length=100)
    email = forms.CharField(
        label=_("Their e-mail address"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    phone = forms.CharField(
        label=_("Or their mobile number, with its country code"),
        max_length=24,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
    )
    share_first_name = forms.BooleanField(
        label=_("Messages to them may use my first name"), required=False
    )

