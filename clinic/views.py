"""Site-wide pages: the landing page after log-in and the health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clinic import selectors
from planner.models import Patient
from reminders import health as reminder_health


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if selectors.staff_clinic_id(request.user) is not None:
        return redirect("dashboard")
    if Patient.objects.filter(user_id=request.user.pk or 0).exists():
        return redirect("patient_today")  # the patient portal
    context = selectors.home_context_for(request.user)
    return render(request, "planner/home.html", context)


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring (reminders.health): 503 unless the database
    and the broker answer, a worker and the dispatcher were seen within
    HEALTH_MAX_AGE_SECONDS and no dispatcher stage keeps failing."""
    report = reminder_health.health_report()
    return JsonResponse(report.body, status=200 if report.ok else 503)
