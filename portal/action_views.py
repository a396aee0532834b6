"""Pages behind the links in reminder e-mails. GET shows what will happen; POST does it.
They speak the patient's language, whoever opens them."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods

from planner import doses as services
from planner.models import TaperPlan
from reminders import actions, checkin, snooze
from reminders.amounts import dose_amount
from reminders.missed import missed_dose_advice
from reminders.models import Dose
from reminders.preferences import patient_language

# The refusals planner.doses.dose_record can give, so that they are translated
# when shown (listed here for makemessages; the service itself speaks English).
DOSE_REFUSALS = (
    gettext_noop("Choose taken or skipped."),
    gettext_noop("This dose is already recorded as taken."),
    gettext_noop("This dose is already recorded as skipped."),
    gettext_noop("This dose is already recorded as missed."),
    gettext_noop("This dose is already recorded as cancelled."),
    gettext_noop(
        "It is too late for this dose: do not take it now. Take your next dose as usual."
    ),
    gettext_noop("This dose is not due yet."),
    gettext_noop("Choose 30 or 60 minutes."),
    gettext_noop(
        "It is too close to the end of the time you can take this dose to remind you again."
    ),
    gettext_noop("This dose cannot be snoozed now."),
)


def dose_refusal_text(refusal: services.DoseAnswerError) -> str:
    return _(str(refusal))


@require_http_methods(["GET", "POST"])
def action(request: HttpRequest, token: str) -> HttpResponse:
    link = actions.read_action(token)
    if link is None:
        return render(request, "reminders/action_expired.html", status=404)
    if link.kind == "check_in":
        plan = (
            TaperPlan.objects.select_related("patient__clinic").filter(pk=link.object_id).first()
        )
        if plan is None:
            return render(request, "reminders/action_expired.html", status=404)
        with translation.override(patient_language(plan.patient)):
            return _check_in(request, plan, actions.check_in_link_issued_at(link))
    dose = Dose.objects.select_related("plan__patient__clinic").filter(pk=link.object_id).first()
    if dose is None:
        return render(request, "reminders/action_expired.html", status=404)
    with translation.override(patient_language(dose.plan.patient)):
        return _dose(request, dose, link)


def _dose(request: HttpRequest, dose: Dose, link: actions.ActionLink) -> HttpResponse:
    now = timezone.now()
    amount = dose_amount(dose)
    context = {
        "dose": dose,
        "action": link.action,
        "advice": missed_dose_advice(dose=dose, now=now),
        "amount": amount.text(detailed=dose.plan.patient.calendar_detailed_titles),
        "amount_changed": amount.changed_today,
    }
    if link.action == "missed":
        return render(request, "reminders/action_dose.html", context)
    if link.action == "snooze":
        return _snooze(request, dose, context, now)
    # The same rule as the Today page's buttons (Dose.state_at): an answer the dose no
    # longer allows is said plainly, with no button that could only be refused.
    not_allowed = services.dose_answer_refusal(dose=dose, answer=link.action, now=now)
    if not_allowed is not None:
        context["error"] = _(not_allowed)
        return render(
            request, "reminders/action_dose.html", context,
            status=409 if request.method == "POST" else 200,
        )
    if request.method == "GET":
        context["done"] = dose.status == link.action  # the link opened again
        return render(request, "reminders/action_dose.html", context)
    try:
        services.dose_record(dose_id=dose.pk, answer=link.action, now=now)
    except services.DoseAnswerError as refusal:
        context["error"] = dose_refusal_text(refusal)
        return render(request, "reminders/action_dose.html", context, status=409)
    context["done"] = True
    return render(request, "reminders/action_dose.html", context)


def _snooze(
    request: HttpRequest, dose: Dose, context: dict[str, object], now: dt.datetime
) -> HttpResponse:
    """ "Remind me later": the snoozes the dose still allows (Dose.snooze_options), as
    buttons; the same service as the Today page's."""
    status = 200
    if request.method == "POST":
        try:
            row = snooze.dose_snooze(
                dose_id=dose.pk, minutes=snooze_minutes(request), now=now
            )
        except snooze.SnoozeError as refusal:
            context["error"] = _(str(refusal))
            status = 409
        else:
            context["snoozed_until"] = row.due_at
    context["snooze_options"] = dose.snooze_options(now)
    if not context["snooze_options"] and "error" not in context and "snoozed_until" not in context:
        context["error"] = _(snooze.snooze_refusal(dose=dose, now=now))
    return render(request, "reminders/action_dose.html", context, status=status)


def snooze_minutes(request: HttpRequest) -> int:
    """The minutes a snooze form sent; 0 (refused by the service) if not a number."""
    try:
        return int(request.POST.get("minutes", ""))
    except ValueError:
        return 0


def _check_in(request: HttpRequest, plan: TaperPlan, issued_at: dt.datetime) -> HttpResponse:
    """Each e-mailed link records one check-in; then it says it was used (410)."""
    context: dict[str, object] = {
        "clinic": plan.patient.clinic,
        "patient": plan.patient,
        "symptoms": checkin.SYMPTOMS,
        "levels": list(checkin.LEVEL_LABELS.items()),
    }
    if checkin.check_in_link_used(plan=plan, issued_at=issued_at):
        context["used"] = _(checkin.LINK_USED)
        return render(request, "reminders/action_check_in.html", context, status=410)
    if request.method == "POST":
        answers = {s.key: request.POST.get(s.key, "") for s in checkin.SYMPTOMS}
        context["answers"] = answers
        try:
            result = checkin.checkin_record(
                plan=plan, answers=answers, now=timezone.now(), link_issued_at=issued_at
            )
        except checkin.CheckInError as refusal:
            context["errors"] = refusal.errors
            return render(request, "reminders/action_check_in.html", context, status=400)
        context["done"] = True
        context["severe"] = result.severe
        context["level"] = result.level
        context["advice"] = checkin.advice_for(plan.drug)
    return render(request, "reminders/action_check_in.html", context)
