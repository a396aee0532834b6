from django.urls import path

from portal import action_views, caregiver_views, patient_views, views

urlpatterns = [
    path("me/calendar/", patient_views.my_calendar, name="my_calendar"),
    # Signed links from reminder e-mails; redacted from the logs like feed tokens.
    path("a/<str:token>/", action_views.action, name="action"),
    path("me/", views.today, name="patient_today"),
    path("me/notices/read/", views.notices_read, name="patient_notices_read"),
    path("me/doses/<int:dose_id>/answer/", views.dose_answer, name="patient_dose_answer"),
    path("me/doses/<int:dose_id>/snooze/", views.dose_snooze, name="patient_dose_snooze"),
    path("me/doses/<int:dose_id>/missed/", views.dose_missed, name="patient_dose_missed"),
    path("me/missed/", views.missed, name="patient_missed"),
    path("me/check-in/", views.check_in, name="patient_check_in"),
    path("me/plan/", views.plan, name="patient_plan"),
    path("me/history/", views.history, name="patient_history"),
    path("me/settings/", views.patient_settings, name="patient_settings"),
    path("me/settings/caregivers/", caregiver_views.caregiver_add, name="patient_caregiver_add"),
    path(
        "me/settings/caregivers/<int:caregiver_id>/remove/",
        caregiver_views.caregiver_remove,
        name="patient_caregiver_remove",
    ),
    # The caregiver's invitation link: public, the signed token is the credential;
    # redacted from the logs like the action links.
    path("c/<str:token>/", caregiver_views.caregiver_confirm, name="caregiver_confirm"),
    path("me/push/subscriptions/", views.push_subscribe, name="patient_push_subscribe"),
    # The installable web app: public files with nothing of any patient in them.
    path("me/manifest.webmanifest", views.web_manifest, name="web_manifest"),
    path("me/sw.js", views.service_worker, name="service_worker"),
    # The invitation link; like the password-reset link it carries a token.
    path("me/welcome/<uidb64>/<token>/", views.welcome, name="patient_welcome"),
    path("clinic/patients/<int:pk>/invite/", views.patient_invite, name="patient_invite"),
    path(
        "clinic/patients/<int:pk>/history/",
        views.patient_dose_history,
        name="patient_dose_history",
    ),
    path("clinic/patients/<int:pk>/doses.csv", views.patient_doses_csv, name="patient_doses_csv"),
]
