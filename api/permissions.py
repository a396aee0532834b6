"""Who may use the API: the clinic's staff, as on the pages (planner.access).

Patients have accounts too, but no StaffMember: they are refused (403). Anonymous
callers get 401. Objects of another clinic are looked up within the caller's clinic
only (api.selectors), so they are a 404.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from planner.models import StaffMember
from planner.roles import Role, has_role


def request_staff(request: Request) -> StaffMember:
    """The StaffMember that IsClinicStaff found for this request."""
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    return staff


class IsClinicStaff(BasePermission):
    """Clinicians and reviewers of a clinic read; only clinicians write."""

    message = "Only a clinic's clinicians and reviewers may use the API."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user.is_authenticated:
            return False
        staff = StaffMember.objects.select_related("clinic").filter(user_id=user.pk).first()
        if staff is None:
            return False
        is_clinician = has_role(user, Role.CLINICIAN)
        if not (is_clinician or has_role(user, Role.REVIEWER)):
            return False
        # A preview is a POST that changes nothing: reviewers may preview too.
        writes = request.method not in SAFE_METHODS and not getattr(view, "changes_nothing", False)
        if writes and not is_clinician:
            self.message = "Only clinicians may create patients and plans."
            return False
        request.staff = staff  # type: ignore[attr-defined]
        return True
