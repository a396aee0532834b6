"""Clinician pages: authorise → validate (a form) → one service call → render/redirect."""

from __future__ import annotations

import secrets
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from clinic import reviews, selectors
from clinic.caregiver_views import ClinicCaregiverForm
from planner import continuity, engine_input, services
from planner.access import (
    StaffRequest,
    clinic_patient,
    clinic_plan,
    clinician_required,
    reviewer_required,
    staff_required,
)
from planner.audit import access_record
from planner.forms import (
    AlertActionForm,
    CancelForm,
    PatientForm,
    PlanForm,
    RefillForm,
    ReviewForm,
    RevisionForm,
    SupplyDispensedForm,
)
from planner.models import AccessAction, PlanStatus, RevisionKind, RevisionReview
from planner.roles import Role, has_role
from planner.supply import plan_supply, supply_keys
from reminders import alerts, checkin, feeds, refills, supply
from reminders.notifications import notice_mark_read
from reminders.preferences import patient_language
from reminders.subscription import subscription_context
from reminders.views import calendar_response


def _refusal_onto(form: forms.Form, refusal: ValidationError) -> None:
    """A service's refusal shown on the form: next to the field it names, else above."""
    if hasattr(refusal, "error_dict"):
        for field, errors in refusal.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, refusal)

def _staff(request: HttpRequest) -> StaffRequest:
    return request  # type: ignore[return-value]  # set by staff_required


@staff_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    staff = _staff(request)
    context = {
        **selectors.dashboard(
            clinic_id=staff.staff.clinic_id,
            search=request.GET.get("q", ""),
            page=request.GET.get("page", 1),
        ),
        "notices": selectors.staff_notices(staff.user),
        "queue_size": reviews.review_queue_size(clinic_id=staff.staff.clinic_id)
        if has_role(staff.user, Role.REVIEWER) else None,
    }
    return render(request, "planner/dashboard.html", context)


@staff_required
@require_http_methods(["GET", "POST"])
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An abrupt-stop alert: what happened, and what the clinic did about it."""
    staff = _staff(request)
    alert = selectors.clinic_alert(clinic_id=staff.staff.clinic_id, pk=pk)
    form = AlertActionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        action, text = form.cleaned_data["action"], form.cleaned_data["text"]
        try:
            if action == "acknowledge":
                alerts.alert_acknowledge(alert=alert, by=staff.user)
                messages.success(request, "Alert acknowledged.")
            elif action == "note":
                alerts.alert_annotate(alert=alert, by=staff.user, text=text)
                messages.success(request, "Note added.")
            else:
                alerts.alert_close(alert=alert, by=staff.user, text=text)
                messages.success(request, "Alert closed.")
        except ValidationError as refusal:
            _refusal_onto(form, refusal)
        else:
            return redirect("alert", pk=alert.pk)
    alert.refresh_from_db()
    context = {**selectors.alert_page(alert), "form": form}
    return render(request, "planner/alert.html", context, status=400 if form.errors else 200)


@staff_required
@require_POST
def notice_read(request: HttpRequest, pk: int) -> HttpResponse:
    selectors.staff_notice(_staff(request).user, pk)  # 404 for anyone else's notice
    notice_mark_read(user=_staff(request).user, notice_id=pk)
    return redirect("dashboard")


@clinician_required
@require_http_methods(["GET", "POST"])
def patient_new(request: HttpRequest) -> HttpResponse:
    form = PatientForm(request.POST or None, clinic=_staff(request).staff.clinic)
    if request.method == "POST" and form.is_valid():
        patient = services.patient_create(
            clinic=_staff(request).staff.clinic, data=form.cleaned_data, by=_staff(request).user
        )
        messages.success(request, "Patient added.")
        return redirect("patient", pk=patient.pk)
    return render(request, "planner/patient_form.html", {"form": form, "patient": None})


@clinician_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = clinic_patient(_staff(request), pk)
    form = PatientForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        services.patient_update(patient=patient, data=form.cleaned_data, by=_staff(request).user)
        messages.success(request, "Patient details saved.")
        return redirect("patient", pk=patient.pk)
    return render(request, "planner/patient_form.html", {"form": form, "patient": patient})


@staff_required
@require_safe
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = clinic_patient(_staff(request), pk)
    access_record(user=request.user, action=AccessAction.PATIENT_PAGE, patient=patient)
    context = {**selectors.patient_page(patient), "caregiver_form": ClinicCaregiverForm()}
    return render(request, "planner/patient_detail.html", context)


def _only_looking(request: HttpRequest) -> bool:
    """Preview, "Add a wean visit" or a medicine just chosen: the form comes back,
    nothing is saved."""
    return any(key in request.POST for key in ("preview", "add_visit", "choose_product"))


def _chosen_medicine(request: HttpRequest) -> dict[str, Any] | None:
    """The medicine was just picked (or changed): the form comes back with the fields of
    that medicine and what was already typed, without errors for what is still empty."""
    if request.method != "POST" or "choose_product" not in request.POST:
        return None
    # Strengths and the switch belong to the medicine chosen before.
    left_out = {"csrfmiddlewaretoken", "choose_product", "tablet_strengths", "switch_to"}
    return {key: value for key, value in request.POST.items() if key not in left_out}


def _plan_form(request: HttpRequest, patient: Any) -> PlanForm:
    chosen = _chosen_medicine(request)
    if chosen is not None:
        return PlanForm(patient=patient, initial=chosen)
    if request.method == "POST":
        saving = not _only_looking(request)
        return PlanForm(request.POST, patient=patient, refuse_duplicates=saving)
    source = None
    if request.GET.get("from_plan", "").isdigit():
        source = selectors.patient_plan(patient, int(request.GET["from_plan"]))
    return PlanForm(
        patient=patient,
        initial={
            **selectors.plan_form_initial(patient, source=source),
            "submission_key": secrets.token_hex(16),
        },
    )


def _form_source(form: PlanForm, patient: Any) -> Any:
    """The plan the form's values were copied from, if the clinician chose one."""
    value = form["source_plan"].value()
    if value and str(value).isdigit():
        return patient.plans.filter(pk=int(value)).select_related("current_revision").first()
    return None


@clinician_required
@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest, pk: int) -> HttpResponse:
    patient = clinic_patient(_staff(request), pk)
    form = _plan_form(request, patient)
    if form.is_bound and form.is_valid() and not _only_looking(request):
        assert form.engine_input is not None
        try:
            plan = services.plan_create(
                patient=patient,
                by=_staff(request).user,
                engine_input=form.engine_input,
                submission_key=form.cleaned_data.get("submission_key") or None,
            )
        except ValidationError as refusal:
            # The key is a hidden field: its refusal is shown above the form.
            form.add_error(None, list(refusal.message_dict.get("submission_key", refusal.messages)))
        else:
            messages.success(request, "Draft plan saved.")
            return redirect("plan", pk=plan.pk)
    context = {
        "form": form,
        "patient": patient,
        "source": _form_source(form, patient),
        "sources": selectors.plan_form_sources(patient),
        "open_plans": continuity.open_plans_notice(patient.pk),
        **selectors.preview(form),
    }
    return render(request, "planner/plan_new.html", context)


@clinician_required
@require_http_methods(["GET", "POST"])
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a draft, e.g. after a reviewer sent it back: saved as a new revision."""
    plan = clinic_plan(_staff(request), pk)
    if plan.status != PlanStatus.DRAFT:
        messages.error(request, "Only a draft can be changed; revise a running plan instead.")
        return redirect("plan", pk=plan.pk)
    assert plan.current_revision is not None
    chosen = _chosen_medicine(request)
    if chosen is not None:
        form = PlanForm(patient=plan.patient, initial=chosen, editing=plan)
    elif request.method == "POST":
        form = PlanForm(
            request.POST, patient=plan.patient, editing=plan,
            refuse_duplicates=not _only_looking(request),
        )
    else:
        initial = engine_input.plan_form_initial(plan.current_revision.engine_input)
        form = PlanForm(patient=plan.patient, initial=initial)
    if form.is_bound and form.is_valid() and not _only_looking(request):
        assert form.engine_input is not None
        try:
            services.plan_draft_update(plan=plan, by=_staff(request).user,
                                       engine_input=form.engine_input)
        except ValidationError as refusal:
            form.add_error(None, refusal)
        else:
            messages.success(request, "Draft changed: a new version is saved.")
            return redirect("plan", pk=plan.pk)
    context = {
        "form": form,
        "patient": plan.patient,
        "editing": plan,
        "rejections": selectors.open_rejections(plan),
        **selectors.preview(form),
    }
    return render(request, "planner/plan_new.html", context)


@clinician_required
@require_POST
def plan_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The live preview fragment (htmx) for the new-plan form."""
    patient = clinic_patient(_staff(request), pk)
    form = PlanForm(request.POST, patient=patient)
    form.is_valid()
    return render(request, "planner/_preview.html", {"form": form, **selectors.preview(form)})


@staff_required
@require_safe
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = clinic_plan(_staff(request), pk)
    access_record(user=request.user, action=AccessAction.PLAN_PAGE, patient=plan.patient, plan=plan)
    return render(request, "planner/plan_detail.html", _plan_detail_context(request, plan))


def _plan_detail_context(
    request: HttpRequest, plan: Any, supply_form: SupplyDispensedForm | None = None
) -> dict[str, Any]:
    today = timezone.localdate(timezone=ZoneInfo(plan.patient.home_timezone))
    return {
        **selectors.plan_page(plan, request.user),
        **refills.pump_page(plan),
        "refill_form": RefillForm(),
        "supply": plan_supply(plan, today=today),
        "supply_days_before": settings.SUPPLY_REMINDER_DAYS_BEFORE,
        "supply_form": supply_form
        or SupplyDispensedForm(keys=supply_keys(plan), initial={"dispensed_on": today}),
    }


@staff_required
@require_safe
def plan_handout(request: HttpRequest, pk: int) -> HttpResponse:
    plan = clinic_plan(_staff(request), pk)
    access_record(user=request.user, action=AccessAction.HANDOUT, patient=plan.patient, plan=plan)
    # The patient's paper: in the patient's language, whatever the clinician's.
    with translation.override(patient_language(plan.patient)):
        context = {**selectors.handout_page(plan), **refills.pump_page(plan)}
        response = render(request, "planner/handout.html", context)
        response.headers["Content-Language"] = translation.get_language()
    return response


def _lifecycle(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    plan = clinic_plan(_staff(request), pk)
    user = _staff(request).user
    try:
        if action == "submit":
            services.plan_submit(plan=plan, by=user)
            messages.success(request, "Plan sent to the review queue.")
        elif action == "activate":
            services.plan_activate(plan=plan, by=user)
            messages.success(request, "Plan activated: the patient's reminders are scheduled.")
    except ValidationError as refusal:
        for message in refusal.messages:
            messages.error(request, message)
    return redirect("plan", pk=plan.pk)


@clinician_required
@require_POST
def plan_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _lifecycle(request, pk, "submit")


@clinician_required
@require_POST
def plan_activate(request: HttpRequest, pk: int) -> HttpResponse:
    return _lifecycle(request, pk, "activate")


@clinician_required
@require_POST
def plan_replan(request: HttpRequest, pk: int) -> HttpResponse:
    """"Facts changed since this plan was approved": a new draft from the current facts."""
    plan = clinic_plan(_staff(request), pk)
    try:
        new = services.plan_replan_with_current_facts(plan=plan, by=_staff(request).user)
    except ValidationError as refusal:
        for message in refusal.messages:
            messages.error(request, message)
        return redirect("plan", pk=plan.pk)
    messages.success(
        request,
        f"Draft plan {new.pk} made from today's facts. Check it; activating it replaces "
        f"plan {plan.pk} from its first day.",
    )
    return redirect("plan", pk=new.pk)


@clinician_required
@require_http_methods(["GET", "POST"])
def plan_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    plan = clinic_plan(_staff(request), pk)
    error = None
    if request.method == "POST":
        form = CancelForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError(list(form.errors["reason"]))
            services.plan_cancel(
                plan=plan, by=_staff(request).user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as refusal:
            error = " ".join(refusal.messages)
        else:
            messages.warning(request, "Plan cancelled.")
            return redirect("plan", pk=plan.pk)
    context = {"plan": plan, "error": error, **selectors.plan_medicine(plan)}
    return render(request, "planner/plan_cancel.html", context)


@staff_required
@require_safe
def patient_list(request: HttpRequest) -> HttpResponse:
    patients = selectors.clinic_patient_list(clinic_id=_staff(request).staff.clinic_id)
    return render(request, "planner/patients.html", {"patients": patients})


@staff_required
@require_safe
def plan_calendar(request: HttpRequest, pk: int) -> HttpResponse:
    plan = clinic_plan(_staff(request), pk)
    access_record(
        user=request.user, action=AccessAction.PLAN_CALENDAR, patient=plan.patient, plan=plan
    )
    body = feeds.plan_calendar(plan, plan.patient)
    return calendar_response(body, f"taper-plan-{plan.pk}.ics")


@clinician_required
@require_http_methods(["GET", "POST"])
def patient_calendar(request: HttpRequest, pk: int) -> HttpResponse:
    """The clinician gives the patient a subscription address (shown once), or
    rotates or revokes it, e.g. when a phone is lost."""
    patient = clinic_patient(_staff(request), pk)
    token = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "issue":
            token = feeds.feed_token_issue(patient=patient, by=_staff(request).user)
        elif action == "revoke":
            feeds.feed_token_revoke(patient=patient, by=_staff(request).user)
            messages.success(request, "The calendar address no longer works.")
            return redirect("patient_calendar", pk=patient.pk)
        else:
            messages.error(request, "Choose to make a new address or to revoke the current one.")
    context = {
        "patient": patient,
        "has_feed": feeds.feed_has_live_token(patient),
        "subscription": subscription_context(token) if token else None,
    }
    return render(request, "planner/patient_calendar.html", context)


@clinician_required
@require_http_methods(["GET", "POST"])
def plan_revise(request: HttpRequest, pk: int) -> HttpResponse:
    plan = clinic_plan(_staff(request), pk)
    form = RevisionForm(request.POST or None, initial={"from_date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            revision = services.plan_revise(
                plan=plan,
                by=_staff(request).user,
                kind=RevisionKind(form.cleaned_data["kind"]),
                from_date=form.cleaned_data["from_date"],
                days=form.cleaned_data.get("days"),
                note=form.cleaned_data.get("note") or "",
            )
        except ValidationError as refusal:
            _refusal_onto(form, refusal)
        else:
            if revision.review_state == RevisionReview.PENDING:
                messages.warning(request, "Revision saved: it waits for a reviewer; the plan "
                                 "runs as before until then.")
            else:
                messages.success(request, "Plan revised; the patient is told what changed.")
            return redirect("plan", pk=plan.pk)
    context = {"plan": plan, "form": form, **selectors.plan_medicine(plan)}
    return render(request, "planner/plan_revise.html", context)


@clinician_required
@require_POST
def plan_hold_symptoms(request: HttpRequest, pk: int) -> HttpResponse:
    """The dashboard's one-click hold for rising symptoms (reminders.checkin)."""
    plan = clinic_plan(_staff(request), pk)
    try:
        revision = checkin.plan_hold_for_symptoms(
            plan=plan, by=_staff(request).user, now=timezone.now()
        )
    except ValidationError as refusal:
        messages.error(request, " ".join(refusal.messages))
        return redirect("dashboard")
    if revision.review_state == RevisionReview.PENDING:
        messages.warning(request, f"Hold for plan {plan.pk} saved: it waits for a reviewer; "
                         "the plan runs as before until then.")
    else:
        messages.success(request, f"Plan {plan.pk} held at the current dose; the patient is "
                         "told what changed.")
    return redirect("dashboard")


@reviewer_required
@require_safe
def review_queue(request: HttpRequest) -> HttpResponse:
    items = reviews.review_queue(clinic_id=_staff(request).staff.clinic_id)
    return render(request, "planner/review_queue.html", {"items": items})


def _reviewer_plan(request: HttpRequest, pk: int) -> Any:
    """Another clinic's plan is a 404 for everyone; in one's own clinic, reviewers only."""
    plan = clinic_plan(_staff(request), pk)
    if not has_role(request.user, Role.REVIEWER):
        raise PermissionDenied
    return plan


@staff_required
@require_http_methods(["GET", "POST"])
def plan_review(request: HttpRequest, pk: int) -> HttpResponse:
    """The plan (or revision) as its author saw it, what changed, and the decision."""
    plan = _reviewer_plan(request, pk)
    revision = reviews.under_review(plan)
    if revision is None:
        messages.info(request, "Nothing of this plan is waiting for review.")
        return redirect("plan", pk=plan.pk)
    user = _staff(request).user
    form = ReviewForm(request.POST or None, initial={"revision": revision.pk})
    if request.method == "POST" and form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            services.review_decide(
                plan=plan, by=user, approve=approve, comment=form.cleaned_data["comment"],
                seen_revision_id=form.cleaned_data["revision"],
            )
        except services.StaleReviewError as refusal:
            # Show the version waiting now, with a fresh form for it.
            messages.error(request, " ".join(refusal.messages))
            return redirect("plan_review", pk=plan.pk)
        except PermissionDenied as refusal:
            form.add_error(None, str(refusal))
        except ValidationError as refusal:
            form.add_error("comment" if hasattr(refusal, "error_dict") else None, refusal)
        else:
            messages.success(
                request, "Approved; the author is told." if approve
                else "Sent back to the author with your comment."
            )
            return redirect("review_queue")
    if request.method == "GET":
        access_record(user=user, action=AccessAction.REVIEW_PAGE, patient=plan.patient, plan=plan)
    context = {
        **reviews.review_page(plan, revision),
        "form": form,
        "own_work": user.pk in (plan.created_by_id, revision.created_by_id),
    }
    return render(request, "planner/plan_review.html", context, status=400 if form.errors else 200)


@staff_required
@require_safe
def plan_audit(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _reviewer_plan(request, pk)
    return render(request, "planner/plan_audit.html", reviews.plan_audit(plan))


@clinician_required
@require_POST
def plan_supply_record(request: HttpRequest, pk: int) -> HttpResponse:
    """Record what was dispensed; a refusal re-renders the plan page with the errors next
    to their fields (status 400), nothing written."""
    plan = clinic_plan(_staff(request), pk)
    form = SupplyDispensedForm(request.POST, keys=supply_keys(plan))
    if form.is_valid():
        try:
            supply.supply_dispensed_recorded(
                plan=plan,
                quantities=form.quantities(),
                dispensed_on=form.cleaned_data["dispensed_on"],
                by=_staff(request).user,
                now=timezone.now(),
            )
        except ValidationError as refusal:
            _refusal_onto(form, refusal)
        else:
            messages.success(request, "Dispensing recorded: the run-out date and reminder follow.")
            return redirect("plan", pk=plan.pk)
    context = _plan_detail_context(request, plan, supply_form=form)
    return render(request, "planner/plan_detail.html", context, status=400)


@clinician_required
@require_POST
def plan_refill(request: HttpRequest, pk: int) -> HttpResponse:
    plan = clinic_plan(_staff(request), pk)
    form = RefillForm(request.POST)
    if form.is_valid():
        try:
            refills.refill_record(
                plan=plan,
                refilled_on=form.cleaned_data["refilled_on"],
                volume_ml=form.cleaned_data["volume_ml"],
                concentration_mcg_per_ml=form.cleaned_data["concentration_mcg_per_ml"],
                by=_staff(request).user,
                now=timezone.now(),
            )
        except ValidationError as refusal:
            _refusal_onto(form, refusal)
    if form.errors:
        for name, errors in form.errors.items():
            label = form.fields[name].label if name in form.fields else "Refill"
            label = label or name
            for message in errors:
                messages.error(request, f"{label}: {message}")
    else:
        messages.success(request, "Refill recorded: the dates, reminders and calendar follow it.")
    return redirect("plan", pk=plan.pk)
