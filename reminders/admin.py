from django.contrib import admin

from reminders.models import Dose, WorkerHeartbeat


@admin.register(Dose)
class DoseAdmin(admin.ModelAdmin[Dose]):
    list_display = ["id", "plan", "local_date", "local_time", "timezone", "due_at", "status"]
    list_filter = ["status"]
    date_hierarchy = "due_at"

    def get_readonly_fields(self, request: object, obj: object = None) -> list[str]:
        return [field.name for field in Dose._meta.fields]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin[WorkerHeartbeat]):
    list_display = ["beat_at", "hostname", "note"]
