"""Reminder ledger (the dose log it delivers lives in planner.models); the worker heartbeat."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

# The dose log is part of the plan record (planner.models); named here too for the code
# of the layers above that reads it through reminders.
from planner.models import DOSE_ANSWERS as DOSE_ANSWERS
from planner.models import DOSE_EARLY_ANSWER as DOSE_EARLY_ANSWER
from planner.models import Dose as Dose
from planner.models import DoseState as DoseState
from planner.models import DoseStatus as DoseStatus
from reminders.patient_preferences import Language as Language
from reminders.patient_preferences import PatientPreferences as PatientPreferences


class WorkerHeartbeat(models.Model):
    """One row per beat tick handled by a worker: proves beat → broker → worker → database.

    The health page reads the newest row; a stale heartbeat means reminders are not
    being delivered, which for this project means patients are not being reminded.
    """

    beat_at = models.DateTimeField(db_index=True)
    hostname = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-beat_at"]
        get_latest_by = "beat_at"

    def __str__(self) -> str:
        return f"{self.hostname or 'worker'} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class DispatchStage(models.Model):
    """The health of one stage of the dispatcher tick (claim, reclaim, missed doses, …)
    and of the tick as a whole ("tick"): when it last succeeded and last failed, and how
    many ticks in a row it has failed. Written by reminders.health, read by /health/,
    the staff banner and the dead man's switch. One row per stage, updated in place."""

    name = models.CharField(max_length=32, unique=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # The exception's class only: a message could carry a patient's data.
    last_error = models.CharField(max_length=100, blank=True)
    failures_in_a_row = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"Dispatcher stage {self.name}"


class FeedToken(models.Model):
    """A patient's calendar subscription address for one device ("My phone"). Only the
    SHA-256 of the token is stored: the address is shown once, when it is made, and
    cannot be read back. A patient holds one live address per device, each made new or
    stopped on its own, so a second phone does not break the first."""

    patient = models.ForeignKey(
        "planner.Patient", on_delete=models.CASCADE, related_name="feed_tokens"
    )
    # The patient's own name for the device; not a secret, and not clinical data.
    name = models.CharField(max_length=60, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["token_hash"])

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The calendar page's list of live devices (reminders.feeds.feed_devices).
            models.Index(
                fields=["patient"],
                condition=models.Q(revoked_at__isnull=True),
                name="feed_token_live_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"Feed token {self.pk}"


class ReminderKind(models.TextChoices):
    DOSE = "dose", "Dose reminder"
    # One per dose, halfway through its catch-up window; a snooze moves it.
    DOSE_FOLLOW_UP = "dose_follow_up", "Dose still unanswered (second nudge or snooze)"
    DOSE_CHANGE = "dose_change", "Dose changes tomorrow"
    LAST_DOSE = "last_dose", "Last dose"
    PLAN_REVISED = "plan_revised", "Plan revised"
    PLAN_REPLACED = "plan_replaced", "A new plan replaces the running one"
    ZONE_CHANGED = "zone_changed", "Doses dropped by a change of time zone"
    MISSED_DOSE = "missed_dose", "Missed-dose follow-up"
    REFILL = "refill", "Pump refill reminder"
    # Once per run-out date (key "supply-<date>"): a new dispensing moves the date.
    SUPPLY = "supply", "Supply runs out soon: collect more"
    CHECK_IN = "check_in", "Symptom check-in"
    ABRUPT_STOP_ALERT = "abrupt_stop_alert", "Abrupt-stop alert"
    CHANNEL_FAILING = "channel_failing", "Reminders cannot reach a patient"
    REVIEW_DECISION = "review_decision", "Review decision (to the plan's author)"
    REVIEW_QUEUED = "review_queued", "A plan waits for review (to the clinic's reviewers)"


class Recipient(models.TextChoices):
    PATIENT = "patient", "Patient"
    CLINIC = "clinic", "Clinic"
    STAFF = "staff", "A staff member"
    # A confirmed caregiver of the patient (Caregiver): one row per caregiver and event.
    CAREGIVER = "caregiver", "A caregiver of the patient"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent"
    CANCELLED = "cancelled", "Cancelled"


class Reminder(models.Model):
    """One message to deliver: the database is the record, the broker only delivers."""

    # No index of their own: the unique constraints below begin with plan and with dose
    # and serve every lookup by either. A row is updated three times on its way out
    # (claimed, taken, recorded), and each update writes every index (issue #17).
    plan = models.ForeignKey(
        "planner.TaperPlan", on_delete=models.CASCADE, related_name="reminders",
        db_index=False,
    )
    dose = models.ForeignKey(
        Dose, on_delete=models.CASCADE, null=True, blank=True, related_name="reminders",
        db_index=False,
    )
    kind = models.CharField(max_length=24, choices=ReminderKind.choices)
    recipient = models.CharField(
        max_length=10, choices=Recipient.choices, default=Recipient.PATIENT
    )
    # What makes the row unique within its plan and kind: a date, a refill, an alert id.
    key = models.CharField(max_length=64)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Set by the one delivery that goes ahead: a redelivered copy of the same message
    # running beside it finds it set and sends nothing.
    delivery_token = models.UUIDField(null=True, blank=True)
    # When the last delivery took the row: the claim timeout counts from here too.
    delivery_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "kind", "recipient", "key"], name="one_reminder_per_plan_kind_key"
            ),
            models.UniqueConstraint(
                fields=["dose", "kind", "recipient"],
                condition=models.Q(dose__isnull=False),
                name="one_reminder_per_dose_and_kind",
            ),
        ]
        indexes = [
            # The dispatcher's query (reminders.dispatch.reminders_claim_due): due
            # pending rows, oldest first. Partial, so it stays small however many rows
            # have been sent.
            models.Index(
                fields=["due_at"],
                condition=models.Q(status="pending"),
                name="reminder_pending_due",
            ),
            # Reclaiming rows whose worker died (reminders_reclaim_stale).
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(status="sending"),
                name="reminder_sending_claimed",
            ),
        ]

    def __str__(self) -> str:
        return f"Reminder {self.pk} ({self.kind})"


class AlertReason(models.TextChoices):
    CONSECUTIVE_MISSED = "consecutive_missed", "Two doses in a row missed"
    NO_CONFIRMED_DOSE = "no_confirmed_dose", "No dose confirmed for 24 hours"
    SEVERE_SYMPTOMS = "severe_symptoms", "Severe withdrawal symptoms reported"
    REFILL_OVERDUE = "refill_overdue", "Pump refill overdue"


class AbruptStopAlert(models.Model):
    """An episode in which the patient may be stopping suddenly. Raised once per
    episode; it closes when the patient confirms a dose or the clinician resolves it."""

    plan = models.ForeignKey("planner.TaperPlan", on_delete=models.CASCADE, related_name="alerts")
    reason = models.CharField(max_length=24, choices=AlertReason.choices)
    since = models.DateTimeField(help_text="When the problem started (the first missed dose).")
    raised_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    detail = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "reason"],
                condition=models.Q(closed_at__isnull=True),
                name="one_open_alert_per_plan_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Alert {self.pk} ({self.reason})"

    @property
    def what_happened(self) -> str:
        """The reason, with the detail only where it adds something: for missed doses the
        detail only restated the reason ("Two doses in a row missed. Two doses in a row
        were not taken.")."""
        label = str(self.get_reason_display())
        if not self.detail or self.reason in (
            AlertReason.CONSECUTIVE_MISSED, AlertReason.NO_CONFIRMED_DOSE
        ):
            return f"{label}."
        return f"{label}: {self.detail}"


class Notice(models.Model):
    """An in-app message: to a patient's account, or to everyone at a clinic."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notices",
    )
    clinic = models.ForeignKey(
        "planner.Clinic",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notices",
    )
    reminder = models.OneToOneField(
        Reminder, on_delete=models.SET_NULL, null=True, blank=True, related_name="notice"
    )
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | models.Q(clinic__isnull=False),
                name="notice_has_an_addressee",
            )
        ]

    def __str__(self) -> str:
        return f"Notice {self.pk}"


class CheckInLevel(models.TextChoices):
    """A check-in as a whole (reminders.checkin.check_in_level): what the patient is told,
    and whether the clinic's dashboard shows "symptoms rising" (moderate)."""

    NONE = "none", "No symptoms"
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate: symptoms rising"
    SEVERE = "severe", "Severe"


class CheckIn(models.Model):
    """A symptom check-in during a taper."""

    plan = models.ForeignKey("planner.TaperPlan", on_delete=models.CASCADE, related_name="checkins")
    answered_at = models.DateTimeField()
    answers = models.JSONField()
    severe = models.BooleanField()
    level = models.CharField(max_length=10, choices=CheckInLevel.choices, default=CheckInLevel.NONE)

    class Meta:
        ordering = ["-answered_at"]
        indexes = [
            # The dashboard's "symptoms rising", longest waiting first (issue #18).
            models.Index(
                fields=["answered_at", "id"],
                condition=models.Q(level="moderate"),
                name="checkin_moderate_answered",
            ),
        ]

    def __str__(self) -> str:
        return f"Check-in {self.pk}"


class PumpRefill(models.Model):
    """A recorded intrathecal pump refill: the alarm, empty and due dates are counted
    again from it (taper.pump), and the refill reminders and calendar follow."""

    plan = models.ForeignKey("planner.TaperPlan", on_delete=models.CASCADE, related_name="refills")
    refilled_on = models.DateField()
    # Null on refills recorded before issue 21: they were counted as a full reservoir.
    volume_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    # Null: the concentration did not change.
    concentration_mcg_per_ml = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-refilled_on"]

    def __str__(self) -> str:
        return f"Refill {self.refilled_on}"


class DeliveryStatus(models.TextChoices):
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Failed for now: tried again with the reminder"
    FAILED = "failed", "Failed for good"


class Delivery(models.Model):
    """One reminder through one channel (e-mail, push, SMS): each channel's outcome is
    recorded on its own, so a retry of the reminder sends again only through the
    channels that have not delivered it (reminders.dispatch.reminders_deliver). The
    in-app notice keeps no row: its Notice is its record, one per reminder."""

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=16)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    attempts = models.PositiveSmallIntegerField(default=1)
    # The error's words from the channel: never an address, a number or an endpoint.
    last_error = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reminder", "channel"], name="one_delivery_per_reminder_and_channel"
            )
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.channel}, {self.status})"


class PushSubscription(models.Model):
    """A browser (phone or desktop) that agreed to show the patient's notifications: the
    push service's endpoint and the keys the payload is encrypted with (RFC 8291). Removed
    when the patient turns it off or the push service answers 404/410 (expired). The
    endpoint is a capability: never logged."""

    patient = models.ForeignKey(
        "planner.Patient", on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    device_name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Push subscription {self.pk}"


class SmsNumber(models.Model):
    """The patient's mobile number for text reminders. Texts go only once the number is
    verified with a code, while the patient keeps texts on, and never after the number
    answered STOP (opted_out_at; the provider's inbound webhook records it). The code is
    stored only as a keyed hash, expires, and both sending and guessing are limited."""

    patient = models.OneToOneField(
        "planner.Patient", on_delete=models.CASCADE, related_name="sms_number"
    )
    phone = models.CharField(max_length=16)  # E.164, "+34600111222"
    verified_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    code_hash = models.CharField(max_length=64, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_tries = models.PositiveSmallIntegerField(default=0)
    # Codes sent in the current rate-limit window, and when that window began.
    codes_sent = models.PositiveSmallIntegerField(default=0)
    codes_window_from = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["code_hash"])

    class Meta:
        indexes = [models.Index(fields=["phone"], name="sms_number_phone")]

    def __str__(self) -> str:
        return f"SMS number {self.pk}"

    @property
    def textable(self) -> bool:
        return self.enabled and self.verified_at is not None and self.opted_out_at is None


class EmailAddressStatus(models.Model):
    """The mail server refused the patient's e-mail address: e-mail reminders to that
    address stop and the clinic is told. Written by the dispatcher (reminders writes no
    patient rows, issue #15); the mark holds only for the address it was made for, so a
    corrected address gets a new chance without anyone clearing it."""

    patient = models.OneToOneField(
        "planner.Patient", on_delete=models.CASCADE, related_name="email_status"
    )
    address = models.EmailField()
    failing_since = models.DateTimeField()

    class Meta:
        verbose_name_plural = "e-mail address statuses"

    def __str__(self) -> str:
        return f"E-mail status of patient {self.patient_id}"


class CaregiverStatus(models.TextChoices):
    INVITED = "invited", "Invited, not yet confirmed"
    CONFIRMED = "confirmed", "Confirmed"
    REMOVED = "removed", "Removed"


class Caregiver(models.Model):
    """Someone at home the patient wants told (issue #17): added by the patient, or by a
    clinician who records the patient's consent; told nothing until they confirm the
    invitation (reminders.caregivers). A confirmed caregiver gets the missed-dose
    follow-ups and the abrupt-stop alerts of the patient's plans by e-mail or text,
    PHI-minimal and without action links; removal stops them at once."""

    patient = models.ForeignKey(
        "planner.Patient", on_delete=models.CASCADE, related_name="caregivers"
    )
    # The caregiver's own name, as the patient knows them ("Maria").
    name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=16, blank=True)  # E.164, as SmsNumber.phone
    status = models.CharField(
        max_length=10, choices=CaregiverStatus.choices, default=CaregiverStatus.INVITED
    )
    # Messages to the caregiver name the patient by first name only if the patient chose
    # so; otherwise "someone you know" (docs/patient-portal.md).
    share_first_name = models.BooleanField(default=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # A clinician may add a caregiver only with the patient's consent: who recorded it, when.
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    consent_recorded_at = models.DateTimeField(null=True, blank=True)
    # Carried by the signed invitation link: a new one voids the old link (removal).
    invite_nonce = models.CharField(max_length=32)
    invited_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    # The number answered STOP (reminders.sms.sms_opt_out_record): no more texts to it.
    opted_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["invite_nonce"])

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(email="") | ~models.Q(phone=""),
                name="caregiver_has_email_or_phone",
            ),
        ]
        indexes = [
            # The dispatcher's question "whom to tell" (reminders.caregivers.caregivers_told).
            models.Index(
                fields=["patient"],
                condition=models.Q(status="confirmed"),
                name="caregiver_confirmed",
            ),
        ]

    def __str__(self) -> str:
        return f"Caregiver {self.pk} ({self.status})"

    @property
    def address(self) -> str:
        """Where messages go, as the patient typed it (shown to the patient and clinic)."""
        return self.email or self.phone
