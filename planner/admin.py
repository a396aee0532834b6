"""Admin pages for reviewers and site administrators.

Plan content is read-only here: plans change only through the services, which keep
the review rule (nobody approves their own plan) and the revision history.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from planner.models import (
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


@admin.register(Clinic)
class ClinicAdmin(SimpleHistoryAdmin):
    list_display = ["name", "require_review_for_all_plans", "created_at"]
    search_fields = ["name"]


@admin.register(StaffMember)
class StaffMemberAdmin(SimpleHistoryAdmin):
    list_display = ["user", "clinic"]
    list_filter = ["clinic"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    list_display = ["family_name", "given_name", "clinic", "date_of_birth", "home_timezone"]
    list_filter = ["clinic", "seizure_history", "pregnancy_trimester"]
    search_fields = ["family_name", "given_name", "email"]


class RegimenDoseInline(admin.TabularInline[RegimenDose, Regimen]):
    model = RegimenDose
    extra = 0
    can_delete = False
    readonly_fields = ["time", "amount_mg"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Regimen)
class RegimenAdmin(SimpleHistoryAdmin):
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
class PlanRevisionAdmin(SimpleHistoryAdmin):
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


class PlanRevisionInline(ReadOnlyInline):
    model = PlanRevision
    fk_name = "plan"
    fields = ["number", "kind", "requires_review", "start_date", "end_date", "created_by"]
    show_change_link = True


@admin.register(TaperPlan)
class TaperPlanAdmin(SimpleHistoryAdmin):
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
class PlanReviewAdmin(SimpleHistoryAdmin):
    list_display = ["revision", "reviewer", "decision", "created_at"]
    list_filter = ["decision"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in PlanReview._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
