"""/fhir/r4/: authorise (as the JSON API) → read or search (api.fhir_server) → answer in
the format asked for (JSON or XML). Every refusal is an OperationOutcome."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from fhir.resources import construct_fhir_element
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from api import fhir_server
from api.permissions import request_staff
from api.views import NoStore
from planner import audit
from planner.models import AccessAction

JSON = "application/fhir+json"
XML = "application/fhir+xml"
FORMATS = {
    "json": "json", "application/json": "json", JSON: "json",
    "xml": "xml", "text/xml": "xml", "application/xml": "xml", XML: "xml",
    "*/*": "json", "application/*": "json", "text/*": "xml",
}


class NotAcceptable(Exception):
    pass


def _format(request: HttpRequest) -> str:
    """json or xml, by `_format` first, then Accept (highest q first); NotAcceptable when
    neither names a format this server writes."""
    asked = request.GET.get("_format")
    if asked is not None:
        chosen = FORMATS.get(asked.split(";")[0].strip().lower())
        if chosen is None:
            raise NotAcceptable(f"_format '{asked}' is not supported: use json or xml.")
        return chosen
    accept = request.META.get("HTTP_ACCEPT", "").strip()
    if not accept:
        return "json"
    ranges = []
    for position, item in enumerate(accept.split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranges.append((-quality, position, media.lower()))
    for _, _, media in sorted(ranges):
        if media in FORMATS:
            return FORMATS[media]
    raise NotAcceptable(f"Accept '{accept}' names no format of this server: {JSON} or {XML}.")


def _body(resource: dict[str, Any], chosen: str) -> tuple[bytes, str]:
    if chosen == "xml":
        element = construct_fhir_element(resource["resourceType"], resource)
        xml: bytes = element.xml(return_bytes=True)
        return xml, f"{XML}; charset=utf-8"
    return json.dumps(resource, ensure_ascii=False).encode(), f"{JSON}; charset=utf-8"


def _answer(resource: dict[str, Any], chosen: str, status: int = 200) -> HttpResponse:
    body, content_type = _body(resource, chosen)
    return HttpResponse(body, content_type=content_type, status=status)


def outcome(status: int, code: str, message: str, chosen: str = "json") -> HttpResponse:
    resource = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }
    return _answer(resource, chosen, status)


ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
               405: "not-supported", 406: "not-supported", 429: "throttled"}


class FirstRenderer(JSONRenderer):
    media_type = JSON


class FhirView(NoStore):
    """Authentication and permissions are the JSON API's (knox token or session, clinic
    staff only); content negotiation is FHIR's own (`_format`, Accept)."""

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        return FirstRenderer(), JSON

    def handle_exception(self, exc: Exception) -> Any:
        response = super().handle_exception(exc)
        try:
            chosen = _format(self.request)
        except NotAcceptable:
            chosen = "json"
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        answer = outcome(
            response.status_code,
            ISSUE_CODES.get(response.status_code, "exception"),
            str(detail or "Not found."),
            chosen,
        )
        for header in ("WWW-Authenticate", "Allow", "Retry-After"):
            if response.has_header(header):
                answer[header] = response[header]
        return answer

    def respond(self, request: Request, work: Callable[[str], HttpResponse]) -> HttpResponse:
        try:
            chosen = _format(request._request)
        except NotAcceptable as refusal:
            return outcome(406, "not-supported", str(refusal))
        try:
            return work(chosen)
        except fhir_server.NotFound:
            return outcome(404, "not-found", "No such resource in this clinic.", chosen)
        except fhir_server.BadParameter as refusal:
            return outcome(400, "invalid", str(refusal), chosen)


def _log(request: Request, found: fhir_server.Found, action: AccessAction) -> None:
    for patient in found.patients:
        audit.access_record(user=request.user, action=action, patient=patient)


class Metadata(FhirView):
    # What the server does, as FHIR clients ask before they log in: no patient data.
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        base = request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("metadata")
        return self.respond(
            request, lambda chosen: _answer(fhir_server.capability_statement(base), chosen)
        )


class Read(FhirView):
    resource_type = ""

    @extend_schema(exclude=True)
    def get(self, request: Request, resource_id: str) -> HttpResponse:
        def work(chosen: str) -> HttpResponse:
            found = fhir_server.read(request_staff(request), self.resource_type, resource_id)
            action = (AccessAction.FHIR_EXPORT if self.resource_type == "Bundle"
                      else AccessAction.API_READ)
            _log(request, found, action)
            (resource,) = found.resources
            answer = _answer(resource, chosen)
            version = resource.get("meta", {}).get("versionId")
            if version:
                answer["ETag"] = f'W/"{version}"'
            return answer

        return self.respond(request, work)


class Search(FhirView):
    resource_type = ""

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        def work(chosen: str) -> HttpResponse:
            found = fhir_server.search(
                request_staff(request), self.resource_type, request.query_params
            )
            _log(request, found, AccessAction.API_READ)
            route = {"Patient": "fhir:patient", "CarePlan": "fhir:careplan",
                     "MedicationRequest": "fhir:medicationrequest"}[self.resource_type]
            bundle = {
                "resourceType": "Bundle",
                "id": str(uuid.uuid4()),
                "meta": {"lastUpdated": timezone.now().isoformat(timespec="seconds")},
                "type": "searchset",
                "total": len(found.resources),
                "link": [{"relation": "self", "url": request.build_absolute_uri()}],
                "entry": [
                    {
                        "fullUrl": request.build_absolute_uri(
                            reverse(route, args=[resource["id"]])
                        ),
                        "resource": resource,
                        "search": {"mode": "match"},
                    }
                    for resource in found.resources
                ],
            }
            if not bundle["entry"]:
                del bundle["entry"]
            return _answer(bundle, chosen)

        return self.respond(request, work)


@csrf_exempt  # it changes nothing and answers 404 to every method
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    try:
        chosen = _format(request)
    except NotAcceptable:
        chosen = "json"
    answer = outcome(404, "not-found", "No such resource type or interaction.", chosen)
    patch_cache_control(answer, no_store=True, private=True)
    return answer


def read_view(resource_type: str) -> Any:
    return Read.as_view(resource_type=resource_type)


def search_view(resource_type: str) -> Any:
    return Search.as_view(resource_type=resource_type)

