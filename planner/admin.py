from django.contrib import admin

from planner.models import Clinic, Patient, StaffMember


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin[Clinic]):
    list_display = ["name", "require_review_for_all_plans", "created_at"]
    search_fields = ["name"]


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin[StaffMember]):
    list_display = ["user", "clinic"]
    list_filter = ["clinic"]
    search_fields = ["user__username", "user__email"]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin[Patient]):
    list_display = ["family_name", "given_name", "clinic", "date_of_birth"]
    list_filter = ["clinic"]
    search_fields = ["family_name", "given_name", "email"]
