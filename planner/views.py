"""Site-wide pages: the landing page after log-in and the health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from planner import selectors
from planner.models import Patient
from reminders import services as reminder_services


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
    """For load balancers and monitoring: is the database up, is a worker running?"""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database_ok = True
    except Exception:  # the health check must answer, whatever the database says
        database_ok = False
    last_seen = reminder_services.worker_last_seen() if database_ok else None
    body = {
        "database": "ok" if database_ok else "unavailable",
        "worker_last_seen": last_seen.isoformat() if last_seen else None,
        "worker": "ok" if database_ok and reminder_services.worker_is_alive() else "stale",
    }
    return JsonResponse(body, status=200 if database_ok else 503)
