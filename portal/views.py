"""Patient portal pages (/me/...) and the clinic's side of it (invitations, dose
history). Views authorise, validate with a form, call one service and render."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from planner.access import StaffRequest, clinic_patient, clinician_required, staff_required
from planner.audit import access_record
from planner.doses import DoseAnswerError, dose_record
from planner.models import AccessAction, Patient
from portal import selectors, services
from portal.action_views import dose_refusal_text, snooze_minutes
from portal.forms import (
    CaregiverForm,
    LanguageForm,
    ReminderEmailForm,
    SmsCodeForm,
    SmsNumberForm,
    TimezoneForm,
)
from portal.patient_views import own_patient_record
from reminders import caregivers, checkin, push, refills, sms
from reminders.amounts import dose_amount
from reminders.missed import missed_dose_advice
from reminders.models import Dose, DoseStatus, ReminderKind, SmsNumber
from reminders.preferences import (
    calendar_subscribed,
    email_wanted,
    patient_language_activate,
    stored_preferences,
)
from reminders.snooze import SnoozeError
from reminders.snooze import dose_snooze as dose_snooze_service

PatientView = Callable[..., HttpResponse]


def patient_required(view: PatientView) -> PatientView:
    """The patient's own pages: anonymous → log-in page; anyone without a patient record
    → 403. The view gets the patient; every query starts from it."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        patient = own_patient_record(request)
        patient_language_activate(request, patient)
        return view(request, patient, *args, **kwargs)

    return wrapper


# --- patient pages ---------------------------------------------------------------------


@patient_required
@require_GET
def today(request: HttpRequest, patient: Patient) -> HttpResponse:
    context = selectors.today_context(patient, timezone.now())
    return render(request, "portal/today.html", context)


@patient_required
@require_POST
def notices_read(request: HttpRequest, patient: Patient) -> HttpResponse:
    services.notices_mark_read(user=request.user, now=timezone.now())  # type: ignore[arg-type]
    return redirect("patient_today")


@patient_required
@require_POST
def dose_answer(request: HttpRequest, patient: Patient, dose_id: int) -> HttpResponse:
    dose = get_object_or_404(selectors.patient_doses(patient), pk=dose_id)
    answer = request.POST.get("answer", "")
    try:
        dose_record(dose_id=dose.pk, answer=answer, now=timezone.now())
    except DoseAnswerError as refusal:
        messages.error(request, dose_refusal_text(refusal))
    else:
        if answer == DoseStatus.TAKEN:
            messages.success(request, _("Recorded: you have taken your %(time)s dose.")
                             % {"time": f"{dose.local_time:%H:%M}"})
        else:
            messages.success(request, _("Recorded: you skipped your %(time)s dose.")
                             % {"time": f"{dose.local_time:%H:%M}"})
    if request.POST.get("next") == "missed":
        return redirect("patient_dose_missed", dose_id=dose.pk)
    return redirect("patient_today")


@patient_required
@require_POST
def dose_snooze(request: HttpRequest, patient: Patient, dose_id: int) -> HttpResponse:
    """ "Remind me in 30 / 60 minutes" on Today: the same service as the e-mail's page."""
    dose = get_object_or_404(selectors.patient_doses(patient), pk=dose_id)
    try:
        row = dose_snooze_service(
            dose_id=dose.pk, minutes=snooze_minutes(request), now=timezone.now()
        )
    except SnoozeError as refusal:
        messages.error(request, _(str(refusal)))
    else:
        at = row.due_at.astimezone(ZoneInfo(dose.timezone))
        messages.success(request, _("We will remind you of your %(time)s dose again at %(at)s.")
                         % {"time": f"{dose.local_time:%H:%M}", "at": f"{at:%H:%M}"})
    return redirect("patient_today")


def _missed_page(request: HttpRequest, patient: Patient, dose_id: int | None) -> HttpResponse:
    now = timezone.now()
    candidates = selectors.missed_candidates(patient, now)
    dose: Dose | None = candidates[0] if candidates else None
    if dose_id is not None:
        dose = get_object_or_404(selectors.patient_doses(patient), pk=dose_id)
    context = {
        "patient": patient,
        "dose": dose,
        # The amount in the patient's words ("1½ comprimidos de 5 mg (7,5 mg)"), as on
        # Today: the engine's `units_text` is a notation, not a sentence.
        "line": selectors.dose_line(
            dose, now, dose_amount(dose), patient.calendar_detailed_titles
        ) if dose else None,
        "advice": missed_dose_advice(dose=dose, now=now) if dose else None,
        "others": [c for c in candidates if dose is None or c.pk != dose.pk],
    }
    return render(request, "portal/missed.html", context)


@patient_required
@require_GET
def missed(request: HttpRequest, patient: Patient) -> HttpResponse:
    return _missed_page(request, patient, None)


@patient_required
@require_GET
def dose_missed(request: HttpRequest, patient: Patient, dose_id: int) -> HttpResponse:
    return _missed_page(request, patient, dose_id)


@patient_required
@require_http_methods(["GET", "POST"])
def check_in(request: HttpRequest, patient: Patient) -> HttpResponse:
    plan = selectors.active_plan(patient)
    context: dict[str, Any] = {
        "plan": plan,
        "patient": patient,
        "clinic": patient.clinic,
        "symptoms": checkin.SYMPTOMS,
        "levels": list(checkin.LEVEL_LABELS.items()),
    }
    if request.method == "POST" and plan is not None:
        answers = {s.key: request.POST.get(s.key, "") for s in checkin.SYMPTOMS}
        try:
            result = checkin.checkin_record(plan=plan, answers=answers, now=timezone.now())
        except checkin.CheckInError as refusal:
            context["errors"] = refusal.errors
            return render(request, "portal/check_in.html", context, status=400)
        context["done"] = True
        context["severe"] = result.severe
        context["level"] = result.level
        context["advice"] = checkin.advice_for(plan.drug)
    return render(request, "portal/check_in.html", context)


@patient_required
@require_GET
def plan(request: HttpRequest, patient: Patient) -> HttpResponse:
    today = timezone.now().astimezone(ZoneInfo(patient.home_timezone)).date()
    context = selectors.plan_context(patient, today)
    if context["plan"] is not None:
        context.update(refills.pump_page(context["plan"]))
    return render(request, "portal/plan.html", context)


@patient_required
@require_GET
def history(request: HttpRequest, patient: Patient) -> HttpResponse:
    page = Paginator(selectors.dose_history(patient), 50).get_page(request.GET.get("page"))
    context = {
        "patient": patient,
        "page": page,
        "named": selectors.history_names_medicine(patient),
    }
    return render(request, "portal/history.html", context)


def _settings_context(patient: Patient, **forms: Any) -> dict[str, Any]:
    preferences = stored_preferences(patient)
    subscribed = calendar_subscribed(patient)
    initial = {
        "email_dose": email_wanted(patient, ReminderKind.DOSE),
        "email_dose_change": preferences.email_dose_change if preferences else True,
        "email_missed_dose": preferences.email_missed_dose if preferences else True,
        "email_check_in": preferences.email_check_in if preferences else True,
    }
    return {
        "patient": patient,
        "subscribed": subscribed,
        "dose_emails_forced_on": bool(preferences and not preferences.email_dose)
        and not subscribed,
        "email_form": forms.get("email_form") or ReminderEmailForm(initial=initial),
        "language_form": forms.get("language_form")
        or LanguageForm(initial={"language": translation.get_language() or "en"}),
        "timezone_form": forms.get("timezone_form")
        or TimezoneForm(initial={"home_timezone": patient.home_timezone}),
        **_channel_context(patient, **forms),
        # Who is told (templates/portal/_caregivers.html; portal.caregiver_views).
        "caregivers": caregivers.caregivers_listed(patient),
        "caregiver_form": forms.get("caregiver_form") or CaregiverForm(),
        "caregiver_texts": sms.sms_provider() is not None,
    }


def settings_page(
    request: HttpRequest, patient: Patient, *, status: int = 200, **forms: Any
) -> HttpResponse:
    """Settings, with a form that was refused (and its errors) in place of its blank one."""
    return render(request, "portal/settings.html", _settings_context(patient, **forms),
                  status=status)  # fmt: skip


def _channel_context(patient: Patient, **forms: Any) -> dict[str, Any]:
    """The push and SMS parts of Settings: the browsers with notifications on, and the
    text-message number with its state."""
    number = SmsNumber.objects.filter(patient=patient).first()
    return {
        "push_available": push.push_configured(),
        "vapid_public_key": settings.VAPID_PUBLIC_KEY,
        "push_devices": list(patient.push_subscriptions.all()),
        "sms_available": sms.sms_provider() is not None,
        "sms_number": number,
        "sms_number_form": forms.get("sms_number_form")
        or SmsNumberForm(initial={"phone": number.phone if number else ""}),
        "sms_code_form": forms.get("sms_code_form") or SmsCodeForm(),
        "sms_code_pending": bool(number and number.code_hash),
    }


def _sms_form_post(
    request: HttpRequest,
    patient: Patient,
    form: forms.Form,
    form_name: str,
    field: str,
    call: Callable[[dict[str, Any]], object],
    success: str,
) -> HttpResponse:
    """A text-message form of Settings: valid and accepted → back to Settings with
    `success`; otherwise the page again with the refusal on the field."""
    if form.is_valid():
        try:
            call(form.cleaned_data)
        except sms.SmsError as refusal:
            form.add_error(field, str(refusal))
        else:
            messages.success(request, success)
            return redirect("patient_settings")
    context = _settings_context(patient, **{form_name: form})
    return render(request, "portal/settings.html", context, status=400)


def _settings_channels_post(
    request: HttpRequest, patient: Patient, action: str
) -> HttpResponse | None:
    """The Settings buttons for push and SMS; None for any other button."""
    now = timezone.now()
    if action == "push_remove":
        raw = request.POST.get("subscription", "")
        if raw.isdigit() and push.push_subscription_remove(
            patient=patient, subscription_id=int(raw)
        ):
            messages.success(request, _("Notifications are off on that device."))
        else:
            messages.error(request, _("That device was already removed."))
        return redirect("patient_settings")
    if action == "sms_start":
        return _sms_form_post(
            request, patient, SmsNumberForm(request.POST), "sms_number_form", "phone",
            lambda data: sms.sms_number_start(patient=patient, phone=data["phone"], now=now),
            _("We texted you a code. Type it below."),
        )  # fmt: skip
    if action == "sms_verify":
        return _sms_form_post(
            request, patient, SmsCodeForm(request.POST), "sms_code_form", "code",
            lambda data: sms.sms_number_verify(patient=patient, code=data["code"], now=now),
            _("Your number is confirmed. Reminders come by text too."),
        )  # fmt: skip
    if action in ("sms_on", "sms_off"):
        sms.sms_number_switch(patient=patient, enabled=action == "sms_on")
        messages.success(
            request,
            _("Text reminders are on.") if action == "sms_on" else _("Text reminders are off."),
        )
        return redirect("patient_settings")
    return None


@patient_required
@require_http_methods(["GET", "POST"])
def patient_settings(request: HttpRequest, patient: Patient) -> HttpResponse:
    if request.method == "GET":
        return render(request, "portal/settings.html", _settings_context(patient))
    action = request.POST.get("action")
    if action == "emails":
        form = ReminderEmailForm(request.POST)
        if form.is_valid():
            try:
                services.preferences_update(patient=patient, **form.cleaned_data)
            except services.PortalError as refusal:
                form.add_error("email_dose", str(refusal))
            else:
                messages.success(request, _("Your reminder choices are saved."))
                return redirect("patient_settings")
        context = _settings_context(patient, email_form=form)
        return render(request, "portal/settings.html", context, status=400)
    if action == "language":
        language_form = LanguageForm(request.POST)
        if language_form.is_valid():
            language = language_form.cleaned_data["language"]
            services.language_set(patient=patient, language=language)
            translation.activate(language)
            messages.success(request, _("Your language is saved."))
            response = redirect("patient_settings")
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax", httponly=True
            )
            return response
        context = _settings_context(patient, language_form=language_form)
        return render(request, "portal/settings.html", context, status=400)
    if action == "timezone":
        timezone_form = TimezoneForm(request.POST)
        if timezone_form.is_valid():
            services.patient_timezone_change(
                patient=patient,
                zone=timezone_form.cleaned_data["home_timezone"],
                now=timezone.now(),
            )
            messages.success(
                request, _("Your home time zone is saved. Your doses keep their usual times.")
            )
            return redirect("patient_settings")
        context = _settings_context(patient, timezone_form=timezone_form)
        return render(request, "portal/settings.html", context, status=400)
    channel_response = _settings_channels_post(request, patient, str(action))
    if channel_response is not None:
        return channel_response
    messages.error(request, _("Choose one of the buttons."))
    return redirect("patient_settings")


@patient_required
@csrf_protect
@require_POST
def _push_subscribe_patient(request: HttpRequest, patient: Patient) -> HttpResponse:
    """The Settings page's script sends the browser's push subscription here (JSON, with
    the CSRF token in its header); the answer names the field that was wrong."""
    if not push.push_configured():
        return JsonResponse({"error": "push is not available"}, status=404)
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return JsonResponse({"error": "body: not JSON"}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"error": "body: must be an object"}, status=400)
    device = body.get("device_name")
    try:
        row = push.push_subscription_add(
            patient=patient,
            subscription=body.get("subscription"),
            device_name=device if isinstance(device, str) else "",
            now=timezone.now(),
        )
    except push.PushSubscriptionError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse({"id": row.pk}, status=201)


def _rotation(request: HttpRequest) -> dict[str, Any] | None:
    """A POST from the service worker whose subscription the browser rotated: a JSON
    object naming the old endpoint."""
    if request.method != "POST":
        return None
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) and "old_endpoint" in body else None


@csrf_exempt
def push_subscribe(request: HttpRequest) -> HttpResponse:
    """Settings turns notifications on here (logged in, CSRF-checked); the service worker
    posts here too when the browser rotates the subscription (pushsubscriptionchange),
    with the old endpoint as its credential, since it has no CSRF token and the session
    may have ended (reminders.push.push_subscription_replace)."""
    body = _rotation(request)
    if body is None:
        return _push_subscribe_patient(request)
    if not push.push_configured():
        return JsonResponse({"error": "push is not available"}, status=404)
    try:
        row = push.push_subscription_replace(
            old_endpoint=body["old_endpoint"], subscription=body.get("subscription")
        )
    except push.PushSubscriptionError as error:
        status = 404 if str(error).startswith("old_endpoint") else 400
        return JsonResponse({"error": str(error)}, status=status)
    return JsonResponse({"id": row.pk}, status=200)


@require_GET
def web_manifest(request: HttpRequest) -> HttpResponse:
    """The portal as an installable web app: starts on Today, scoped to the portal."""
    response = render(
        request, "portal/manifest.webmanifest", content_type="application/manifest+json"
    )
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served from /me/ so that its scope covers the portal."""
    # The VAPID public key is public: the worker subscribes again with it on rotation.
    context = {"vapid_public_key": settings.VAPID_PUBLIC_KEY if push.push_configured() else ""}
    response = render(request, "portal/sw.js", context, content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response


class WelcomeView(auth_views.PasswordResetConfirmView):
    """The link in the invitation: the patient chooses a password, is logged in and lands
    on Today. Django's password-reset view with the invitation's own tokens; only
    accounts of patients can be opened this way."""

    template_name = "portal/welcome.html"
    token_generator = services.invite_token_generator
    post_reset_login = True
    # django-axes adds a second backend; the patient logs in through Django's own.
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("patient_today")
    reset_url_token = "set-password"  # noqa: S105  # the placeholder in the URL, no secret

    def get_user(self, uidb64: str) -> User | None:
        user = super().get_user(uidb64)
        if user is None or not Patient.objects.filter(user_id=user.pk).exists():
            return None
        return user


welcome = never_cache(WelcomeView.as_view())


# --- clinic side -----------------------------------------------------------------------


def _staff(request: HttpRequest) -> StaffRequest:
    return request  # type: ignore[return-value]  # set by staff_required


@clinician_required
@require_POST
def patient_invite(request: HttpRequest, pk: int) -> HttpResponse:
    patient = clinic_patient(_staff(request), pk)
    try:
        services.patient_invite(patient=patient, by=request.user)  # type: ignore[arg-type]
    except services.PortalError as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, "Invitation sent. The link works for a few days.")
    return redirect("patient", pk=patient.pk)


@staff_required
@require_GET
def patient_dose_history(request: HttpRequest, pk: int) -> HttpResponse:
    patient = clinic_patient(_staff(request), pk)
    access_record(user=request.user, action=AccessAction.DOSE_HISTORY, patient=patient)
    page = Paginator(selectors.dose_history(patient), 100).get_page(request.GET.get("page"))
    context = {"patient": patient, "page": page, "checkins": selectors.checkins_of(patient)[:50]}
    return render(request, "portal/clinic_history.html", context)


@staff_required
@require_GET
def patient_doses_csv(request: HttpRequest, pk: int) -> HttpResponse:
    patient = clinic_patient(_staff(request), pk)
    access_record(user=request.user, action=AccessAction.DOSE_HISTORY_CSV, patient=patient)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="patient-{patient.pk}-doses.csv"'
    response["Cache-Control"] = "no-store"
    csv.writer(response).writerows(selectors.dose_history_rows(patient))
    return response
