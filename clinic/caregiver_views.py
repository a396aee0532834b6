"""A clinician adds a caregiver on the patient page, only with the patient's consent
(recorded with who and when: reminders.caregivers.caregiver_add)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic import selectors
from planner.access import StaffRequest, clinic_patient, clinician_required
from reminders import caregivers


class ClinicCaregiverForm(forms.Form):
    """The patient page's form (the patient's own is portal.forms.CaregiverForm)."""

    name = forms.CharField(label="Caregiver's name", max_length=100)
    email = forms.CharField(
        label="E-mail address", max_length=254, required=False, widget=forms.EmailInput()
    )
    phone = forms.CharField(
        label="Or mobile number, with its country code", max_length=24, required=False
    )
    share_first_name = forms.BooleanField(
        label="The patient agrees that messages use their first name", required=False
    )
    patient_consented = forms.BooleanField(
        label="The patient consented to this caregiver being told of missed doses and "
        "abrupt-stop alerts",
        error_messages={"required": "Tick this only once the patient has agreed."},
    )


@clinician_required
@require_POST
def caregiver_add(request: HttpRequest, pk: int) -> HttpResponse:
    staff: StaffRequest = request  # type: ignore[assignment]  # set by clinician_required
    patient = clinic_patient(staff, pk)
    form = ClinicCaregiverForm(request.POST)
    if form.is_valid():
        try:
            caregiver = caregivers.caregiver_add(
                patient=patient, by=staff.user, now=timezone.now(), **form.cleaned_data
            )
        except caregivers.CaregiverError as refusal:
            form.add_error(refusal.field, str(refusal))
        else:
            messages.success(
                request, f"Invitation sent to {caregiver.name}: they are told nothing until "
                "they confirm.",
            )  # fmt: skip
            return redirect("patient", pk=patient.pk)
    context = {**selectors.patient_page(patient), "caregiver_form": form}
    return render(request, "planner/patient_detail.html", context, status=400)
