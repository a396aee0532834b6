"""Admin pages for reviewers and site administrators.

Plan content is read-only here: plans change only through the services, which keep
the review rule (nobody approves their own plan) and the revision history. Every page
is scoped to the staff member's clinic but for a true superuser (planner.admin_scope).
"""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin

from planner.admin_scope import ClinicScopedAdmin, rescope_registered
from planner.models import (
    AccessLogEntry,
    Clinic,
    Patient,
    PlanFlag,
    PlanReview,
    PlanRevision,
    Regimen,
    RegimenDose,
    StaffMember,
    TaperPlan,
)

for _model in (User, AccessAttempt, AccessLog, AccessFailureLog):
    rescope_registered(admin.site, _model)


class ScopedAdmin(ClinicScopedAdmin, admin.ModelAdmin[Any]):
    pass


class HistoryAdmin(ClinicScopedAdmin, SimpleHistoryAdmin):
    """History is for reading. simple-history's "revert" form saves an old version on
    POST even when the button is hidden (SIMPLE_HISTORY_REVERT_DISABLED only hides it),
    which would change a plan's status around the review rule: POST is refused."""

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self.object_in_scope(request, object_id)
        response: HttpResponse = super().history_view(request, object_id, extra_context)
        return response

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method != "GET":
            raise PermissionDenied("Reverting from the history is switched off.")
        self.object_in_scope(request, object_id)
        response: HttpResponse = super().history_form_view(
            request, object_id, version_id, extra_context
        )
        return response


@admin.register(Clinic)
class ClinicAdmin(HistoryAdmin):
    list_display = ["name", "time_zone", "phone", "require_review_for_all_plans", "created_at"]
    search_fields = ["name"]


@admin.register(StaffMember)
class StaffMemberAdmin(HistoryAdmin):
    list_display = ["user", "clinic"]
    list_filter = [("clinic", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]


@admin.register(Patient)
class PatientAdmin(HistoryAdmin):
    list_display = ["family_name", "given_name", "clinic", "date_of_birth", "home_timezone"]
    list_filter = [
        ("clinic", admin.RelatedOnlyFieldListFilter), "seizure_history", "pregnancy_trimester"
    ]
    search_fields = ["family_name", "given_name", "email", "mrn"]


class RegimenDoseInline(admin.TabularInline[RegimenDose, Regimen]):
    model = RegimenDose
    extra = 0
    can_delete = False
    readonly_fields = ["time", "amount_mg"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Regimen)
class RegimenAdmin(HistoryAdmin):
    list_display = ["id", "patient", "product", "months_on_therapy", "created_at"]
    list_filter = ["product"]
    readonly_fields = ["patient", "product", "months_on_therapy", "pump", "created_by"]
    inlines = [RegimenDoseInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline[Any, Any]):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PlanFlagInline(ReadOnlyInline):
    model = PlanFlag
    fields = ["code", "severity", "message", "source"]


class PlanReviewInline(ReadOnlyInline):
    model = PlanReview
    fields = ["reviewer", "decision", "comment", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(PlanRevision)
class PlanRevisionAdmin(HistoryAdmin):
    list_display = [
        "plan",
        "number",
        "kind",
        "requires_review",
        "protocol_id",
        "protocol_version",
        "created_at",
    ]
    list_filter = ["kind", "requires_review", "protocol_id", "flags__severity", "flags__code"]
    search_fields = ["plan__patient__family_name", "plan__id"]
    inlines = [PlanFlagInline, PlanReviewInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in PlanRevision._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PlanRevisionInline(ReadOnlyInline):
    model = PlanRevision
    fk_name = "plan"
    fields = ["number", "kind", "requires_review", "start_date", "end_date", "created_by"]
    show_change_link = True


@admin.register(TaperPlan)
class TaperPlanAdmin(HistoryAdmin):
    list_display = [
        "id",
        "patient",
        "drug",
        "status",
        "requires_review",
        "created_by",
        "created_at",
    ]
    list_filter = [
        "status",
        "requires_review",
        "drug",
        "current_revision__flags__code",
        "current_revision__flags__severity",
    ]
    search_fields = ["patient__family_name", "patient__given_name", "id"]
    inlines = [PlanRevisionInline]

    # Status, approval and revisions change only through the services (and so through
    # the review rule); the admin shows them.
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in TaperPlan._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PlanReview)
class PlanReviewAdmin(HistoryAdmin):
    list_display = ["revision", "reviewer", "decision", "created_at"]
    list_filter = ["decision"]

    search_fields = ["revision__plan__id", "reviewer__username"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in PlanReview._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ScopedAdmin):
    """The access log is append-only: readable here, never edited or deleted."""

    list_display = ["at", "user", "action", "patient", "plan"]
    list_filter = ["action"]
    search_fields = ["user__username", "patient__family_name", "plan__id"]
    date_hierarchy = "at"
    list_select_related = ["user", "patient", "plan"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
