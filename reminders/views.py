"""The calendar feed (opened by calendar clients with the secret address) and the
one-plan download."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from planner.models import Patient
from reminders import feeds

CALENDAR_TYPE = "text/calendar; charset=utf-8"


def _calendar_headers(response: HttpResponseBase) -> None:
    # Health data: no shared cache may keep it; the client revalidates with the ETag.
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"


@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponseBase:
    patient = feed_patient_or_404(token)
    feed = feeds.patient_feed(patient)
    timestamp = int(feed.last_modified.timestamp())
    not_modified = get_conditional_response(request, etag=feed.etag, last_modified=timestamp)
    if not_modified is not None:
        # RFC 9110 15.4.5: a 304 carries the validators the 200 would have sent.
        not_modified["ETag"] = feed.etag
        not_modified["Last-Modified"] = http_date(timestamp)
        _calendar_headers(not_modified)
        return not_modified
    response = HttpResponse(feed.body, content_type=CALENDAR_TYPE)
    response["ETag"] = feed.etag
    response["Last-Modified"] = http_date(timestamp)
    response["Content-Disposition"] = 'inline; filename="medication-plan.ics"'
    _calendar_headers(response)
    return response


def feed_patient_or_404(token: str) -> Patient:
    patient = feeds.feed_patient(token)
    if patient is None:
        # The same plain 404 for unknown and revoked addresses: nothing to learn.
        raise Http404
    return patient


def calendar_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=CALENDAR_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    _calendar_headers(response)
    return response
