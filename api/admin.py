"""API tokens are issued with `manage.py api_token`, which shows a key once. The admin
lists whose tokens exist and when they expire, and can revoke (delete) one; it cannot
create one, since that would skip the staff-only rule of api.tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from knox import admin as knox_admin  # noqa: F401  registers its own page first
from knox.models import AuthToken

from planner.admin_scope import ClinicScopedAdmin

if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class ApiTokenAdmin(ClinicScopedAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "created", "expiry"]
    list_filter = ["expiry"]
    search_fields = ["user__username"]
    fields = ("user", "created", "expiry")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
