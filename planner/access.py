"""Who may open what. Every clinician page goes through these: an object of another
clinic is a 404, never a 403 that would confirm it exists."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from planner.models import Patient, StaffMember, TaperPlan
from planner.roles import Role, has_role

P = ParamSpec("P")


class StaffRequest(HttpRequest):
    user: User
    staff: StaffMember


def staff_required(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Clinicians and reviewers of a clinic; anyone else is refused."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        staff = (
            StaffMember.objects.filter(user_id=request.user.pk or 0)
            .select_related("clinic")
            .first()
        )
        if staff is None or not (
            has_role(request.user, Role.CLINICIAN) or has_role(request.user, Role.REVIEWER)
        ):
            raise PermissionDenied
        request.staff = staff  # type: ignore[attr-defined]
        # Dates and times on staff pages are the clinic's wall clock, not UTC.
        with timezone.override(ZoneInfo(staff.clinic.time_zone)):
            return view(request, *args, **kwargs)

    return wrapper


def clinician_required(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Changes to patients and plans are for clinicians."""

    @staff_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not has_role(request.user, Role.CLINICIAN):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def reviewer_required(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """The review queue, decisions and the audit trail are for reviewers."""

    @staff_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not has_role(request.user, Role.REVIEWER):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def clinic_patients(request: StaffRequest) -> QuerySet[Patient]:
    return Patient.objects.filter(clinic_id=request.staff.clinic_id)


def clinic_patient(request: StaffRequest, pk: int) -> Patient:
    return get_object_or_404(clinic_patients(request), pk=pk)


def clinic_plan(request: StaffRequest, pk: int) -> TaperPlan:
    return get_object_or_404(
        TaperPlan.objects.select_related("patient", "patient__clinic", "current_revision"),
        pk=pk,
        patient__clinic_id=request.staff.clinic_id,
    )
