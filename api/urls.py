from csp.decorators import csp_update
from django.urls import path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from api import views

app_name = "api"

# Swagger UI and Redoc style their widgets inline and Redoc searches in a blob: worker;
# only these two documentation pages get that, and their scripts still come from here.
docs_csp = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "schema/docs/",
        docs_csp(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
    path(
        "schema/redoc/",
        docs_csp(
            SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html")
        ),
        name="redoc",
    ),
    path("plans/preview/", views.PlanPreview.as_view(), name="plan-preview"),
    path("patients/", views.PatientList.as_view(), name="patients"),
    path("patients/<int:pk>/", views.PatientDetail.as_view(), name="patient"),
    path("patients/<int:pk>/plans/", views.PatientPlans.as_view(), name="patient-plans"),
    path("plans/", views.PlanList.as_view(), name="plans"),
    path("plans/<int:pk>/", views.PlanDetail.as_view(), name="plan"),
    path("plans/<int:pk>/submit/", views.PlanSubmit.as_view(), name="plan-submit"),
    path("plans/<int:pk>/activate/", views.PlanActivate.as_view(), name="plan-activate"),
    path("plans/<int:pk>/cancel/", views.PlanCancel.as_view(), name="plan-cancel"),
    path("plans/<int:pk>/doses/", views.PlanDoses.as_view(), name="plan-doses"),
    path("plans/<int:pk>/fhir/", views.PlanFhir.as_view(), name="plan-fhir"),
    path("alerts/", views.AlertList.as_view(), name="alerts"),
    # Anything else under /api/v1/ (including an id that is not a number) is a JSON 404.
    re_path(r"", views.not_found),
]
