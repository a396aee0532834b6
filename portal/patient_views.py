"""The patient's own calendar page: subscribe, rotate or revoke the address, and choose
what event titles say."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from django.views.decorators.http import require_http_methods

from planner.models import Patient
from reminders import feeds
from reminders.models import FeedToken
from reminders.preferences import patient_language_activate
from reminders.subscription import subscription_context


class DeviceForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name of the device"),
        help_text=gettext_lazy("For example “My phone” or “Work computer”."),
        max_length=60,
    )


class CalendarPrivacyForm(forms.Form):
    detailed_titles = forms.TypedChoiceField(
        label=gettext_lazy("What should calendar events say?"),
        choices=[
            (
                "0",
                gettext_lazy(
                    "Only “Medication dose” (recommended: calendar companies store what they see)"
                ),
            ),
            ("1", gettext_lazy("The medicine and the dose")),
        ],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )


def own_patient_record(request: HttpRequest) -> Patient:
    patient = Patient.objects.filter(user_id=request.user.pk or 0).first()
    if patient is None:
        raise PermissionDenied
    return patient


# The refusals of reminders.feeds (English there), listed for translation.
DEVICE_REFUSALS = (
    gettext_noop("Give the device a name, such as “My phone”."),
    gettext_noop(
        "You have the most calendar addresses allowed. Stop one you no longer use first."
    ),
    gettext_noop("That calendar address is already stopped."),
)

# The two changes that break a calendar already subscribed ask first.
CONFIRMED_ACTIONS = {"renew", "stop"}


@login_required
@require_http_methods(["GET", "POST"])
def my_calendar(request: HttpRequest) -> HttpResponse:
    """The patient's calendar addresses, one per device: add a device (its address is
    shown once), make a new address for one device or stop it (each asks to confirm),
    and the privacy of event titles."""
    patient = own_patient_record(request)
    patient_language_activate(request, patient)
    user = request.user
    token = None
    status = 200
    confirm = None
    device_form = DeviceForm()
    form = CalendarPrivacyForm(
        initial={"detailed_titles": "1" if patient.calendar_detailed_titles else "0"}
    )
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "add":
            device_form = DeviceForm(request.POST)
            if device_form.is_valid():
                try:
                    token = feeds.feed_device_add(
                        patient=patient, by=user, name=device_form.cleaned_data["name"]  # type: ignore[arg-type]
                    )
                except feeds.FeedDeviceError as refusal:
                    device_form.add_error("name", _(str(refusal)))
            if token is None:
                status = 400
        elif action in CONFIRMED_ACTIONS:
            device = _own_device(patient, request.POST.get("device", ""))
            if device is None:
                messages.error(request, _("That calendar address is already stopped."))
                return redirect("my_calendar")
            if request.POST.get("confirm") != "yes":
                confirm = {"action": action, "device": device}
            else:
                try:
                    token = _renew_or_stop(request, patient, action, device)
                except feeds.FeedDeviceError as refusal:  # stopped meanwhile, in another tab
                    messages.error(request, _(str(refusal)))
                    return redirect("my_calendar")
                if token is None:
                    return redirect("my_calendar")
        elif action == "privacy":
            form = CalendarPrivacyForm(request.POST)
            if form.is_valid():
                feeds.patient_calendar_privacy_set(
                    patient=patient, detailed_titles=form.cleaned_data["detailed_titles"]
                )
                messages.success(
                    request, _("Saved. Your calendar shows the change at its next refresh.")
                )
                return redirect("my_calendar")
            status = 400
        else:
            messages.error(request, _("Choose one of the buttons."))
    if confirm is not None:
        return render(request, "reminders/my_calendar_confirm.html", {"confirm": confirm})
    context = {
        "patient": patient,
        "devices": list(feeds.feed_devices(patient)),
        "devices_max": feeds.DEVICES_MAX,
        "subscription": subscription_context(token) if token else None,
        "device_form": device_form,
        "form": form,
    }
    return render(request, "reminders/my_calendar.html", context, status=status)


def _own_device(patient: Patient, raw_id: str) -> FeedToken | None:
    if not raw_id.isdigit() or len(raw_id) > 12:  # no id is that long; no overflow either
        return None
    return feeds.feed_devices(patient).filter(pk=int(raw_id)).first()


def _renew_or_stop(
    request: HttpRequest, patient: Patient, action: str, device: FeedToken
) -> str | None:
    """The confirmed change: the new token of a renewed address, or None once stopped."""
    by = request.user
    if action == "renew":
        return feeds.feed_device_renew(patient=patient, by=by, device_id=device.pk)  # type: ignore[arg-type]
    feeds.feed_device_stop(patient=patient, by=by, device_id=device.pk)  # type: ignore[arg-type]
    name = device.name or _("A device")
    messages.success(request, _("The address of “%(name)s” no longer works.") % {"name": name})
    return None
