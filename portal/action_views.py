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
from reminders import actions, checkin
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
)


def dose_refusal_text(refusal: services.DoseAnswerError) -> str:
    return _(str(refusal))


@require_http_methods(["GET", "POST"])
def action(request: HttpRequest, token: str) -> HttpResponse:
    link = actions.read_action(token)
    if link is None:
        return render(request, "reminders/action_expired.html", status=404)
    if link.kind == "check_in":
        plan = TaperPlan.objects.select_related("patient").filter(pk=link.object_id).first()
        if plan is None:
            return render(request, "reminders/action_expired.html", status=404)
        with translation.override(patient_language(plan.patient)):
            return _check_in(request, plan, actions.check_in_link_issued_at(link))
    dose = Dose.objects.select_related("plan__patient").filter(pk=link.object_id).first()
    if dose is None:
        return render(request, "reminders/action_expired.html", status=404)
    with translation.override(patient_language(dose.plan.patient)):
        return _dose(request, dose, link)


def _dose(request: HttpRequest, dose: Dose, link: actions.ActionLink) -> HttpResponse:
    now = timezone.now()
    context = {
        "dose": dose,
        "action": link.action,
        "advice": missed_dose_advice(dose=dose, now=now),
    }
    if link.action == "missed":
        return render(request, "reminders/action_dose.html", context)
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


def _check_in(request: HttpRequest, plan: TaperPlan, issued_at: dt.datetime) -> HttpResponse:
    """Each e-mailed link records one check-in; then it says it was used (410)."""
    context: dict[str, object] = {
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
    return render(request, "reminders/action_check_in.html", context)
