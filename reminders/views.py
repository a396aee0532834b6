"""The calendar feed (opened by calendar clients with the secret address) and the
one-plan download."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from planner.models import Patient
from reminders import feeds, sms

log = logging.getLogger(__name__)

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


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """The SMS provider's webhook for texts patients send us: STOP and START are recorded
    (reminders.sms.sms_inbound). Only requests the provider signed count (Twilio's
    X-Twilio-Signature over the public address, SITE_URL, and the form fields); the
    reply is empty TwiML, so nothing is texted back by us."""
    provider = sms.sms_provider()
    if provider is None:
        raise Http404
    params = {key: request.POST.get(key, "") for key in request.POST}
    url = settings.SITE_URL + request.get_full_path()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not provider.inbound_is_genuine(url=url, params=params, signature=signature):
        return HttpResponse("signature does not match", status=403, content_type="text/plain")
    recorded = sms.sms_inbound(params=params, now=timezone.now())
    log.info("inbound text handled: %s", recorded)
    return HttpResponse(
        '<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
        content_type="text/xml",
    )
