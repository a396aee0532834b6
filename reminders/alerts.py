"""What a clinic does about an abrupt-stop alert (issue #18): acknowledge it, add notes,
close it, each with who and when; and the escalation of an alert left open past the
clinic's threshold to its reviewers. Writes only; pages read through clinic.selectors."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from planner.audit import records_by
from planner.models import AlertEvent, AlertEventKind
from planner.roles import Role
from reminders.models import AbruptStopAlert, Notice

NOTE_MAX_LENGTH = 1000


def _locked_open(alert: AbruptStopAlert) -> AbruptStopAlert:
    locked = AbruptStopAlert.objects.select_for_update().get(pk=alert.pk)
    if locked.closed_at is not None:
        raise ValidationError("This alert is already closed.")
    return locked


def _clean_note(text: str, *, required: bool) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ValidationError({"text": "Write the note: what was done, or what was found."})
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationError({"text": f"Keep the note under {NOTE_MAX_LENGTH} characters."})
    if "\x00" in text:
        raise ValidationError({"text": "The note holds a character that cannot be stored."})
    return text


@records_by
@transaction.atomic
def alert_acknowledge(*, alert: AbruptStopAlert, by: User) -> AlertEvent:
    """Someone at the clinic has seen the alert and is acting on it."""
    locked = _locked_open(alert)
    earlier = AlertEvent.objects.filter(alert=locked, kind=AlertEventKind.ACKNOWLEDGED).first()
    if earlier is not None:
        raise ValidationError(
            f"Already acknowledged by {earlier.by or 'someone'} at "
            f"{timezone.localtime(earlier.at):%Y-%m-%d %H:%M %Z}."
        )
    return AlertEvent.objects.create(
        alert=locked, kind=AlertEventKind.ACKNOWLEDGED, by=by, at=timezone.now()
    )


@records_by
@transaction.atomic
def alert_annotate(*, alert: AbruptStopAlert, by: User, text: str) -> AlertEvent:
    """A note on the alert ("called patient, restarted 10 mg"); also after it closed."""
    note = _clean_note(text, required=True)
    AbruptStopAlert.objects.select_for_update().get(pk=alert.pk)
    return AlertEvent.objects.create(
        alert=alert, kind=AlertEventKind.NOTE, by=by, text=note, at=timezone.now()
    )


@records_by
@transaction.atomic
def alert_close(*, alert: AbruptStopAlert, by: User, text: str = "") -> AlertEvent:
    """Resolve the alert: it leaves the dashboard's open list, with who closed it, when
    and why. A new episode raises a new alert (the dispatcher's rule)."""
    note = _clean_note(text, required=False)
    locked = _locked_open(alert)
    now = timezone.now()
    locked.closed_at = now
    locked.closed_by = by
    locked.save(update_fields=["closed_at", "closed_by"])
    return AlertEvent.objects.create(
        alert=locked, kind=AlertEventKind.CLOSED, by=by, text=note, at=now
    )


def _reviewers(clinic_id: int) -> list[User]:
    return list(
        User.objects.filter(
            is_active=True, staff__clinic_id=clinic_id, groups__name=Role.REVIEWER.value
        ).distinct()
    )


def alerts_escalate(*, now: dt.datetime) -> int:
    """Every open alert raised longer ago than its clinic's ``alert_escalation_hours``
    and not yet escalated goes to the clinic's reviewers: one escalation row (unique per
    alert, so two runs at once escalate it once) and one notice per reviewer. Returns how
    many alerts were escalated."""
    # Open alerts are few (one per plan and reason); the threshold is per clinic.
    open_alerts = (
        AbruptStopAlert.objects.filter(
            closed_at__isnull=True, raised_at__lte=now - dt.timedelta(hours=1)
        )
        .exclude(events__kind=AlertEventKind.ESCALATED)
        .select_related("plan__patient__clinic")
        .order_by("raised_at")
    )
    escalated = 0
    for alert in open_alerts:
        clinic = alert.plan.patient.clinic
        if alert.raised_at > now - dt.timedelta(hours=clinic.alert_escalation_hours):
            continue
        try:
            with transaction.atomic():
                AlertEvent.objects.create(
                    alert=alert, kind=AlertEventKind.ESCALATED, at=now,
                    text=f"Open for more than {clinic.alert_escalation_hours} h "
                    "(the clinic's threshold).",
                )
                url = settings.SITE_URL + reverse("alert", args=[alert.pk])
                # Names no patient, like every staff notice: it links to the alert.
                Notice.objects.bulk_create(
                    Notice(
                        user=reviewer,
                        subject=f"Abrupt-stop alert {alert.pk} still open",
                        body=f"{alert.what_happened} Raised {clinic.alert_escalation_hours} h "
                        f"or more ago and not closed: {url}",
                    )
                    for reviewer in _reviewers(clinic.pk)
                )
        except IntegrityError:
            continue  # another run escalated it first
        escalated += 1
    return escalated
