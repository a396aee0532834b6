"""The reminder ledger: rows are made when a plan starts, claimed when due, delivered by
short tasks, and the missed-dose sweep turns silence into follow-ups and alerts.

The database is the record; the broker only delivers (DESIGN.md). A row is claimed with
a compare-and-set (and SKIP LOCKED on PostgreSQL), so two dispatchers never claim the
same row; a row claimed by a worker that died is claimed again after a timeout; every
status change is a compare-and-set on the claim, so a late worker cannot undo a newer
outcome.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Min, Prefetch, Q, prefetch_related_objects
from django.db.models.functions import Coalesce

import taper
from planner.audit import update_with_history
from planner.models import PlanRevision, PlanStatus, TaperPlan
from planner.schedule import (
    ApprovedPlan,
    ApprovedRefill,
    Escalation,
    escalation_of,
    longest_wait_without_dose,
)
from reminders import caregivers, messages
from reminders.channels import (
    Channel,
    LedgerChannel,
    Message,
    PermanentError,
    TransientError,
    channels_close,
    channels_flush,
    has_ledger,
)
from reminders.models import (
    AbruptStopAlert,
    AlertReason,
    Delivery,
    DeliveryStatus,
    Dose,
    DoseStatus,
    EmailAddressStatus,
    PumpRefill,
    Recipient,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from reminders.preferences import email_failing_since

log = logging.getLogger(__name__)
T = TypeVar("T")

# Clinic defaults for when notices go out, in the patient's own time zone.
EVENING_NOTICE = dt.time(19, 0)
MORNING_NOTICE = dt.time(9, 0)
CHECK_IN_TIME = dt.time(10, 0)
# When missed doses raise an alert is the plan's own protocol's escalation settings
# (planner.schedule.escalation_of), read for each plan, not copied here.
_IN_WORDS = {2: "Two", 3: "Three", 4: "Four"}
# Sent whatever the plan's status, and never withdrawn with its future reminders: an
# alert outlives its plan, and a plan is queued for review, and decided, before it runs.
SENT_WHATEVER_THE_PLAN = (
    ReminderKind.ABRUPT_STOP_ALERT, ReminderKind.REVIEW_DECISION, ReminderKind.REVIEW_QUEUED
)
# Reminders of one dose: never sent once it is answered or its window has closed.
DOSE_REMINDERS = (ReminderKind.DOSE, ReminderKind.DOSE_FOLLOW_UP)
# Notices of a change: the change they announce has happened, so they are never withdrawn.
CHANGE_NOTICES = (
    ReminderKind.PLAN_REVISED, ReminderKind.PLAN_REPLACED, ReminderKind.ZONE_CHANGED
)


def _local(day: dt.date, time: dt.time, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=ZoneInfo(zone))


def _plan_rows(plan: TaperPlan, approved: ApprovedPlan, doses: Sequence[Dose]) -> list[Reminder]:
    """A plan's reminder rows, from its approved schedule (planner.schedule): one per
    dose, the evening before each change and the last day, check-ins at the protocol's
    interval, and refill reminders before each pump alarm."""
    zone = approved.zone
    rows = []
    for dose in doses:
        slot = f"{dose.local_date}-{dose.local_time:%H%M}"
        rows.append(
            Reminder(plan=plan, dose=dose, kind=ReminderKind.DOSE, key=f"dose-{slot}",
                     due_at=dose.due_at)
        )
        # The second nudge: one row per dose (unique per dose and kind), so retries and
        # two ticks at once still send it once; skipped if the dose was answered.
        rows.append(
            Reminder(plan=plan, dose=dose, kind=ReminderKind.DOSE_FOLLOW_UP,
                     key=f"follow-up-{slot}", due_at=dose.follow_up_at)
        )
    for before, step in zip(approved.steps, approved.steps[1:], strict=False):
        rows.append(
            Reminder(
                plan=plan,
                kind=ReminderKind.DOSE_CHANGE,
                key=f"change-{step.start_date}",
                due_at=_local(step.start_date - dt.timedelta(days=1), EVENING_NOTICE, zone),
                context={
                    "from_mg": str(before.daily_total_mg),
                    "to_mg": str(step.daily_total_mg),
                    "date": step.start_date.isoformat(),
                },
            )
        )
    if approved.steps:
        last_day = approved.end_date
        rows.append(
            Reminder(
                plan=plan,
                kind=ReminderKind.LAST_DOSE,
                key=f"last-{last_day}",
                due_at=_local(last_day - dt.timedelta(days=1), EVENING_NOTICE, zone),
                context={"date": last_day.isoformat()},
            )
        )
        every = approved.check_in_every_days
        day = approved.start_date + dt.timedelta(days=every - 1)
        while day <= last_day + dt.timedelta(days=every):
            rows.append(
                Reminder(
                    plan=plan,
                    kind=ReminderKind.CHECK_IN,
                    key=f"checkin-{day}",
                    due_at=_local(day, CHECK_IN_TIME, zone),
                )
            )
            day += dt.timedelta(days=every)
    rows += refill_rows(plan, pump_refills_now(plan, approved), zone)
    return rows


def pump_refills_now(plan: TaperPlan, approved: ApprovedPlan) -> tuple[ApprovedRefill, ...]:
    """The pump's refill cycles as they stand: the approved ones until a refill is
    recorded, then counted again from the recorded fills (ApprovedPlan.refills_from).
    A refill recorded before issue 21 has no volume: a full reservoir, as it was counted."""
    pump = approved.pump
    if pump is None:
        return approved.refills
    return approved.refills_from(recorded_fills(plan, pump))


def recorded_fills(plan: TaperPlan, pump: taper.pump.PumpSettings) -> tuple[taper.pump.Fill, ...]:
    """The refills recorded on the plan, oldest first, each with the concentration in use
    (a refill that names none kept the one before)."""
    fills = []
    concentration = pump.concentration_mcg_per_ml
    for refilled_on, volume, new_concentration in (
        PumpRefill.objects.filter(plan=plan)
        .order_by("refilled_on", "recorded_at")
        .values_list("refilled_on", "volume_ml", "concentration_mcg_per_ml")
    ):
        concentration = new_concentration or concentration
        fills.append(taper.pump.Fill(refilled_on, volume or pump.reservoir_ml, concentration))
    return tuple(fills)


def refill_rows(
    plan: TaperPlan, refills: Sequence[ApprovedRefill], zone: str
) -> list[Reminder]:
    """Refill reminders, to the patient and the clinic, the protocol's days before each
    refill's due date."""
    rows = []
    for refill in refills:
        for reminder_date in refill.reminder_dates:
            days_before = (refill.due_date - reminder_date).days
            for recipient in (Recipient.PATIENT, Recipient.CLINIC):
                rows.append(
                    Reminder(
                        plan=plan,
                        kind=ReminderKind.REFILL,
                        recipient=recipient,
                        key=f"refill-{refill.due_date}-{days_before}",
                        due_at=_local(reminder_date, MORNING_NOTICE, zone),
                        context={
                            # The messages say "due by {alarm_date}": the date to refill by.
                            "alarm_date": refill.due_date.isoformat(),
                            "empty_date": refill.empty_date.isoformat(),
                            "days_before": days_before,
                        },
                    )
                )
    return rows


def refill_reminders_replace(
    *, plan: TaperPlan, refills: Sequence[ApprovedRefill], zone: str, from_time: dt.datetime
) -> int:
    """A refill was recorded: the refill reminders not yet sent go, the new cycle's come."""
    Reminder.objects.filter(
        plan=plan, kind=ReminderKind.REFILL, status=ReminderStatus.PENDING, due_at__gte=from_time
    ).delete()
    rows = [row for row in refill_rows(plan, refills, zone) if row.due_at >= from_time]
    Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def reminders_schedule(
    *, revision: PlanRevision, approved: ApprovedPlan, from_time: dt.datetime
) -> int:
    """Make the plan's reminder rows from `from_time` on (in the caller's transaction).
    Rows that already exist (sent, or kept from an earlier revision) stay as they are."""
    plan = revision.plan
    doses = list(
        Dose.objects.filter(plan=plan, due_at__gte=from_time).exclude(status=DoseStatus.CANCELLED)
    )
    rows = [row for row in _plan_rows(plan, approved, doses) if row.due_at >= from_time]
    Reminder.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def reminders_withdraw_future(*, plan_id: int, from_time: dt.datetime) -> int:
    """Withdraw what has not been sent yet (a revision or a cancellation)."""
    deleted, _ = (
        Reminder.objects.filter(
            plan_id=plan_id, status=ReminderStatus.PENDING, due_at__gte=from_time
        )
        .exclude(kind__in=[*SENT_WHATEVER_THE_PLAN, *CHANGE_NOTICES])
        .delete()
    )
    return deleted


def reminder_add(
    *,
    plan: TaperPlan,
    kind: ReminderKind,
    key: str,
    due_at: dt.datetime,
    recipient: Recipient = Recipient.PATIENT,
    dose: Dose | None = None,
    context: dict[str, object] | None = None,
) -> Reminder | None:
    """One ad-hoc row (a follow-up, an alert, a revision notice); None if it exists."""
    try:
        with transaction.atomic():
            return Reminder.objects.create(
                plan=plan,
                kind=kind,
                key=key,
                due_at=due_at,
                recipient=recipient,
                dose=dose,
                context=context or {},
            )
    except IntegrityError:
        return None


# --- claiming ---------------------------------------------------------------------------


def reminders_reclaim_stale(*, now: dt.datetime) -> int:
    """Rows claimed by a worker that died go back to the queue, unless their delivery
    has already been started `REMINDER_MAX_ATTEMPTS` times and never finished (a row
    that kills its worker every time): those fail, so no row is retried without end.
    Returns the rows put back."""
    cutoff = now - dt.timedelta(seconds=settings.REMINDER_CLAIM_TIMEOUT_SECONDS)
    stale = Reminder.objects.filter(
        Q(delivery_started_at__isnull=True) | Q(delivery_started_at__lt=cutoff),
        status=ReminderStatus.SENDING,
        claimed_at__lt=cutoff,
    )
    given_up = [
        pk
        for pk, started, attempts in stale.values_list("id", "delivery_token", "attempts")
        if started is not None and attempts >= settings.REMINDER_MAX_ATTEMPTS
    ]
    if given_up:
        for pk in given_up:
            log.error("reminder %s failed: its delivery never finished", pk)
        stale.filter(id__in=given_up).update(
            status=ReminderStatus.FAILED,
            claim_token=None,
            delivery_token=None,
            last_error="gave up: the delivery never finished",
        )
    return stale.update(status=ReminderStatus.PENDING, claim_token=None, delivery_token=None)


Enqueue = Callable[[list[int], str], None]


def reminders_claim_due(*, now: dt.datetime, limit: int, enqueue: Enqueue) -> list[int]:
    """Claim up to `limit` due rows and hand their ids and the claim to `enqueue` after
    commit. A delivery carries the claim: a message that outlived its claim (the row
    was reclaimed and claimed again) delivers nothing. Rows whose delivery was started
    `REMINDER_MAX_ATTEMPTS` times are never claimed again."""
    token = uuid.uuid4()
    with transaction.atomic():
        due = Reminder.objects.filter(status=ReminderStatus.PENDING, due_at__lte=now).order_by(
            "due_at"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids: list[int] = []
        over_the_cap: list[int] = []
        for pk, attempts in due.values_list("id", "attempts")[:limit]:
            (over_the_cap if attempts >= settings.REMINDER_MAX_ATTEMPTS else ids).append(pk)
        if over_the_cap:  # the cap was lowered under them: never claimed again
            Reminder.objects.filter(id__in=over_the_cap).update(
                status=ReminderStatus.FAILED, last_error="gave up: too many attempts"
            )
        if not ids:
            return []
        # Compare-and-set: only rows still pending are ours, whatever else runs.
        Reminder.objects.filter(id__in=ids, status=ReminderStatus.PENDING).update(
            status=ReminderStatus.SENDING, claim_token=token, claimed_at=now
        )
        claimed = list(
            Reminder.objects.filter(claim_token=token, status=ReminderStatus.SENDING)
            .order_by("due_at")
            .values_list("id", flat=True)
        )
        transaction.on_commit(lambda: _enqueue_or_release(claimed, token, enqueue))
    return claimed


def _enqueue_or_release(ids: list[int], token: uuid.UUID, enqueue: Enqueue) -> None:
    """Hand the claim to the broker; if the broker refuses, give the rows back at once
    (a delivery of the part that was published finds them no longer claimed), so an
    outage of the broker neither waits for the claim timeout nor uses up attempts."""
    try:
        enqueue(ids, str(token))
    except Exception:
        Reminder.objects.filter(
            claim_token=token, status=ReminderStatus.SENDING, delivery_token__isnull=True
        ).update(status=ReminderStatus.PENDING, claim_token=None, claimed_at=None)
        raise


# --- delivering -------------------------------------------------------------------------


def _why_not_send(row: Reminder, now: dt.datetime) -> str:
    if row.recipient == Recipient.CAREGIVER and caregivers.caregiver_still_told(row) is None:
        # Removed (or declined) since the row was made: nothing more reaches them.
        return "the caregiver is no longer told"
    if row.plan.status != PlanStatus.ACTIVE and row.kind not in SENT_WHATEVER_THE_PLAN:
        return "the plan is no longer active"
    if row.kind in DOSE_REMINDERS and row.dose is not None:
        if row.dose.status != DoseStatus.SCHEDULED:
            return "the dose was already answered"
        if now > row.dose.catch_up_until:
            # Never a dose reminder after its window: the missed-dose path takes over.
            return "the catch-up window had closed"
    return ""


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 4 ** max(attempts - 1, 0), 3600))


# Sent rows are recorded as the delivery goes, so a worker killed mid-batch sends again
# only what it sent since the last record: at most RECORD_SENT_EVERY rows, and no more
# than RECORD_SENT_SECONDS of sending (a slow mail server records every few rows). A
# record every 10 rows was a fifth of a reminder's cost (issue #17).
RECORD_SENT_EVERY = 50
RECORD_SENT_SECONDS = 0.25


def _start_delivery(
    ids: Sequence[int], claim: str | None, now: dt.datetime
) -> tuple[uuid.UUID, list[Reminder]]:
    """Take the rows for this delivery. A copy of the same message running beside this
    one (redelivered by the broker) finds them taken and sends nothing."""
    token = uuid.uuid4()
    claimed = Reminder.objects.filter(
        id__in=ids, status=ReminderStatus.SENDING, delivery_token__isnull=True
    )
    if claim is not None:
        claimed = claimed.filter(claim_token=claim)
    # An attempt is a delivery that started: a claim whose message never ran (the
    # broker lost it, no worker was up) costs the row nothing. The claim timeout also
    # counts from here, so a message that waited in the queue is not reclaimed while it
    # is being delivered (a column of its own: claimed_at is indexed, this is not).
    claimed.update(delivery_token=token, attempts=F("attempts") + 1, delivery_started_at=now)
    rows = list(
        Reminder.objects.filter(delivery_token=token, status=ReminderStatus.SENDING)
        .select_related(
            "plan__patient__clinic",
            "plan__patient__user",
            "plan__patient__portal_preferences",
            "plan__patient__sms_number",
            "plan__patient__email_status",  # is the address refused (messages_for)
            "dose",  # the amount to take is stored with it (Dose.what_to_take)
        )
        .prefetch_related(
            Prefetch(
                "plan__patient__push_subscriptions",
                to_attr=messages.PUSH_SUBSCRIPTIONS_LOADED,
            )
        )
        .order_by("due_at")
    )
    # A dose written before doses stored what to take reads its revision's output:
    # loaded for those rows only, once per revision (a 12-week plan's output is 70 kB).
    prefetch_related_objects(
        [row.dose for row in rows if row.dose is not None and row.dose.what_to_take is None],
        "revision",
    )
    return token, rows


def _finish(ids: Iterable[int], token: uuid.UUID, **fields: object) -> int:
    """Record an outcome only for rows this delivery still holds."""
    return Reminder.objects.filter(
        id__in=list(ids), status=ReminderStatus.SENDING, delivery_token=token
    ).update(claim_token=None, delivery_token=None, **fields)


def _retry_or_fail(row: Reminder, token: uuid.UUID, now: dt.datetime, error: str) -> str:
    """Back to pending with backoff, or failed once the row has used its attempts."""
    if row.attempts >= settings.REMINDER_MAX_ATTEMPTS:
        _finish([row.pk], token, status=ReminderStatus.FAILED, last_error=f"gave up: {error}"[:300])
        return "failed"
    _finish([row.pk], token, status=ReminderStatus.PENDING,
            due_at=now + backoff(row.attempts), last_error=error[:300])
    return "retry"


def _where(error: BaseException) -> str:
    """The file and line that raised: enough to find the bug, nothing of the row."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


def _channel_failing(row: Reminder, now: dt.datetime, error: PermanentError) -> None:
    if row.recipient != Recipient.PATIENT:
        return
    patient = row.plan.patient
    if email_failing_since(patient) is None:
        EmailAddressStatus.objects.update_or_create(
            patient=patient, defaults={"address": patient.email, "failing_since": now}
        )
    reminder_add(
        plan=row.plan, kind=ReminderKind.CHANNEL_FAILING, recipient=Recipient.CLINIC,
        key=f"channel-{now:%Y-%m-%d}", due_at=now, context={"error": str(error)},
    )


class _ChannelOutcomes:
    """What each ledger channel did with each row of one delivery
    (reminders.models.Delivery): loaded once for the batch, written once per batch of
    sent rows, and before a row goes back to the queue, so a retry resends only
    through the channels that have not delivered it."""

    def __init__(self, rows: Sequence[Reminder], channels: Sequence[Channel]) -> None:
        self.channels = channels
        self.active = any(has_ledger(channel) for channel in channels)
        self.done: set[tuple[int, str]] = set()
        self.tries: dict[tuple[int, str], int] = {}
        self.pending: dict[tuple[int, str], Delivery] = {}
        if self.active and rows:
            for reminder_id, channel, status, attempts in Delivery.objects.filter(
                reminder_id__in=[row.pk for row in rows]
            ).values_list("reminder_id", "channel", "status", "attempts"):
                self.tries[(reminder_id, channel)] = attempts
                if status != DeliveryStatus.RETRYING:
                    self.done.add((reminder_id, channel))

    def delivered_before(self, row: Reminder, channel: str) -> bool:
        return (row.pk, channel) in self.done

    def record(self, row: Reminder, channel: str, status: str, now: dt.datetime,
               error: str = "") -> None:
        key = (row.pk, channel)
        self.pending[key] = Delivery(
            reminder_id=row.pk, channel=channel, status=status,
            attempts=self.tries.get(key, 0) + 1, last_error=error[:300], at=now,
        )  # fmt: skip

    def flush(self, ids: Iterable[int] | None = None) -> None:
        """Record the outcomes of `ids` (all if None), after what the channels keep
        until then (in-app notices): a row is never recorded sent before its notice."""
        channels_flush(self.channels)
        wanted = None if ids is None else set(ids)
        keys = [key for key in self.pending if wanted is None or key[0] in wanted]
        if not keys:
            return
        Delivery.objects.bulk_create(
            [self.pending.pop(key) for key in keys],
            update_conflicts=True,
            unique_fields=["reminder", "channel"],
            update_fields=["status", "attempts", "last_error", "at"],
        )


def _send_through(
    row: Reminder, channel: Channel, message: Message
) -> tuple[str, Exception | None]:
    """One channel's outcome for one row: sent, retrying (with the error to record) or
    failed for good. A bug on one channel is contained like a transient error."""
    try:
        channel.send(message)
    except TransientError as error:
        return DeliveryStatus.RETRYING, error
    except PermanentError as error:
        log.warning("reminder %s failed permanently on %s: %s", row.pk, channel.name, error)
        return DeliveryStatus.FAILED, error
    except Exception as error:
        what = f"{type(error).__name__} at {_where(error)}"
        log.error("reminder %s could not be sent on %s: %s", row.pk, channel.name, what)
        return DeliveryStatus.RETRYING, TransientError(f"could not be sent: {what}")
    return DeliveryStatus.SENT, None


def _send_everywhere(
    row: Reminder, channels: Sequence[Channel], ledger: _ChannelOutcomes, now: dt.datetime
) -> tuple[str, PermanentError | None]:
    """Send one row through every channel, each on its own: a channel that fails does
    not stop the others, and one that delivered this row before is not used again.
    Returns the transient error to retry on ("" if none) and the e-mail's permanent
    error, if any (the address is refused: the clinic is told). Raises the e-mail's
    (or a channel without a ledger's) permanent error when nothing reached the patient:
    the row fails, as before there were other channels. Push and SMS refusals (every
    subscription expired, the number opted out) are kept on their Delivery rows only:
    the in-app notice still stands."""
    retry = ""
    email_refused: PermanentError | None = None
    refused: PermanentError | None = None
    reached = False
    for message in messages.messages_for(row):
        for channel in channels:
            ledgered = has_ledger(channel)
            if ledgered:
                if not cast(LedgerChannel, channel).addressed(message):
                    continue
                if ledger.delivered_before(row, channel.name):
                    reached = True
                    continue
            # Without a ledger (in-app: one notice per row whatever happens) a channel
            # is sent through on every attempt, and its success alone reaches no one.
            status, error = _send_through(row, channel, message)
            if ledgered:
                ledger.record(row, channel.name, status, now, str(error or ""))
            if status == DeliveryStatus.SENT:
                reached = reached or ledgered
            elif status == DeliveryStatus.RETRYING:
                retry = retry or str(error)
            elif channel.name == "email" or not ledgered:
                refused = refused or cast(PermanentError, error)
                if channel.name == "email":
                    email_refused = cast(PermanentError, error)
    if refused is not None and not reached and not retry:
        raise refused
    return retry, email_refused


def reminders_deliver(
    *,
    reminder_ids: Sequence[int],
    now: dt.datetime,
    channels: Iterable[Channel],
    claim: str | None = None,
) -> dict[int, str]:
    """Deliver claimed rows through the channels and record each outcome; a few queries
    for the whole batch, not a few per row.

    Each row is contained: whatever its rendering or sending raises, that row alone is
    retried (with backoff, up to `REMINDER_MAX_ATTEMPTS`) or failed, with its id and the
    error's class in the log — never the message, which could name the patient — and
    the rest of the batch goes on. Within a row each channel is contained too, and its
    outcome is kept on its own (reminders.models.Delivery): a row retried because the
    SMS provider was away does not send the e-mail again. Only a failure to record
    outcomes (the database is away) ends the delivery; its rows are then claimed again
    after the claim timeout."""
    channels = list(channels)
    try:
        return _deliver(reminder_ids, now, channels, claim)
    finally:
        channels_close(channels)


def _deliver(
    reminder_ids: Sequence[int], now: dt.datetime, channels: list[Channel], claim: str | None
) -> dict[int, str]:
    token, rows = _start_delivery(reminder_ids, claim, now)
    ledger = _ChannelOutcomes(rows, channels)
    outcomes: dict[int, str] = {}
    skipped: dict[str, list[int]] = {}
    sent: list[int] = []
    started = recorded = time.monotonic()

    def sent_at() -> dt.datetime:
        # The moment of the record, counted from the delivery's `now`: the lateness
        # figures (ops/bench_reminders) include the time the batch took to get there.
        return now + dt.timedelta(seconds=time.monotonic() - started)

    for row in rows:
        reason = _why_not_send(row, now)
        if reason:
            skipped.setdefault(reason, []).append(row.pk)
            outcomes[row.pk] = "skipped"
            continue
        try:
            retry, email_refused = _send_everywhere(row, channels, ledger, now)
        except PermanentError as error:
            ledger.flush([row.pk])
            _finish([row.pk], token, status=ReminderStatus.FAILED, last_error=str(error)[:300])
            outcomes[row.pk] = "failed"
            _channel_failing(row, now, error)
            log.warning("reminder %s failed permanently: %s", row.pk, error)
            continue
        except Exception as error:  # a bug or bad data in this row: contain it
            what = f"{type(error).__name__} at {_where(error)}"
            ledger.flush([row.pk])
            outcomes[row.pk] = _retry_or_fail(row, token, now, f"could not be sent: {what}")
            log.error(
                "reminder %s could not be sent: %s (attempt %s of %s, %s)",
                row.pk, what, row.attempts, settings.REMINDER_MAX_ATTEMPTS, outcomes[row.pk],
            )  # fmt: skip
            continue
        if email_refused is not None:
            _channel_failing(row, now, email_refused)  # reached another way; still told
        if retry:
            ledger.flush([row.pk])
            outcomes[row.pk] = _retry_or_fail(row, token, now, retry)
            continue
        sent.append(row.pk)
        outcomes[row.pk] = "sent"
        if len(sent) >= RECORD_SENT_EVERY or time.monotonic() - recorded > RECORD_SENT_SECONDS:
            _record_sent(ledger, sent, token, sent_at())
            sent, recorded = [], time.monotonic()
    for reason, ids in skipped.items():
        _finish(ids, token, status=ReminderStatus.SKIPPED, last_error=reason)
    if sent:
        _record_sent(ledger, sent, token, sent_at())
    return outcomes


def _record_sent(
    ledger: _ChannelOutcomes, sent: list[int], token: uuid.UUID, at: dt.datetime
) -> None:
    """The rows sent, with each channel's outcome (and the in-app notices), in one
    transaction: one commit, and never a row recorded sent without its outcomes."""
    with transaction.atomic():
        ledger.flush(sent)
        _finish(sent, token, status=ReminderStatus.SENT, sent_at=at, last_error="")


def reminder_deliver(
    *, reminder_id: int, now: dt.datetime, channels: Iterable[Channel], claim: str | None = None
) -> str:
    """Deliver one claimed row (see reminders_deliver)."""
    outcome = reminders_deliver(reminder_ids=[reminder_id], now=now, channels=channels,
                                claim=claim)
    return outcome.get(reminder_id, "not claimed")


# --- missed doses and abrupt-stop alerts ------------------------------------------------


def alert_raise(
    *,
    plan: TaperPlan,
    reason: AlertReason,
    since: dt.datetime,
    now: dt.datetime,
    detail: str = "",
) -> AbruptStopAlert | None:
    """Open an alert unless one of this kind is already open: once per episode."""
    if AbruptStopAlert.objects.filter(plan=plan, reason=reason, closed_at__isnull=True).exists():
        return None
    try:
        with transaction.atomic():
            alert = AbruptStopAlert.objects.create(
                plan=plan, reason=reason, since=since, raised_at=now, detail=detail[:300]
            )
    except IntegrityError:
        return None
    reminder_add(
        plan=plan,
        kind=ReminderKind.ABRUPT_STOP_ALERT,
        recipient=Recipient.CLINIC,
        key=f"alert-{alert.pk}",
        due_at=now,
        context={"alert_id": alert.pk},
    )
    # The patient's confirmed caregivers, for an alert about missed doses.
    Reminder.objects.bulk_create(caregivers.alert_rows(alert, now), ignore_conflicts=True)
    log.info("abrupt-stop alert %s raised for plan %s (%s)", alert.pk, plan.pk, reason)
    return alert


def alerts_close_on_confirmed_dose(*, plan_id: int, now: dt.datetime) -> int:
    return update_with_history(
        AbruptStopAlert.objects.filter(
            plan_id=plan_id,
            closed_at__isnull=True,
            reason__in=[AlertReason.CONSECUTIVE_MISSED, AlertReason.NO_CONFIRMED_DOSE],
        ),
        reason="a dose was confirmed",
        closed_at=now,
    )


def _escalation(plan: TaperPlan) -> Escalation | None:
    revision = plan.current_revision
    return escalation_of(revision.engine_output) if revision is not None else None


def _check_consecutive_missed(plan: TaperPlan, now: dt.datetime) -> None:
    escalation = _escalation(plan)
    if escalation is None:
        return
    count = escalation.missed_doses_in_a_row
    last_ones = list(
        Dose.objects.filter(plan=plan, catch_up_until__lt=now)
        .exclude(status=DoseStatus.CANCELLED)
        .order_by("-due_at")
        .values_list("status", "due_at")[:count]
    )
    missed = [status == DoseStatus.MISSED for status, _ in last_ones]
    if len(missed) == count and all(missed):
        alert_raise(
            plan=plan,
            reason=AlertReason.CONSECUTIVE_MISSED,
            since=last_ones[-1][1],
            now=now,
            detail=f"{_IN_WORDS.get(count, str(count))} doses in a row were not taken.",
        )


def plan_check_contained(what: str, pk: int, step: Callable[[], T]) -> T | None:
    """One plan's check in its own savepoint: a plan that cannot be checked is logged by
    id and error class and does not stop the check of every other plan."""
    try:
        with transaction.atomic():
            return step()
    except Exception as error:
        log.error("%s failed for plan %s: %s; the other plans were checked",
                  what, pk, type(error).__name__)
        return None


def doses_mark_missed(*, now: dt.datetime, limit: int = 5000) -> int:
    """Doses whose catch-up window closed unanswered become missed: the patient gets the
    missed-dose guidance and the plan is checked for an abrupt stop. Two ticks at once
    take disjoint doses (row locks, SKIP LOCKED on PostgreSQL): one follow-up each."""
    with transaction.atomic():
        due = Dose.objects.filter(
            status=DoseStatus.SCHEDULED, catch_up_until__lt=now, plan__status=PlanStatus.ACTIVE
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return 0
        Dose.objects.filter(id__in=ids, status=DoseStatus.SCHEDULED).update(
            status=DoseStatus.MISSED
        )
        missed = list(
            Dose.objects.filter(id__in=ids, status=DoseStatus.MISSED).select_related(
                "plan__current_revision"
            )
        )
        Reminder.objects.bulk_create(
            [
                Reminder(
                    plan=dose.plan,
                    dose=dose,
                    kind=ReminderKind.MISSED_DOSE,
                    key=f"missed-{dose.pk}",
                    due_at=now,
                )
                for dose in missed
            ],
            ignore_conflicts=True,
        )
        # And each confirmed caregiver of the patient (reminders.caregivers).
        Reminder.objects.bulk_create(
            caregivers.missed_dose_rows(missed, now), ignore_conflicts=True
        )
        for plan in {dose.plan_id: dose.plan for dose in missed}.values():
            plan_check_contained(
                "the two-missed-doses check", plan.pk,
                functools.partial(_check_consecutive_missed, plan, now),
            )  # fmt: skip
    return len(missed)


def alerts_check_unconfirmed(*, now: dt.datetime) -> int:
    """Active plans with no dose confirmed for their protocol's
    escalation_hours_without_dose (24 hours for the oral protocols) — counted from the
    last taken dose, or from the plan's first dose — while doses went missed. Only plans
    with a dose missed within twice the longest such threshold are looked at (index
    dose_missed_due)."""
    longest = longest_wait_without_dose()
    recent = Dose.objects.filter(
        status=DoseStatus.MISSED, due_at__gte=now - 2 * longest
    ).values("plan_id")
    live = ~Q(doses__status=DoseStatus.CANCELLED)
    plans = (
        TaperPlan.objects.filter(status=PlanStatus.ACTIVE, id__in=recent)
        .select_related("current_revision")
        .annotate(
            confirmed_since=Coalesce(
                Max("doses__due_at", filter=Q(doses__status=DoseStatus.TAKEN)),
                Min("doses__due_at", filter=live),
            ),
            last_missed=Max("doses__due_at", filter=Q(doses__status=DoseStatus.MISSED)),
        )
        .filter(last_missed__gt=F("confirmed_since"))
    )
    raised = 0
    for plan in plans:
        escalation = _escalation(plan)
        if escalation is None or plan.confirmed_since >= now - escalation.without_confirmed_dose:
            continue
        hours = int(escalation.without_confirmed_dose.total_seconds() // 3600)
        alert = plan_check_contained(
            "the hours-unconfirmed check",
            plan.pk,
            functools.partial(
                alert_raise,
                plan=plan,
                reason=AlertReason.NO_CONFIRMED_DOSE,
                since=plan.confirmed_since,
                now=now,
                detail=f"No dose confirmed for {hours} hours.",
            ),
        )
        raised += alert is not None
    return raised


def dispatch_tick(
    *,
    now: dt.datetime,
    enqueue: Enqueue,
    limit: int | None = None,
    budget: dt.timedelta = dt.timedelta(seconds=30),
) -> dict[str, int]:
    """One minute's work for beat. Each stage runs in its own transaction with its own
    error handling (reminders.health records each stage's last success and failure), so
    a stage that fails stops nothing else: claim due rows first, then reclaim rows of
    dead workers, mark missed doses, top up maintenance doses, raise alerts and check
    refills, then claim again what those stages made due this minute.

    Safe to run twice at once (two beats): claims, reclaims and missed doses take rows
    with a compare-and-set under SKIP LOCKED, and an alert is unique per open episode."""
    from planner.doses import maintenance_doses_extend  # so does services
    from reminders import health
    from reminders.refills import alerts_check_refills  # refills builds on this module

    batch = limit or settings.REMINDER_BATCH_SIZE
    started = time.monotonic()

    def claim() -> int:
        claimed = 0
        while time.monotonic() - started < budget.total_seconds():
            got = len(reminders_claim_due(now=now, limit=batch, enqueue=enqueue))
            claimed += got
            if got < batch:
                break
        return claimed

    def atomic(step: Callable[[], int]) -> Callable[[], int]:
        def run() -> int:
            with transaction.atomic():
                return step()

        return run

    stages: list[tuple[str, Callable[[], int]]] = [
        ("claim", claim),  # each batch is a transaction of its own, enqueued on commit
        ("reclaim", atomic(lambda: reminders_reclaim_stale(now=now))),
        ("missed_doses", atomic(lambda: doses_mark_missed(now=now))),
        ("maintenance", atomic(lambda: maintenance_doses_extend(now=now))),
        ("alerts", atomic(lambda: alerts_check_unconfirmed(now=now))),
        ("refills", atomic(lambda: alerts_check_refills(now=now))),
        ("claim", claim),
    ]
    done: dict[str, int] = {}
    outcomes: dict[str, BaseException | None] = {}
    for name, stage in stages:
        count, error = health.stage_run(name, stage)
        done[name] = done.get(name, 0) + count
        outcomes[name] = outcomes.get(name) or error  # the claim runs twice
    health.tick_completed(now=now, outcomes=outcomes)
    return {
        "reclaimed": done["reclaim"],
        "missed": done["missed_doses"],
        "alerts": done["alerts"] + done["refills"],
        "claimed": done["claim"],
        "failed_stages": sum(1 for error in outcomes.values() if error is not None),
    }
