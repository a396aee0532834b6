from django.urls import path

from reminders import views

urlpatterns = [
    # The token is the whole secret; the path is redacted from every log line.
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]
