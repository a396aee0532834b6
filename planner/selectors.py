"""Reads for the planner app, always scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User

from planner.models import Patient, StaffMember
from planner.roles import Role, has_role


def staff_clinic_id(user: User | AnonymousUser) -> int | None:
    if not user.is_authenticated:
        return None
    return StaffMember.objects.filter(user=user).values_list("clinic_id", flat=True).first()


def home_context_for(user: User | AnonymousUser) -> dict[str, Any]:
    clinic_id = staff_clinic_id(user)
    roles = [role for role in Role if has_role(user, role)]
    patients = (
        Patient.objects.filter(clinic_id=clinic_id).select_related("clinic")
        if clinic_id is not None
        else Patient.objects.none()
    )
    return {"roles": roles, "patients": patients, "clinic_id": clinic_id}
