"""Calendar feeds: tokens, and the rendered calendar of a patient's plans.

A feed address is a secret (DESIGN.md "Feed URLs are secrets"): 256 random bits,
stored only as a SHA-256 hash, rotatable and revocable, never logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Max, QuerySet
from django.urls import reverse
from django.utils import timezone, translation

from planner.audit import records_by
from planner.models import Patient, PlanRevision, PlanStatus, RevisionReview, TaperPlan
from planner.schedule import ApprovedPlan
from reminders import dispatch, ical
from reminders.models import FeedToken, PumpRefill
from reminders.preferences import patient_language

# Active and upcoming (approved, not yet started) plans appear in the feed.
FEED_STATUSES = (PlanStatus.ACTIVE, PlanStatus.APPROVED)
CACHE_SECONDS = 24 * 3600
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Enough for a patient's phone, tablet and computers; a bound so the list stays short.
DEVICES_MAX = 10


class FeedDeviceError(ValueError):
    """A device address that cannot be made (too many, no name) or is not the patient's."""

    def __init__(self, message: str, field: str = "name") -> None:
        super().__init__(message)
        self.field = field


def _new_token(*, patient: Patient, by: User | None, name: str) -> str:
    token = secrets.token_urlsafe(32)  # 256 bits
    FeedToken.objects.create(patient=patient, name=name, token_hash=_hash(token), created_by=by)
    return token


@transaction.atomic
@records_by
def feed_token_issue(*, patient: Patient, by: User | None) -> str:
    """The clinic's "new address": revokes every address of the patient and makes one.
    Returns the token: the only time it exists outside the hash."""
    feed_token_revoke(patient=patient, by=by)
    return _new_token(patient=patient, by=by, name="")


def feed_devices(patient: Patient) -> QuerySet[FeedToken]:
    """The patient's live addresses, one per device, oldest first."""
    return FeedToken.objects.filter(patient=patient, revoked_at__isnull=True).only(
        "id", "name", "created_at", "patient_id"
    )


@transaction.atomic
@records_by
def feed_device_add(*, patient: Patient, by: User | None, name: str) -> str:
    """A new address for one more device; the others keep working. Returns the token."""
    name = " ".join(name.split())[:60]
    if not name:
        raise FeedDeviceError("Give the device a name, such as “My phone”.")
    # The patient's row is the lock: two tabs adding at once cannot pass the bound.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    if feed_devices(patient).count() >= DEVICES_MAX:
        raise FeedDeviceError(
            "You have the most calendar addresses allowed. Stop one you no longer use first."
        )
    return _new_token(patient=patient, by=by, name=name)


def _live_device(patient: Patient, device_id: int) -> FeedToken:
    device = (
        FeedToken.objects.select_for_update()
        .filter(patient=patient, pk=device_id, revoked_at__isnull=True)
        .first()
    )
    if device is None:
        raise FeedDeviceError("That calendar address is already stopped.", field="device")
    return device


@transaction.atomic
@records_by
def feed_device_renew(*, patient: Patient, by: User | None, device_id: int) -> str:
    """A new address for one device (lost, or shared by mistake): that device's old
    address stops working, the other devices' go on. Returns the new token."""
    device = _live_device(patient, device_id)
    device.revoked_at = timezone.now()
    device.save(update_fields=["revoked_at"])
    return _new_token(patient=patient, by=by, name=device.name)


@transaction.atomic
@records_by
def feed_device_stop(*, patient: Patient, by: User | None, device_id: int) -> FeedToken:
    """Stop one device's address; the others keep working."""
    device = _live_device(patient, device_id)
    device.revoked_at = timezone.now()
    device.save(update_fields=["revoked_at"])
    return device


@records_by
@transaction.atomic
def feed_token_revoke(*, patient: Patient, by: User | None) -> int:
    revoked = 0
    for live in FeedToken.objects.select_for_update().filter(
        patient=patient, revoked_at__isnull=True
    ):
        live.revoked_at = timezone.now()
        live.save(update_fields=["revoked_at"])
        revoked += 1
    return revoked


def feed_patient(token: str) -> Patient | None:
    """The patient whose live feed this token opens, or None (unknown or revoked)."""
    if not 20 <= len(token) <= 100:
        return None
    live = (
        FeedToken.objects.filter(token_hash=_hash(token), revoked_at__isnull=True)
        .select_related("patient")
        .first()
    )
    return live.patient if live else None


def feed_has_live_token(patient: Patient) -> bool:
    return FeedToken.objects.filter(patient=patient, revoked_at__isnull=True).exists()


def feed_urls(token: str) -> dict[str, str]:
    """The https and webcal addresses of a feed and the add-to-calendar links."""
    from urllib.parse import quote

    https = settings.SITE_URL + reverse("calendar_feed", args=[token])
    webcal = "webcal://" + https.split("://", 1)[1]
    return {
        "https": https,
        "webcal": webcal,
        "apple": webcal,
        "google": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
        "outlook": "https://outlook.live.com/calendar/0/addfromweb?url="
        + quote(https, safe="")
        + "&name="
        + quote("Medication plan"),
    }


@dataclass(frozen=True, slots=True)
class RenderedFeed:
    body: bytes
    etag: str
    last_modified: dt.datetime


def _settings(patient: Patient) -> ical.CalendarSettings:
    return ical.CalendarSettings(
        detailed_titles=patient.calendar_detailed_titles,
        link=settings.SITE_URL + "/",
        changed_at=patient.calendar_settings_changed_at,
        version=patient.calendar_settings_version,
    )


def _revisions_in_force() -> QuerySet[PlanRevision]:
    """Versions that were put in force: a revision waiting for review, or rejected, never
    reaches the patient's calendar (nor their doses) while the plan runs as it was."""
    return PlanRevision.objects.exclude(
        review_state__in=[RevisionReview.PENDING, RevisionReview.REJECTED]
    ).filter(number__lte=F("plan__current_revision__number"))


def _calendar_plans(plan_ids: list[int], zone: str) -> list[ical.CalendarPlan]:
    """The plans' versions as approved and stored, with clock times in the patient's
    home time zone, as the doses are (planner.schedule.ApprovedPlan)."""
    revisions = (
        _revisions_in_force()
        .filter(plan_id__in=plan_ids)
        .order_by("plan_id", "number")
        .select_related("plan")
    )
    by_plan: dict[int, list[ical.PlanVersion]] = {}
    # When each plan came into the feed: approved, or activated without a review.
    shown_since: dict[int, dt.datetime | None] = {}
    for revision in revisions.only(
        "plan_id", "created_at", "engine_output", "plan__approved_at", "plan__activated_at"
    ):
        by_plan.setdefault(revision.plan_id, []).append(
            ical.PlanVersion(
                changed_at=revision.created_at, plan=ApprovedPlan.of(revision, zone)
            )
        )
        shown_since[revision.plan_id] = revision.plan.approved_at or revision.plan.activated_at
    for plan_id, versions in by_plan.items():
        versions += _refill_versions(plan_id, versions[-1])
    return [
        ical.CalendarPlan(
            key=f"plan-{plan_id}",
            versions=tuple(by_plan[plan_id]),
            number=plan_id,
            shown_since=shown_since[plan_id],
        )
        for plan_id in plan_ids
        if plan_id in by_plan
    ]


def _refill_versions(plan_id: int, in_force: ical.PlanVersion) -> list[ical.PlanVersion]:
    """Each pump refill recorded after the revision in force is a version of its own: the
    refill events it moves get a higher SEQUENCE and the refill's time as DTSTAMP."""
    approved = in_force.plan
    if not isinstance(approved, ApprovedPlan) or approved.pump is None:
        return []
    recorded = list(
        PumpRefill.objects.filter(plan_id=plan_id)
        .order_by("refilled_on", "recorded_at")
        .values_list("recorded_at", flat=True)
    )
    fills = dispatch.recorded_fills(TaperPlan(pk=plan_id), approved.pump)
    return [
        ical.PlanVersion(
            changed_at=max(recorded_at, in_force.changed_at),
            plan=approved.with_refills(approved.refills_from(fills[: count + 1])),
        )
        for count, recorded_at in enumerate(recorded)
    ]


def patient_feed(patient: Patient) -> RenderedFeed:
    """The patient's calendar of active and upcoming plans, from the cache when nothing
    changed since it was last rendered."""
    revisions = list(
        _revisions_in_force()
        .filter(plan__patient=patient, plan__status__in=FEED_STATUSES)
        .order_by("plan_id", "number")
        .values_list("plan_id", "id")
    )
    # Every change to any plan of the patient (a cancellation removes events) moves
    # Last-Modified forward; it never goes back.
    changed = TaperPlan.objects.filter(patient=patient).aggregate(latest=Max("updated_at"))
    candidates = [changed["latest"] or _EPOCH, patient.calendar_settings_changed_at or _EPOCH]
    last_modified = max(candidates).replace(microsecond=0)
    calendar_settings = _settings(patient)
    # Titles, descriptions and alarms speak the patient's language (issue #17).
    language = patient_language(patient)
    version = hashlib.sha256(
        repr(
            (revisions, calendar_settings, patient.home_timezone, last_modified, language)
        ).encode()
    ).hexdigest()
    key = f"feed:{patient.pk}:{version}"
    cached = cache.get(key)
    if isinstance(cached, RenderedFeed):
        return cached
    plan_ids = list(dict.fromkeys(plan_id for plan_id, _ in revisions))
    with translation.override(language):
        body = ical.render_calendar(
            _calendar_plans(plan_ids, patient.home_timezone), calendar_settings
        )
    rendered = RenderedFeed(body=body, etag=ical.etag_for(body), last_modified=last_modified)
    cache.set(key, rendered, CACHE_SECONDS)
    return rendered


def plan_calendar(plan: TaperPlan, patient: Patient) -> bytes:
    """One plan as a downloadable .ics, with the same events as the feed."""
    plans = _calendar_plans([plan.pk], patient.home_timezone)
    with translation.override(patient_language(patient)):
        return ical.render_calendar(plans, _settings(patient))


@transaction.atomic
def patient_calendar_privacy_set(*, patient: Patient, detailed_titles: bool) -> Patient:
    if patient.calendar_detailed_titles != detailed_titles:
        patient.calendar_detailed_titles = detailed_titles
        patient.calendar_settings_version += 1
        patient.calendar_settings_changed_at = timezone.now()
        patient.save(
            update_fields=[
                "calendar_detailed_titles",
                "calendar_settings_version",
                "calendar_settings_changed_at",
            ]
        )
    return patient
