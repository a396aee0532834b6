"""Pages behind the links in reminder e-mails. GET shows what will happen; POST does it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from planner.models import TaperPlan
from reminders import actions, checkin, services
from reminders.missed import missed_dose_advice
from reminders.models import Dose


@require_http_methods(["GET", "POST"])
def action(request: HttpRequest, token: str) -> HttpResponse:
    link = actions.read_action(token)
    if link is None:
        return render(request, "reminders/action_expired.html", status=404)
    if link.kind == "check_in":
        return _check_in(request, link)
    dose = Dose.objects.select_related("plan__patient").filter(pk=link.object_id).first()
    if dose is None:
        return render(request, "reminders/action_expired.html", status=404)
    now = timezone.now()
    context = {
        "dose": dose,
        "action": link.action,
        "advice": missed_dose_advice(dose=dose, now=now),
    }
    if link.action == "missed" or request.method == "GET":
        return render(request, "reminders/action_dose.html", context)
    try:
        services.dose_record(dose_id=dose.pk, answer=link.action, now=now)
    except services.DoseAnswerError as refusal:
        context["error"] = str(refusal)
        return render(request, "reminders/action_dose.html", context, status=409)
    context["done"] = True
    return render(request, "reminders/action_dose.html", context)


def _check_in(request: HttpRequest, link: actions.ActionLink) -> HttpResponse:
    plan = TaperPlan.objects.filter(pk=link.object_id).first()
    if plan is None:
        return render(request, "reminders/action_expired.html", status=404)
    context: dict[str, object] = {"symptoms": checkin.SYMPTOMS, "levels": checkin.LEVELS}
    if request.method == "POST":
        answers = {s.key: request.POST.get(s.key, "") for s in checkin.SYMPTOMS}
        context["answers"] = answers
        try:
            result = checkin.checkin_record(plan=plan, answers=answers, now=timezone.now())
        except checkin.CheckInError as refusal:
            context["errors"] = refusal.errors
            return render(request, "reminders/action_check_in.html", context, status=400)
        context["done"] = True
        context["severe"] = result.severe
    return render(request, "reminders/action_check_in.html", context)
