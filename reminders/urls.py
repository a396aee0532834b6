from django.urls import path

from reminders import views

urlpatterns = [
    # The token is the whole secret; the path is redacted from every log line.
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    # The SMS provider's webhook for inbound texts (STOP / START); signed by the provider.
    path("sms/inbound/", views.sms_inbound, name="sms_inbound"),
]
