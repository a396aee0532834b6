from __future__ import annotations

from rest_framework.renderers import JSONRenderer


class FhirJsonRenderer(JSONRenderer):
    """FHIR's own JSON media type (http://hl7.org/fhir/R4/http.html#mime-type)."""

    media_type = "application/fhir+json"
    format = "fhir"
