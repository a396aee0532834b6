"""The admin shows a staff member only their own clinic (issue #16).

Everyone with admin access but a true superuser sees, lists, searches, filters, opens
and picks in drop-downs only the rows of the clinic their StaffMember record names; a
staff account without one sees nothing. `CLINIC_SCOPES` says, for every model the admin
shows, how a row belongs to a clinic; `UNSCOPED` lists what holds no clinic's data.
tests/planner/test_admin_scope.py fails for a registered model in neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest

from planner.models import Clinic, StaffMember

Scope = Callable[[Clinic], Q]


def _plan_rows(clinic: Clinic) -> Q:
    return Q(plan__patient__clinic=clinic)


def _patient_rows(clinic: Clinic) -> Q:
    return Q(patient__clinic=clinic)


def _clinic_usernames(clinic: Clinic) -> Q:
    users = User.objects.filter(Q(staff__clinic=clinic) | Q(patient__clinic=clinic))
    return Q(username__in=users.values("username"))


# Model label → which of its rows belong to a clinic.
CLINIC_SCOPES: dict[str, Scope] = {
    "planner.Clinic": lambda clinic: Q(pk=clinic.pk),
    "planner.StaffMember": lambda clinic: Q(clinic=clinic),
    "planner.Patient": lambda clinic: Q(clinic=clinic),
    "planner.Regimen": _patient_rows,
    "planner.TaperPlan": _patient_rows,
    "planner.PlanRevision": _plan_rows,
    "planner.PlanReview": lambda clinic: Q(revision__plan__patient__clinic=clinic),
    "planner.PlanFlag": lambda clinic: Q(revision__plan__patient__clinic=clinic),
    "planner.AccessLogEntry": _patient_rows,
    "planner.Dose": _plan_rows,
    "reminders.Reminder": _plan_rows,
    "reminders.AbruptStopAlert": _plan_rows,
    "reminders.CheckIn": _plan_rows,
    "reminders.PumpRefill": _plan_rows,
    "reminders.FeedToken": _patient_rows,
    "reminders.EmailAddressStatus": _patient_rows,
    "reminders.Notice": lambda clinic: (
        Q(clinic=clinic) | Q(user__patient__clinic=clinic) | Q(user__staff__clinic=clinic)
    ),
    "reminders.PatientPreferences": _patient_rows,
    "reminders.Caregiver": _patient_rows,
    "knox.AuthToken": lambda clinic: Q(user__staff__clinic=clinic),
    "auth.User": lambda clinic: Q(staff__clinic=clinic) | Q(patient__clinic=clinic),
    "axes.AccessAttempt": _clinic_usernames,
    "axes.AccessLog": _clinic_usernames,
    "axes.AccessFailureLog": _clinic_usernames,
}
# Rows that belong to no clinic and name no patient: the roles and the worker's pulse.
UNSCOPED = frozenset({"auth.Group", "reminders.WorkerHeartbeat"})
# Scopes that follow a to-many relation and so can match a row twice.
_NEEDS_DISTINCT = frozenset({"reminders.Notice", "auth.User"})


def clinic_of(user: AbstractBaseUser | AnonymousUser) -> Clinic | None:
    if user.pk is None:
        return None
    staff = StaffMember.objects.filter(user_id=user.pk).select_related("clinic").first()
    return staff.clinic if staff is not None else None


def clinic_scoped(queryset: QuerySet[Any], user: AbstractBaseUser | AnonymousUser) -> QuerySet[Any]:
    """The rows of `queryset` the user may see in the admin."""
    if getattr(user, "is_superuser", False):
        return queryset
    label = queryset.model._meta.label
    scope = CLINIC_SCOPES.get(label)
    if scope is None:
        return queryset if label in UNSCOPED else queryset.none()
    clinic = clinic_of(user)
    if clinic is None:
        return queryset.none()
    scoped = queryset.filter(scope(clinic))
    return scoped.distinct() if label in _NEEDS_DISTINCT else scoped


class ClinicScopedAdmin:
    """Mixin for a ModelAdmin: its rows, its drop-downs and its history, clinic-scoped."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        return clinic_scoped(queryset, request.user)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]
        return _scoped_choices(field, request)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        return _scoped_choices(field, request)

    def object_in_scope(self, request: HttpRequest, object_id: str) -> None:
        """404 for a row outside the user's clinic (simple-history's history pages look
        the object up in its history when the queryset does not hold it)."""
        if not self.get_queryset(request).filter(pk=object_id).exists():
            raise Http404


def _scoped_choices(field: Any, request: HttpRequest) -> Any:
    if field is not None and isinstance(getattr(field, "queryset", None), QuerySet):
        field.queryset = clinic_scoped(field.queryset, request.user)
    return field


def rescope_registered(site: Any, model: type[Model]) -> None:
    """Replace another app's admin class for `model` with a clinic-scoped subclass."""
    current = type(site._registry[model])
    site.unregister(model)
    scoped = type(f"ClinicScoped{current.__name__}", (ClinicScopedAdmin, current), {})
    site.register(model, scoped)
