"""/fhir/r4/: the read-only FHIR R4 server (api.fhir_views; docs/api.md)."""

from django.urls import path, re_path

from api import fhir_views

app_name = "fhir"

# FHIR's own addresses: no trailing slash (http://hl7.org/fhir/R4/http.html).
urlpatterns = [
    path("metadata", fhir_views.Metadata.as_view(), name="metadata"),
    path("Patient", fhir_views.search_view("Patient"), name="patients"),
    path("Patient/<str:resource_id>", fhir_views.read_view("Patient"), name="patient"),
    path("CarePlan", fhir_views.search_view("CarePlan"), name="careplans"),
    path("CarePlan/<str:resource_id>", fhir_views.read_view("CarePlan"), name="careplan"),
    path(
        "MedicationRequest",
        fhir_views.search_view("MedicationRequest"),
        name="medicationrequests",
    ),
    path(
        "MedicationRequest/<str:resource_id>",
        fhir_views.read_view("MedicationRequest"),
        name="medicationrequest",
    ),
    path("Bundle/<str:resource_id>", fhir_views.read_view("Bundle"), name="bundle"),
    # Any other type or interaction is an OperationOutcome 404.
    re_path(r"", fhir_views.not_found),
]
