from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from clinic import caregiver_views, clinic_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health, name="health"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Forgotten passwords: Django's reset views; the e-mail goes only to an address that
    # belongs to an account, and the page says the same whether it does or not.
    path(
        "accounts/password-reset/",
        auth_views.PasswordResetView.as_view(
            subject_template_name="registration/password_reset_subject.txt",
            email_template_name="registration/password_reset_email.txt",
        ),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("clinic/", clinic_views.dashboard, name="dashboard"),
    path("clinic/patients/", clinic_views.patient_list, name="patients"),
    path("clinic/patients/new/", clinic_views.patient_new, name="patient_new"),
    path("clinic/patients/<int:pk>/", clinic_views.patient_detail, name="patient"),
    path("clinic/patients/<int:pk>/edit/", clinic_views.patient_edit, name="patient_edit"),
    path("clinic/patients/<int:pk>/plans/new/", clinic_views.plan_new, name="plan_new"),
    path("clinic/patients/<int:pk>/plans/preview/", clinic_views.plan_preview, name="plan_preview"),
    path("clinic/plans/<int:pk>/", clinic_views.plan_detail, name="plan"),
    path("clinic/plans/<int:pk>/handout/", clinic_views.plan_handout, name="plan_handout"),
    path("clinic/plans/<int:pk>/submit/", clinic_views.plan_submit, name="plan_submit"),
    path("clinic/plans/<int:pk>/activate/", clinic_views.plan_activate, name="plan_activate"),
    path("clinic/plans/<int:pk>/replan/", clinic_views.plan_replan, name="plan_replan"),
    path("clinic/plans/<int:pk>/cancel/", clinic_views.plan_cancel, name="plan_cancel"),
    path("clinic/plans/<int:pk>/revise/", clinic_views.plan_revise, name="plan_revise"),
    path("clinic/plans/<int:pk>/hold/", clinic_views.plan_hold_symptoms, name="plan_hold_symptoms"),
    path("clinic/plans/<int:pk>/edit/", clinic_views.plan_edit, name="plan_edit"),
    path("clinic/plans/<int:pk>/review/", clinic_views.plan_review, name="plan_review"),
    path("clinic/plans/<int:pk>/audit/", clinic_views.plan_audit, name="plan_audit"),
    path("clinic/reviews/", clinic_views.review_queue, name="review_queue"),
    path("clinic/notices/<int:pk>/read/", clinic_views.notice_read, name="notice_read"),
    path("clinic/alerts/<int:pk>/", clinic_views.alert_detail, name="alert"),
    path("clinic/plans/<int:pk>/refill/", clinic_views.plan_refill, name="plan_refill"),
    path("clinic/plans/<int:pk>/supply/", clinic_views.plan_supply_record, name="plan_supply"),
    path("clinic/plans/<int:pk>/calendar.ics", clinic_views.plan_calendar, name="plan_calendar"),
    path(
        "clinic/patients/<int:pk>/calendar/", clinic_views.patient_calendar, name="patient_calendar"
    ),
    path(
        "clinic/patients/<int:pk>/caregivers/",
        caregiver_views.caregiver_add,
        name="clinic_caregiver_add",
    ),
    path("", include("reminders.urls")),
    path("", include("portal.urls")),
    path("api/v1/", include("api.urls")),
    path("fhir/r4/", include("api.fhir_urls")),
    path("admin/", admin.site.urls),
]
