from django.urls import path

from reminders import action_views, patient_views, views

urlpatterns = [
    # The token is the whole secret; the path is redacted from every log line.
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("me/calendar/", patient_views.my_calendar, name="my_calendar"),
    # Signed links from reminder e-mails; redacted from the logs like feed tokens.
    path("a/<str:token>/", action_views.action, name="action"),
    # The SMS provider's webhook for inbound texts (STOP / START); signed by the provider.
    path("sms/inbound/", views.sms_inbound, name="sms_inbound"),
]
