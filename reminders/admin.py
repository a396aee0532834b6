"""Admin pages for the reminder ledger. Everything here is written by the dispatcher or
by the services, so the pages are for reading; nothing is added or edited by hand."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from planner.admin import HistoryAdmin, ScopedAdmin
from reminders.models import (
    AbruptStopAlert,
    Caregiver,
    CheckIn,
    Dose,
    FeedToken,
    Notice,
    PumpRefill,
    Reminder,
    WorkerHeartbeat,
)


class ReadOnlyAdmin(ScopedAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Dose)
class DoseAdmin(ReadOnlyAdmin):
    list_display = ["id", "plan", "local_date", "local_time", "timezone", "due_at", "status"]
    list_filter = ["status"]
    search_fields = ["plan__id"]
    date_hierarchy = "due_at"
    list_select_related = ["plan"]


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "recipient", "plan", "due_at", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "recipient"]
    search_fields = ["plan__id", "key"]
    date_hierarchy = "due_at"
    list_select_related = ["plan"]


@admin.register(AbruptStopAlert)
class AbruptStopAlertAdmin(ReadOnlyAdmin, HistoryAdmin):
    list_display = ["id", "plan", "reason", "since", "raised_at", "closed_at"]
    list_filter = ["reason", ("closed_at", admin.EmptyFieldListFilter)]
    search_fields = ["plan__id"]
    list_select_related = ["plan"]


@admin.register(FeedToken)
class FeedTokenAdmin(ReadOnlyAdmin, HistoryAdmin):
    """Only the hash is stored; it is not shown here either."""

    list_display = ["id", "patient", "created_at", "created_by", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    exclude = ["token_hash"]
    list_select_related = ["patient", "created_by"]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [f.name for f in FeedToken._meta.fields if f.name != "token_hash"]


@admin.register(Caregiver)
class CaregiverAdmin(ReadOnlyAdmin, HistoryAdmin):
    """Added, confirmed and removed through the portal and the patient page only."""

    list_display = ["id", "patient", "status", "invited_at", "confirmed_at", "removed_at"]
    list_filter = ["status"]
    exclude = ["invite_nonce"]
    list_select_related = ["patient"]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [f.name for f in Caregiver._meta.fields if f.name != "invite_nonce"]


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ["id", "subject", "user", "clinic", "created_at", "read_at"]
    list_filter = [("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["subject", "user__username"]


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdmin):
    list_display = ["id", "plan", "answered_at", "severe"]
    list_filter = ["severe"]
    search_fields = ["plan__id"]


@admin.register(PumpRefill)
class PumpRefillAdmin(ReadOnlyAdmin):
    list_display = ["id", "plan", "refilled_on", "recorded_by", "recorded_at"]
    search_fields = ["plan__id"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["beat_at", "hostname", "note"]
