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
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from planner.models import Patient
from reminders import feeds
from reminders.preferences import patient_language_activate
from reminders.subscription import subscription_context


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


@login_required
@require_http_methods(["GET", "POST"])
def my_calendar(request: HttpRequest) -> HttpResponse:
    patient = own_patient_record(request)
    patient_language_activate(request, patient)
    token = None
    form = CalendarPrivacyForm(
        initial={"detailed_titles": "1" if patient.calendar_detailed_titles else "0"}
    )
    if request.method == "POST":
        action = request.POST.get("action")
        if action in {"issue", "rotate"}:
            token = feeds.feed_token_issue(patient=patient, by=request.user)  # type: ignore[arg-type]
        elif action == "revoke":
            feeds.feed_token_revoke(patient=patient, by=request.user)  # type: ignore[arg-type]
            messages.success(request, _("Your old calendar address no longer works."))
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
        else:
            messages.error(request, _("Choose one of the buttons."))
    context = {
        "patient": patient,
        "has_feed": feeds.feed_has_live_token(patient),
        "subscription": subscription_context(token) if token else None,
        "form": form,
    }
    return render(request, "reminders/my_calendar.html", context)
