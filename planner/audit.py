"""The audit trail: the access log (every view of a patient's records leaves an entry)
and bulk changes that still keep their history rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from types import SimpleNamespace
from typing import Any, ParamSpec, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone
from simple_history.models import HistoricalRecords
from simple_history.utils import bulk_update_with_history

from planner.models import AccessAction, AccessLogEntry, Patient, TaperPlan

M = TypeVar("M", bound=models.Model)
P = ParamSpec("P")
R = TypeVar("R")


def access_record(
    *,
    user: AbstractBaseUser | AnonymousUser,
    action: AccessAction,
    patient: Patient,
    plan: TaperPlan | None = None,
) -> AccessLogEntry | None:
    """Write one entry; anonymous requests never reach patient data, so they leave none."""
    if not user.is_authenticated:
        return None
    return AccessLogEntry.objects.create(
        user_id=user.pk, patient=patient, plan=plan, action=action, at=timezone.now()
    )


def update_with_history(
    queryset: QuerySet[M], *, reason: str, user: AbstractBaseUser | None = None, **fields: Any
) -> int:
    """A bulk update that still leaves one history row per changed object (a plain
    QuerySet.update() bypasses django-simple-history). Rows are locked while changed."""
    with transaction.atomic():
        objects = list(queryset.select_for_update(of=("self",)))
        for obj in objects:
            for name, value in fields.items():
                setattr(obj, name, value)
        if objects:
            bulk_update_with_history(
                objects,
                queryset.model,
                list(fields),
                batch_size=500,
                default_user=user,
                default_change_reason=reason,
            )
    return len(objects)


@contextmanager
def acting_as(user: AbstractBaseUser | None) -> Iterator[None]:
    """History rows written inside name `user` as who made the change, when no logged-in
    request already does (commands, Celery tasks, token-authenticated API calls)."""
    context = HistoricalRecords.context
    existing = getattr(context, "request", None)
    if user is None or getattr(getattr(existing, "user", None), "is_authenticated", False):
        yield
        return
    context.request = SimpleNamespace(user=user)
    try:
        yield
    finally:
        if existing is None:
            del context.request
        else:
            context.request = existing


def records_by(func: Callable[P, R]) -> Callable[P, R]:
    """A service's history rows name its `by` keyword argument as the user."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        by = kwargs.get("by")
        with acting_as(by if isinstance(by, AbstractBaseUser) else None):
            return func(*args, **kwargs)

    return wrapper
