"""Clinics, their staff and their patients."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

import taper
from planner import zones


def validate_clinic_time_zone(value: str) -> None:
    if value != "UTC" and not zones.is_home_zone(value):
        raise ValidationError("Enter a place's time zone, such as Europe/London.")


# A telephone number as people write it, checked to be dialable as E.164: an optional
# "+" and country code, digits grouped with spaces, dots, hyphens or brackets; 7 to 15
# digits in all (E.164's maximum).
PHONE_PATTERN = r"\A\+?[0-9][0-9 ().-]*[0-9]\Z"
PHONE_DIGITS = (7, 15)


def validate_phone(value: str) -> None:
    digits = "".join(ch for ch in value if ch.isdigit())
    if not re.match(PHONE_PATTERN, value) or not (
        PHONE_DIGITS[0] <= len(digits) <= PHONE_DIGITS[1]
    ):
        raise ValidationError(
            "Enter a phone number of 7 to 15 digits, with the country code after a + if "
            "patients may call from abroad, such as +1 555 0100."
        )


def tel_uri(number: str) -> str:
    """ "+1 555 0100" → "tel:+15550100" (RFC 3966: the digits, and the + if given)."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"tel:{'+' if number.strip().startswith('+') else ''}{digits}"


class Clinic(models.Model):
    name = models.CharField(max_length=200, unique=True)
    require_review_for_all_plans = models.BooleanField(
        default=False,
        help_text="Send every plan to a reviewer, not only flagged ones.",
    )
    # Staff pages show every time in this zone, with its abbreviation (issue #18): a
    # clinic reads "09:00 EST", not a UTC time it has to convert.
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_clinic_time_zone],
        help_text="The zone the clinic's pages show times in, such as Europe/London.",
    )
    # Shown as tel: links wherever a patient is told to call the clinic (pages, e-mails,
    # the handout, the severe check-in result): planner.clinic_phones.
    phone = models.CharField(
        "phone number", max_length=32, blank=True, validators=[validate_phone],
        help_text="The clinic's number for patients, such as +1 555 0100.",
    )
    out_of_hours_phone = models.CharField(
        "out-of-hours number", max_length=32, blank=True, validators=[validate_phone],
        help_text="The number patients call when the clinic is closed, such as +1 555 0199.",
    )
    opening_hours = models.CharField(
        max_length=100, blank=True,
        help_text="When the clinic answers its phone, as patients should read it, such as "
        "\"Mon–Fri 08:00–18:00\".",
    )
    # A clinic default, not a label fact (CLINICAL.md: "escalation threshold"): an
    # abrupt-stop alert nobody has closed after this long goes to the clinic's reviewers.
    alert_escalation_hours = models.PositiveSmallIntegerField(
        "escalate open abrupt-stop alerts to reviewers after (hours)",
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(72)],
        help_text="Clinic default, not a label fact: an abrupt-stop alert still open this "
        "many hours after it was raised is sent to the clinic's reviewers (1–72; "
        "untreated withdrawal can progress within 24–72 h).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    def __str__(self) -> str:
        return self.name

    @property
    def phone_tel(self) -> str:
        return tel_uri(self.phone) if self.phone else ""

    @property
    def out_of_hours_tel(self) -> str:
        return tel_uri(self.out_of_hours_phone) if self.out_of_hours_phone else ""


class StaffMember(models.Model):
    """Links a clinician's or reviewer's account to the clinic whose patients they see."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="staff")

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.user} at {self.clinic}"


# A medical record number as EHRs print them: letters, digits and a few separators.
MRN_MAX_LENGTH = 32
MRN_PATTERN = r"\A[A-Za-z0-9][A-Za-z0-9./-]*\Z"


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"


class Patient(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient",
        help_text="The patient's own log-in, once they have accepted the invitation.",
    )
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    # The clinic's own record number (medical record number), when recorded: the EHR
    # finds the patient by it (FHIR Patient.identifier). Unique within the clinic.
    mrn = models.CharField(
        "MRN",
        max_length=MRN_MAX_LENGTH,
        blank=True,
        validators=[
            RegexValidator(
                MRN_PATTERN,
                message="MRN: use letters, digits and - . / only, starting with a letter "
                "or digit.",
            )
        ],
        help_text="The clinic's medical record number, if it has one (up to "
        f"{MRN_MAX_LENGTH} letters, digits, - . /).",
    )
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices)
    email = models.EmailField(blank=True)
    home_timezone = models.CharField(max_length=64, default="UTC")
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    creatinine_clearance_ml_min = models.DecimalField(
        max_digits=5, decimal_places=1, null=True, blank=True
    )
    serum_creatinine_mg_dl = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True
    )
    pregnancy_trimester = models.PositiveSmallIntegerField(default=0)
    breastfeeding = models.BooleanField(default=False)
    seizure_history = models.BooleanField(default=False)
    cns_depressants = models.JSONField(default=list, blank=True)
    # Kidney function and pregnancy facts the taper engine uses (docs/plan-json.md):
    # height for the bedside Schwartz formula under 18 and adjusted body weight in
    # Cockcroft–Gault; dialysis; the expected delivery date against the plan's end.
    height_cm = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        # The range the engine accepts (taper/intake.py).
        validators=[MinValueValidator(30), MaxValueValidator(250)],
    )
    dialysis = models.BooleanField(default=False)
    expected_delivery_date = models.DateField(null=True, blank=True)
    # Calendar privacy: by default events say "Medication dose", never the drug or dose.
    calendar_detailed_titles = models.BooleanField(default=False)
    calendar_settings_version = models.PositiveIntegerField(default=0)
    calendar_settings_changed_at = models.DateTimeField(null=True, blank=True)
    # When a fact that changes a taper's risk last changed (kidney function, age band,
    # pregnancy, other CNS depressants; planner.continuity.RISK_FACTS): a plan approved
    # before it shows "facts changed since this plan was approved".
    risk_facts_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        indexes = [
            # The dashboard's running plans, a page at a time by name (issue #18).
            models.Index(
                fields=["clinic", "family_name", "given_name", "id"], name="patient_clinic_name"
            ),
            # The dashboard's "facts changed since this plan was approved".
            models.Index(
                fields=["clinic", "risk_facts_changed_at"],
                condition=models.Q(risk_facts_changed_at__isnull=False),
                name="patient_facts_changed",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pregnancy_trimester__lte=3), name="pregnancy_trimester_0_to_3"
            ),
            models.CheckConstraint(
                condition=models.Q(weight_kg__isnull=True) | models.Q(weight_kg__gt=0),
                name="patient_weight_positive",
            ),
            models.UniqueConstraint(
                fields=["clinic", "mrn"],
                condition=~models.Q(mrn=""),
                name="patient_mrn_unique_per_clinic",
                violation_error_message="MRN: another patient of this clinic has this MRN.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"


class CnsDepressant(models.TextChoices):
    OPIOID = "opioid", "Opioid"
    BENZODIAZEPINE = "benzodiazepine", "Benzodiazepine"
    SLEEP_MEDICATION = "sleep_medication", "Sleep medication"
    ALCOHOL = "alcohol", "Alcohol"


class Regimen(models.Model):
    """What the patient takes now, as the clinician entered it for a plan."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="regimens")
    product = models.CharField(max_length=64)
    months_on_therapy = models.PositiveIntegerField()
    # Intrathecal pumps: the pump record as entered (concentration, volumes, dates).
    pump = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Regimen {self.pk} ({self.product})"


class RegimenDose(models.Model):
    regimen = models.ForeignKey(Regimen, on_delete=models.CASCADE, related_name="doses")
    time = models.TimeField()
    amount_mg = models.DecimalField(max_digits=7, decimal_places=2)

    history = HistoricalRecords()

    class Meta:
        ordering = ["time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_mg__gt=0), name="regimen_dose_amount_positive"
            ),
            models.UniqueConstraint(fields=["regimen", "time"], name="regimen_dose_time_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.time:%H:%M}"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_REVIEW = "pending_review", "Pending review"
    APPROVED = "approved", "Approved"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    SUPERSEDED = "superseded", "Superseded"


class TaperPlan(models.Model):
    """A patient's taper of one drug; its schedule lives in its revisions."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="plans")
    drug = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    current_revision = models.OneToOneField(
        "PlanRevision", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Copied from the current revision so the database itself can refuse an active
    # plan that needed review and never got it.
    requires_review = models.BooleanField(default=False)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was last sent to the review queue."
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    # A plan replaced by a newer one keeps running until the day before the new one
    # starts (``runs_until``), so the patient is never left a day without doses; then
    # the dispatcher ends it as superseded.
    replaced_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaces"
    )
    runs_until = models.DateField(null=True, blank=True)
    # The form's one-time key: submitting the same form twice creates one plan.
    submission_key = models.CharField(max_length=64, unique=True, null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "drug"],
                condition=models.Q(status="active", replaced_by__isnull=True),
                name="one_active_plan_per_patient_and_drug",
            ),
            models.CheckConstraint(
                condition=~models.Q(
                    status__in=["approved", "active"],
                    requires_review=True,
                    approved_at__isnull=True,
                ),
                name="reviewed_before_start_when_review_required",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="plan_status_created"),
            # The dashboard's drafts and plans waiting for review or activation (#18).
            models.Index(
                fields=["updated_at"],
                condition=models.Q(status__in=["draft", "pending_review", "approved"]),
                name="plan_waiting_updated",
            ),
        ]

    def __str__(self) -> str:
        return f"Taper plan {self.pk}"

    def resumable_until(self) -> dt.date | None:
        """The last day a finished oral plan may still be held or stepped back, resuming
        the last level taken: its protocol's ``after_end_days`` after the last dosing day
        (withdrawal shows 1 to 3 days after a cut). None for any other plan."""
        revision = self.current_revision
        if self.status != PlanStatus.COMPLETED or revision is None:
            return None
        catalogue = taper.load_catalogue()
        product = catalogue.product(revision.engine_input.get("product", ""))
        if product is None:
            return None
        protocol = catalogue.protocol_for(product, revision.protocol_version)
        if not isinstance(protocol, taper.OralProtocol):
            return None
        return revision.end_date + dt.timedelta(days=protocol.after_end_days.value)

    @property
    def is_pump(self) -> bool:
        """An intrathecal pump plan (its revision's output carries the pump record)."""
        revision = self.current_revision
        return revision is not None and revision.engine_output.get("pump") is not None

    def revisable_on(self, day: dt.date, kind: str | None = None) -> bool:
        """Whether a clinician may revise the plan on ``day`` (in the patient's zone): a
        running plan always; a finished one by a hold or step back until
        ``resumable_until``. A pump plan never: it changes through its wean visits and
        recorded refills. The plan page (continuity.plan_actions) and
        ``services.plan_revise`` both ask this."""
        if self.is_pump:
            return False
        if self.status == PlanStatus.ACTIVE:
            return self.replaced_by_id is None  # a replaced plan ends; revise its successor
        if kind is not None and kind not in (RevisionKind.HOLD, RevisionKind.STEP_BACK):
            return False
        until = self.resumable_until()
        return until is not None and day <= until


class RevisionKind(models.TextChoices):
    INITIAL = "initial", "First version"
    HOLD = "hold", "Hold the current step"
    STEP_BACK = "step_back", "Step back to the last tolerated dose"
    SLOW_DOWN = "slow_down", "Slow the rest of the taper"
    DRAFT_EDIT = "draft_edit", "Draft changed by its author"


class RevisionReview(models.TextChoices):
    NOT_NEEDED = "not_needed", "No review needed"
    PENDING = "pending", "Waiting for review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PlanRevision(models.Model):
    """One version of a plan: exactly what the engine was given and what it returned."""

    plan = models.ForeignKey(TaperPlan, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=RevisionKind.choices)
    regimen = models.ForeignKey(Regimen, on_delete=models.PROTECT, related_name="revisions")
    engine_input = models.JSONField()
    engine_output = models.JSONField()
    protocol_id = models.CharField(max_length=64)
    protocol_version = models.CharField(max_length=32)
    requires_review = models.BooleanField()
    start_date = models.DateField()
    end_date = models.DateField()
    # Revisions keep the past as it was: days before this date come from the previous one.
    effective_from = models.DateField()
    # A revision of a running plan that needs review waits here; the plan keeps running
    # on its current revision until a reviewer approves it.
    review_state = models.CharField(
        max_length=12, choices=RevisionReview.choices, default=RevisionReview.NOT_NEEDED
    )
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="revision_number_unique"),
        ]
        indexes = [
            # Revisions waiting for a reviewer, newest first (the dashboard, issue #18).
            models.Index(
                fields=["created_at"],
                condition=models.Q(review_state="pending"),
                name="revision_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"Plan {self.plan_id} revision {self.number}"


class FlagSeverity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class PlanFlag(models.Model):
    revision = models.ForeignKey(PlanRevision, on_delete=models.CASCADE, related_name="flags")
    code = models.CharField(max_length=64, db_index=True)
    severity = models.CharField(max_length=10, choices=FlagSeverity.choices)
    message = models.TextField()
    source = models.TextField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.code


class ReviewDecision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PlanReview(models.Model):
    """A reviewer's decision on one revision of a plan."""

    revision = models.ForeignKey(PlanRevision, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=ReviewDecision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(decision="rejected", comment=""),
                name="rejection_needs_a_comment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} revision {self.revision_id}"


class AccessAction(models.TextChoices):
    PATIENT_PAGE = "patient_page", "Viewed the patient's page"
    PLAN_PAGE = "plan_page", "Viewed the plan"
    HANDOUT = "handout", "Opened the printable handout"
    PLAN_CALENDAR = "plan_calendar", "Downloaded the plan's calendar"
    REVIEW_PAGE = "review_page", "Opened the plan for review"
    DOSE_HISTORY = "dose_history", "Viewed the dose history"
    DOSE_HISTORY_CSV = "dose_history_csv", "Downloaded the dose history (CSV)"
    FHIR_EXPORT = "fhir_export", "Exported the plan as FHIR"
    API_READ = "api_read", "Read through the API"


class AccessLogEntry(models.Model):
    """Who looked at which patient's records, and when (append-only)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="access_log")
    plan = models.ForeignKey(
        TaperPlan, on_delete=models.PROTECT, null=True, blank=True, related_name="access_log"
    )
    action = models.CharField(max_length=24, choices=AccessAction.choices)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "access log entries"
        indexes = [models.Index(fields=["plan", "-at"]), models.Index(fields=["patient", "-at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.at:%Y-%m-%d %H:%M})"


class AlertEventKind(models.TextChoices):
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    NOTE = "note", "Note"
    CLOSED = "closed", "Closed"
    ESCALATED = "escalated", "Escalated to reviewers"


class AlertEvent(models.Model):
    """What the clinic did about an abrupt-stop alert, with who and when: acknowledged,
    annotated ("called patient, restarted 10 mg"), closed, or escalated to reviewers
    because it stayed open past the clinic's threshold (reminders.alerts). Append-only."""

    alert = models.ForeignKey(
        "reminders.AbruptStopAlert", on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(max_length=16, choices=AlertEventKind.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for what the system did (an escalation).",
    )
    text = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            # An alert is acknowledged, closed and escalated once; notes are many.
            models.UniqueConstraint(
                fields=["alert", "kind"],
                condition=models.Q(kind__in=["acknowledged", "closed", "escalated"]),
                name="alert_event_once_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} (alert {self.alert_id})"


class DoseStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Due"
    TAKEN = "taken", "Taken"
    SKIPPED = "skipped", "Skipped"
    MISSED = "missed", "Missed"
    CANCELLED = "cancelled", "Cancelled"


# A dose may be confirmed a little before its time (taken with breakfast at 07:45).
DOSE_EARLY_ANSWER = dt.timedelta(hours=2)


class DoseState(models.TextChoices):
    """What the patient may do with a dose at a given moment (Dose.state_at)."""

    LATER = "later", "Not yet due"
    DUE = "due", "Due: take or skip"
    CATCH_UP = "catch_up", "Late: take it now or skip it"
    MISSED = "missed", "Too late: missed"
    TAKEN = "taken", "Taken"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Withdrawn"


# "Remind me again in …" (issue #17): the patient's choices, not a clinical number; a
# snooze never reminds after the dose's catch-up window (Dose.snooze_options).
SNOOZE_MINUTES = (30, 60)

# The answers each state allows: one table for the Today page's buttons, the e-mail
# action pages and planner.doses.dose_record.
DOSE_ANSWERS: dict[str, frozenset[str]] = {
    DoseState.DUE: frozenset({DoseStatus.TAKEN, DoseStatus.SKIPPED}),
    DoseState.CATCH_UP: frozenset({DoseStatus.TAKEN, DoseStatus.SKIPPED}),
}


class Dose(models.Model):
    """One dose of an active plan: the plan's frozen schedule and the dose log. Written
    from the approved revision by planner.doses; reminders reads it and delivers."""

    plan = models.ForeignKey("planner.TaperPlan", on_delete=models.CASCADE, related_name="doses")
    revision = models.ForeignKey(
        "planner.PlanRevision", on_delete=models.PROTECT, related_name="doses"
    )
    local_date = models.DateField()
    local_time = models.TimeField()
    timezone = models.CharField(max_length=64)
    due_at = models.DateTimeField()
    catch_up_until = models.DateTimeField()
    amount_mg = models.DecimalField(max_digits=7, decimal_places=2)
    units_text = models.CharField(max_length=100, blank=True)  # "1 × 10 mg + ½ × 5 mg"
    # What the dose is for in the patient's day (morning … bedtime, night): the cut order's
    # role from the approved revision (taper/schedule.py dose_roles).
    role = models.CharField(max_length=12, blank=True)
    # What the patient takes, as approved (planner.schedule.ApprovedPlan.what_to_take):
    # {"product", "units", "changes_today"}. Written with the dose, so a reminder says the
    # amount without reading the revision's whole stored output (70 kB for 12 weeks, a
    # JSON parse per reminder: issue #17). Null on doses written before it existed; those
    # read the revision.
    what_to_take = models.JSONField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=DoseStatus.choices, default=DoseStatus.SCHEDULED
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table keeps the name it had when the dose log lived in reminders.
        db_table = "reminders_dose"
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "local_date", "local_time"],
                condition=~models.Q(status="cancelled"),
                name="one_live_dose_per_plan_slot",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_mg__gt=0), name="dose_amount_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["plan", "due_at"], name="dose_plan_due"),
            # The missed-dose sweep (reminders.dispatch.doses_mark_missed).
            models.Index(
                fields=["catch_up_until"],
                condition=models.Q(status="scheduled"),
                name="dose_scheduled_catch_up",
            ),
            # Plans with recent missed doses (reminders.dispatch.alerts_check_unconfirmed).
            models.Index(
                fields=["due_at"], condition=models.Q(status="missed"), name="dose_missed_due"
            ),
            # Has this plan a missed dose in the last 24 h? (the dashboard's running plans,
            # issue #18: the whole dose log of each plan was read to answer it).
            models.Index(
                fields=["plan", "due_at"],
                condition=models.Q(status="missed"),
                name="dose_missed_plan",
            ),
        ]

    def __str__(self) -> str:
        return f"Dose {self.pk}"

    def state_at(self, now: dt.datetime) -> DoseState:
        """What the patient may do with this dose at `now`: not yet (more than
        DOSE_EARLY_ANSWER before it), due (until its time), catch-up (late, until its
        catch-up window closes), too late (missed), or already answered / withdrawn."""
        if self.status != DoseStatus.SCHEDULED:
            return DoseState(str(self.status))
        if now > self.catch_up_until:
            return DoseState.MISSED
        if now < self.due_at - DOSE_EARLY_ANSWER:
            return DoseState.LATER
        if now <= self.due_at:
            return DoseState.DUE
        return DoseState.CATCH_UP

    def answers_at(self, now: dt.datetime) -> frozenset[str]:
        """The answers ("taken", "skipped") the patient may give at `now`."""
        return DOSE_ANSWERS.get(self.state_at(now), frozenset())

    @property
    def follow_up_at(self) -> dt.datetime:
        """When the second nudge goes out if the dose is still unanswered: halfway
        through its catch-up window (the window the approved plan stored for it)."""
        return self.due_at + (self.catch_up_until - self.due_at) / 2

    def snooze_options(self, now: dt.datetime) -> tuple[int, ...]:
        """The snoozes (minutes) the patient may ask for at `now`: once the dose is due
        and still unanswered, only those that remind before its window closes."""
        if not self.answers_at(now) or now < self.due_at:
            return ()
        return tuple(
            minutes for minutes in SNOOZE_MINUTES
            if now + dt.timedelta(minutes=minutes) <= self.catch_up_until
        )


class SupplyDispensed(models.Model):
    """What the clinic dispensed for an oral plan: one strength of one product (or its
    liquid), how much, on which day. Until one is recorded the plan's own dispensing list
    counts as handed over on its first day (taper.supply); once any is recorded, only
    the recorded ones count."""

    plan = models.ForeignKey(TaperPlan, on_delete=models.CASCADE, related_name="dispensed")
    product = models.CharField(max_length=64)
    # None: the product's liquid, counted in mL.
    strength_mg = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    quantity = models.DecimalField(
        max_digits=8, decimal_places=2, help_text="Whole tablets or capsules, or mL."
    )
    dispensed_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["dispensed_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="supply_dispensed_quantity_positive"
            )
        ]

    def __str__(self) -> str:
        return f"Supply dispensed {self.pk}"
