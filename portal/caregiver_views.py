"""Caregivers (reminders.caregivers): the patient adds and removes them in Settings, and
the caregiver answers the invitation on a public page whose signed link is the only
credential. Views authorise, validate with a form, call one service and render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from planner.models import Patient
from portal.forms import CaregiverForm
from portal.views import patient_required, settings_page
from reminders import caregivers
from reminders.models import Caregiver, CaregiverStatus
from reminders.preferences import patient_language


@patient_required
@require_POST
def caregiver_add(request: HttpRequest, patient: Patient) -> HttpResponse:
    form = CaregiverForm(request.POST)
    if form.is_valid():
        try:
            caregiver = caregivers.caregiver_add(
                patient=patient, by=request.user, now=timezone.now(),  # type: ignore[arg-type]
                **form.cleaned_data,
            )  # fmt: skip
        except caregivers.CaregiverError as refusal:
            form.add_error(refusal.field, str(refusal))
        else:
            messages.success(
                request,
                _("We sent %(name)s an invitation. Nothing else reaches them until they "
                  "confirm.") % {"name": caregiver.name},
            )  # fmt: skip
            return redirect("patient_settings")
    return settings_page(request, patient, status=400, caregiver_form=form)


@patient_required
@require_http_methods(["GET", "POST"])
def caregiver_remove(request: HttpRequest, patient: Patient, caregiver_id: int) -> HttpResponse:
    """GET asks to confirm; POST removes: nothing more is sent to them."""
    listed = Caregiver.objects.filter(patient=patient).exclude(status=CaregiverStatus.REMOVED)
    caregiver = get_object_or_404(listed, pk=caregiver_id)
    if request.method == "POST":
        caregivers.caregiver_remove(
            patient=patient, caregiver_id=caregiver.pk, by=request.user,  # type: ignore[arg-type]
            now=timezone.now(),
        )  # fmt: skip
        messages.success(
            request, _("%(name)s is removed and will not be told anything more.")
            % {"name": caregiver.name},
        )  # fmt: skip
        return redirect("patient_settings")
    return render(request, "portal/caregiver_remove.html", {"caregiver": caregiver})


@never_cache
@require_http_methods(["GET", "POST"])
def caregiver_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the invitation: no account needed. GET says what they would get and
    asks; POST records the answer (a link opened by a mail scanner confirms nothing)."""
    caregiver = caregivers.caregiver_from_token(token)
    if caregiver is None:
        return render(request, "portal/caregiver_confirm.html", {"expired": True}, status=404)
    with translation.override(patient_language(caregiver.patient)):
        context = {
            "caregiver": caregiver,
            "who": caregivers.caregiver_who(caregiver),
            "clinic": caregiver.patient.clinic,
        }
        if request.method == "POST":
            answer = request.POST.get("answer")
            if answer not in ("confirm", "decline"):
                context["error"] = _("Choose one of the two buttons.")
                return render(request, "portal/caregiver_confirm.html", context, status=400)
            try:
                caregiver = caregivers.caregiver_answer(
                    caregiver=caregiver, confirm=answer == "confirm", now=timezone.now()
                )
            except caregivers.CaregiverError:
                return render(
                    request, "portal/caregiver_confirm.html", {"expired": True}, status=404
                )
            context["caregiver"] = caregiver
            context["answered"] = answer
        response = render(request, "portal/caregiver_confirm.html", context)
    # The address is the credential: never sent to another site (and "no-referrer" would
    # make the form's own POST fail the CSRF origin check).
    response["Referrer-Policy"] = "same-origin"
    return response
