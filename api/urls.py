from django.urls import path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from api import views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("schema/docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path(
        "schema/redoc/",
        SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html"),
        name="redoc",
    ),
    path("plans/preview/", views.PlanPreview.as_view(), name="plan-preview"),
    path("patients/", views.PatientList.as_view(), name="patients"),
    path("patients/<int:pk>/", views.PatientDetail.as_view(), name="patient"),
    path("patients/<int:pk>/plans/", views.PatientPlans.as_view(), name="patient-plans"),
    path("plans/", views.PlanList.as_view(), name="plans"),
    path("plans/<int:pk>/", views.PlanDetail.as_view(), name="plan"),
    path("plans/<int:pk>/doses/", views.PlanDoses.as_view(), name="plan-doses"),
    path("plans/<int:pk>/fhir/", views.PlanFhir.as_view(), name="plan-fhir"),
    path("alerts/", views.AlertList.as_view(), name="alerts"),
    # Anything else under /api/v1/ (including an id that is not a number) is a JSON 404.
    re_path(r"", views.not_found),
]
