"""Writes for the clinician workflow. Views, the admin and commands call these;
each is one transaction and checks its own rules, whatever page called it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, update_change_reason

import taper
from planner import continuity, doses, patient_words, signals
from planner.audit import records_by, update_with_history
from planner.engine_input import patient_facts
from planner.models import (
    Clinic,
    Patient,
    PlanFlag,
    PlanReview,
    PlanRevision,
    PlanStatus,
    Regimen,
    RegimenDose,
    ReviewDecision,
    RevisionKind,
    RevisionReview,
    TaperPlan,
)


class PlanStateError(ValidationError):
    """The plan is not in a state that allows this step."""


class StaleReviewError(PlanStateError):
    """The reviewer decided on a version that is no longer the one waiting for review."""


def _require_seen(revision: PlanRevision, seen_revision_id: int | None) -> None:
    """Four eyes on the content, not only on the plan: a decision counts for the version
    the reviewer looked at (the review page sends its id), never for one written since."""
    if seen_revision_id is not None and seen_revision_id != revision.pk:
        raise StaleReviewError(
            "This plan changed after you opened it. Look at it again before deciding."
        )


@records_by
@transaction.atomic
def patient_create(*, clinic: Clinic, data: dict[str, Any], by: User | None = None) -> Patient:
    patient = Patient(clinic=clinic, **data)
    patient.full_clean()
    patient.save()
    return patient


@records_by
@transaction.atomic
def patient_update(
    *, patient: Patient, data: dict[str, Any], by: User | None = None
) -> Patient:
    old_zone = patient.home_timezone
    today = continuity.patient_today(patient.home_timezone, timezone.now())
    facts_before = continuity.risk_facts(patient_facts(patient, today, 0))
    for key, value in data.items():
        setattr(patient, key, value)
    patient.full_clean()
    if continuity.risk_facts(patient_facts(patient, today, 0)) != facts_before:
        patient.risk_facts_changed_at = timezone.now()
    patient.save()
    if patient.home_timezone != old_zone:
        # Doses and reminders keep their wall-clock times in the new home zone.
        doses.patient_doses_rezone(
            patient_id=patient.pk, old_zone=old_zone, zone=patient.home_timezone,
            now=timezone.now(),
        )
    return patient


def _regimen_create(*, patient: Patient, by: User, engine_input: dict[str, Any]) -> Regimen:
    regimen = Regimen.objects.create(
        patient=patient,
        product=engine_input["product"],
        months_on_therapy=engine_input["patient"]["months_on_therapy"],
        pump=engine_input.get("pump"),
        created_by=by,
    )
    bulk_create_with_history(
        [
            RegimenDose(
                regimen=regimen,
                time=dt.time.fromisoformat(dose["time"]),
                amount_mg=Decimal(str(dose["amount_mg"])),
            )
            for dose in engine_input.get("doses", [])
        ],
        RegimenDose,
        default_user=by,
    )
    return regimen


def _revision_create(
    *,
    plan: TaperPlan,
    regimen: Regimen,
    by: User,
    kind: RevisionKind,
    engine_input: dict[str, Any],
    engine_plan: taper.TaperPlan,
    effective_from: dt.date,
    note: str = "",
) -> PlanRevision:
    number = plan.revisions.count() + 1
    output = taper.plan_to_json(engine_plan)
    # The version is part of what was approved: every later re-plan of this input (a
    # revision, a zone change) uses it, whatever newer version has shipped since.
    engine_input = {**engine_input, "protocol_version": engine_plan.protocol_version}
    revision = PlanRevision.objects.create(
        plan=plan,
        number=number,
        kind=kind,
        regimen=regimen,
        engine_input=engine_input,
        engine_output=output,
        protocol_id=engine_plan.protocol_id,
        protocol_version=engine_plan.protocol_version,
        requires_review=engine_plan.requires_review,
        start_date=engine_plan.start_date,
        end_date=engine_plan.end_date,
        effective_from=effective_from,
        note=note,
        created_by=by,
    )
    bulk_create_with_history(
        [
            PlanFlag(
                revision=revision,
                code=flag.code,
                severity=flag.severity,
                message=flag.message,
                source=flag.source,
            )
            for flag in engine_plan.flags
        ],
        PlanFlag,
        default_user=by,
    )
    if kind in (RevisionKind.INITIAL, RevisionKind.DRAFT_EDIT):
        plan.current_revision = revision
        plan.requires_review = _needs_review(plan, engine_plan)
    return revision


def _needs_review(plan: TaperPlan, engine_plan: taper.TaperPlan) -> bool:
    return engine_plan.requires_review or plan.patient.clinic.require_review_for_all_plans


def plan_create(
    *,
    patient: Patient,
    by: User,
    engine_input: dict[str, Any],
    submission_key: str | None = None,
) -> TaperPlan:
    """Save a new draft plan from an engine input that the form has already planned.

    The engine is run again here so that what is stored is exactly what the engine
    returns for the stored input, whoever called this.
    """
    plan, _ = plan_create_once(
        patient=patient, by=by, engine_input=engine_input, submission_key=submission_key
    )
    return plan


@records_by
def plan_create_once(
    *,
    patient: Patient,
    by: User,
    engine_input: dict[str, Any],
    submission_key: str | None = None,
) -> tuple[TaperPlan, bool]:
    """plan_create, saying whether this call made the plan (True) or found the one an
    earlier or concurrent call with the same one-time key made (False). Of any number
    of concurrent calls with one key exactly one makes it: the key is unique in the
    database, and the losers of the race read the winner's plan."""
    engine_plan = taper.plan(taper.parse_request(engine_input))
    if submission_key:
        existing = _plan_submitted_with(submission_key, patient)
        if existing is not None:
            return existing, False
    _require_start_not_past(engine_plan.start_date, patient.home_timezone)
    try:
        with transaction.atomic():
            regimen = _regimen_create(patient=patient, by=by, engine_input=engine_input)
            plan = TaperPlan.objects.create(
                patient=patient,
                drug=engine_plan.request.product.drug,
                created_by=by,
                submission_key=submission_key or None,
            )
            _revision_create(
                plan=plan,
                regimen=regimen,
                by=by,
                kind=RevisionKind.INITIAL,
                engine_input=engine_input,
                engine_plan=engine_plan,
                effective_from=engine_plan.start_date,
            )
            plan.save()
    except IntegrityError:
        # A double submission raced this one past the check above.
        if submission_key:
            raced = _plan_submitted_with(submission_key, patient)
            if raced is not None:
                return raced, False
        raise
    return plan, True


def _plan_submitted_with(submission_key: str, patient: Patient) -> TaperPlan | None:
    """The plan a form with this one-time key already created (a double submission),
    or None. A key already used for another patient is a replayed form: refused."""
    existing = TaperPlan.objects.filter(submission_key=submission_key).first()
    if existing is not None and existing.patient_id != patient.pk:
        raise ValidationError(
            {"submission_key": "This form was already used for another patient. "
             "Open the new plan page again."}
        )
    return existing


@records_by
@transaction.atomic
def plan_draft_update(
    *, plan: TaperPlan, by: User, engine_input: dict[str, Any], note: str = ""
) -> PlanRevision:
    """Change a draft (typically one a reviewer sent back): a new revision, so the reviewer
    sees what changed against the version they rejected."""
    plan = TaperPlan.objects.select_for_update().select_related("patient__clinic").get(pk=plan.pk)
    _require_status(plan, PlanStatus.DRAFT)
    engine_plan = taper.plan(taper.parse_request(engine_input))
    _require_start_not_past(engine_plan.start_date, plan.patient.home_timezone)
    if engine_plan.request.product.drug != plan.drug:
        raise ValidationError({"product": "A plan keeps its drug; start a new plan instead."})
    regimen = _regimen_create(patient=plan.patient, by=by, engine_input=engine_input)
    revision = _revision_create(
        plan=plan,
        regimen=regimen,
        by=by,
        kind=RevisionKind.DRAFT_EDIT,
        engine_input=engine_input,
        engine_plan=engine_plan,
        effective_from=engine_plan.start_date,
        note=note.strip(),
    )
    plan.save()
    return revision


def _require_start_not_past(start: dt.date, zone: str) -> None:
    refusal = continuity.start_refusal(start, zone, timezone.now())
    if refusal is not None:
        raise ValidationError({"start_date": refusal})


def _require_status(plan: TaperPlan, *allowed: PlanStatus) -> None:
    if plan.status not in allowed:
        names = ", ".join(str(PlanStatus(s).label).lower() for s in allowed)
        raise PlanStateError(
            f"This plan is {PlanStatus(plan.status).label.lower()}; this needs it to be {names}."
        )


@records_by
@transaction.atomic
def plan_submit(*, plan: TaperPlan, by: User) -> TaperPlan:
    """Send a draft to the review queue when its flags (or the clinic) require review."""
    plan = TaperPlan.objects.select_for_update().get(pk=plan.pk)
    _require_status(plan, PlanStatus.DRAFT)
    replacement = continuity.replacement_for(plan)
    if replacement is not None and replacement.cut_too_large:
        plan.requires_review = True  # the replacement's cut, not only the plan's flags
    if not plan.requires_review:
        raise PlanStateError("This plan needs no review; it can be activated directly.")
    plan.status = PlanStatus.PENDING_REVIEW
    plan.submitted_at = timezone.now()
    plan.save(update_fields=["status", "submitted_at", "requires_review", "updated_at"])
    assert plan.current_revision is not None
    signals.review_requested.send(
        sender=TaperPlan, plan=plan, revision=plan.current_revision, by=by
    )
    return plan


@records_by
@transaction.atomic
def plan_activate(*, plan: TaperPlan, by: User) -> TaperPlan:
    """Start the plan: its approved doses from now on become the patient's schedule and
    reminders. Needs approval when review is required.

    Continuity (planner.continuity): a plan whose first day has passed is refused; a
    running plan of the same medicine keeps every dose up to the day before this plan's
    first day, then ends as superseded, and the patient is told; a replacement that cuts
    the daily dose overnight by more than the protocol's largest cut needs a reviewer's
    approval."""
    plan = (
        TaperPlan.objects.select_for_update(of=("self",))
        .select_related("patient", "current_revision")
        .get(pk=plan.pk)
    )
    if plan.requires_review:
        _require_status(plan, PlanStatus.APPROVED)
    else:
        _require_status(plan, PlanStatus.DRAFT, PlanStatus.APPROVED)
    revision = plan.current_revision
    assert revision is not None
    now = timezone.now()
    zone = plan.patient.home_timezone
    today = continuity.patient_today(zone, now)
    replacement = continuity.replacement_for(plan)
    refusal = continuity.activation_refusal(plan, now, replacement)
    if refusal is not None:
        raise PlanStateError(refusal)
    if replacement is not None:
        _running_plans_end_before(plan, replacement, by=by, now=now, today=today)
    plan.status = PlanStatus.ACTIVE
    plan.activated_at = now
    plan.save(update_fields=["status", "activated_at", "updated_at"])
    doses.plan_doses_schedule(revision=revision, not_before=now)
    return plan


def _running_plans_end_before(
    plan: TaperPlan,
    replacement: continuity.Replacement,
    *,
    by: User,
    now: dt.datetime,
    today: dt.date,
) -> None:
    """The plans ``plan`` replaces keep every dose before its first day (and any dose
    already due, when it starts today); the dispatcher supersedes them after their last
    day, and one that had not started yet is superseded at once. The patient is told
    when the new plan starts and what to take until then."""
    zone = plan.patient.home_timezone
    first_day = replacement.first_day
    cut_from = max(continuity.local_midnight(first_day, zone), now)
    for running in TaperPlan.objects.select_for_update(of=("self",)).filter(
        pk__in=[other.pk for other in replacement.running]
    ).select_related("current_revision"):
        doses.plan_doses_cancel(plan_id=running.pk, from_time=cut_from)
        running.replaced_by = plan
        running.runs_until = replacement.last_running_day
        fields = ["replaced_by", "runs_until", "updated_at"]
        assert running.current_revision is not None
        if running.current_revision.start_date >= first_day:
            # A plan that was to start later is replaced before it starts: it never runs.
            running.status = PlanStatus.SUPERSEDED
            fields.append("status")
        # Otherwise it stays active (its doses still due are still reminded and
        # watched) until the dispatcher ends it as superseded after its last day.
        _pending_revisions_close(running, by=by, reason="a new taper replaces the plan")
        running.save(update_fields=fields)
        update_change_reason(running, f"replaced by plan {plan.pk} from {first_day}")
    signals.plan_replaced.send(
        sender=TaperPlan,
        plan=plan,
        key=f"replaces-{first_day}",
        due_at=now,
        context={
            "starts_on": first_day.isoformat(),
            "last_day": replacement.last_running_day.isoformat(),
            "continues": first_day > today,
        },
    )


@records_by
@transaction.atomic
def plan_cancel(*, plan: TaperPlan, by: User, reason: str) -> TaperPlan:
    """Stop a plan. Stopping an active plan without a taper is an abrupt stop: it needs
    a recorded reason and it is flagged."""
    plan = TaperPlan.objects.select_for_update().get(pk=plan.pk)
    _require_status(
        plan, PlanStatus.DRAFT, PlanStatus.PENDING_REVIEW, PlanStatus.APPROVED, PlanStatus.ACTIVE
    )
    reason = reason.strip()
    was_active = plan.status == PlanStatus.ACTIVE
    if was_active and not reason:
        raise ValidationError({"reason": "Record why the taper is being stopped."})
    plan.status = PlanStatus.CANCELLED
    plan.cancelled_at = timezone.now()
    plan.cancel_reason = reason
    plan.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
    _pending_revisions_close(plan, by=by, reason="the plan was cancelled")
    if was_active and _replaced_plans_restore(plan, by=by, now=plan.cancelled_at):
        # Cancelled before its first day: the plan it was to replace simply goes on.
        doses.plan_doses_cancel(plan_id=plan.pk, from_time=plan.cancelled_at)
    elif was_active:
        assert plan.current_revision is not None
        PlanFlag.objects.create(
            revision=plan.current_revision,
            code="ABRUPT_STOP",
            severity="critical",
            message="The active taper was cancelled without a replacement taper: an abrupt stop. "
            "Watch for withdrawal (hallucinations, seizures, high fever, rebound spasticity).",
            source="baclofen monograph, Stopping: never abruptly",
        )
        doses.plan_doses_cancel(plan_id=plan.pk, from_time=plan.cancelled_at)
    return plan


def _replaced_plans_restore(plan: TaperPlan, *, by: User, now: dt.datetime) -> bool:
    """A replacement cancelled before its first day gives the plans it was to replace
    back their doses from that day on (until a plan that was to follow the cancelled one
    starts, if any), and the patient is told: cancelling a plan that never started must
    not stop the one that runs. True when it restored any."""
    revision = plan.current_revision
    assert revision is not None
    first_day = revision.start_date
    if first_day <= continuity.patient_today(plan.patient.home_timezone, now):
        return False
    restored = False
    for running in TaperPlan.objects.select_for_update(of=("self",)).filter(
        replaced_by=plan, status=PlanStatus.ACTIVE
    ).select_related("current_revision"):
        # It runs again until whatever was to follow the cancelled plan starts, if any.
        running.replaced_by = plan.replaced_by
        running.runs_until = plan.runs_until
        running.save(update_fields=["replaced_by", "runs_until", "updated_at"])
        update_change_reason(running, f"plan {plan.pk}, which was to replace it, was cancelled")
        assert running.current_revision is not None
        doses.plan_doses_schedule(
            revision=running.current_revision, not_before=now, from_date=first_day
        )
        signals.plan_revised.send(
            sender=TaperPlan,
            plan=running,
            key=f"replacement-{plan.pk}-cancelled",
            due_at=now,
            context={
                "effective_from": first_day.isoformat(),
                "change": "the new plan that was to start then is cancelled; "
                "keep taking your current plan as it is",
                "change_kind": "replacement_cancelled",
            },
        )
        restored = True
    return restored


def _pending_revisions_close(plan: TaperPlan, *, by: User, reason: str) -> None:
    """A plan that stops running takes its revision waiting for review with it: nobody
    is left a decision on a plan that no longer runs."""
    update_with_history(
        plan.revisions.filter(review_state=RevisionReview.PENDING),
        reason=f"Withdrawn from review: {reason}.",
        user=by,
        review_state=RevisionReview.REJECTED,
    )


def ensure_same_clinic(user: User, patient: Patient) -> None:
    staff = getattr(user, "staff", None)
    if staff is None or staff.clinic_id != patient.clinic_id:
        raise PermissionDenied


@records_by
@transaction.atomic
def plan_approve(
    *, plan: TaperPlan, by: User, seen_revision_id: int | None = None
) -> TaperPlan:
    """A reviewer approves a plan in the queue. Nobody approves a plan they wrote."""
    plan = TaperPlan.objects.select_for_update().get(pk=plan.pk)
    _require_status(plan, PlanStatus.PENDING_REVIEW)
    assert plan.current_revision is not None
    _require_seen(plan.current_revision, seen_revision_id)
    if by.pk in (plan.created_by_id, plan.current_revision.created_by_id):
        raise PermissionDenied("A plan must be approved by someone other than its author.")
    plan.status = PlanStatus.APPROVED
    plan.approved_at = timezone.now()
    plan.approved_by = by
    plan.save(update_fields=["status", "approved_at", "approved_by", "updated_at"])
    review = PlanReview.objects.create(
        revision=plan.current_revision, reviewer=by, decision=ReviewDecision.APPROVED
    )
    signals.review_decided.send(sender=TaperPlan, plan=plan, review=review)
    return plan


@records_by
@transaction.atomic
def plan_reject(
    *, plan: TaperPlan, by: User, comment: str, seen_revision_id: int | None = None
) -> TaperPlan:
    """A reviewer sends a plan back to its author as a draft, with a required comment."""
    plan = TaperPlan.objects.select_for_update().get(pk=plan.pk)
    _require_status(plan, PlanStatus.PENDING_REVIEW)
    assert plan.current_revision is not None
    _require_seen(plan.current_revision, seen_revision_id)
    if by.pk in (plan.created_by_id, plan.current_revision.created_by_id):
        raise PermissionDenied("A plan must be reviewed by someone other than its author.")
    if not comment.strip():
        raise ValidationError({"comment": "Say why the plan is rejected."})
    plan.status = PlanStatus.DRAFT
    plan.save(update_fields=["status", "updated_at"])
    review = PlanReview.objects.create(
        revision=plan.current_revision,
        reviewer=by,
        decision=ReviewDecision.REJECTED,
        comment=comment.strip(),
    )
    signals.review_decided.send(sender=TaperPlan, plan=plan, review=review)
    return plan


@records_by
def review_decide(
    *, plan: TaperPlan, by: User, approve: bool, comment: str = "",
    seen_revision_id: int | None = None,
) -> None:
    """A reviewer's decision on whatever of this plan waits for review: the plan itself
    (in the queue) or a revision of the running plan; only if it is still the version
    the reviewer saw (`seen_revision_id`)."""
    status = TaperPlan.objects.filter(pk=plan.pk).values_list("status", flat=True).get()
    seen = {"seen_revision_id": seen_revision_id}
    if status == PlanStatus.PENDING_REVIEW:
        if approve:
            plan_approve(plan=plan, by=by, **seen)
        else:
            plan_reject(plan=plan, by=by, comment=comment, **seen)
    elif approve:
        revision_approve(plan=plan, by=by, **seen)
    else:
        revision_reject(plan=plan, by=by, comment=comment, **seen)


REVISION_FIELDS = {"from_date": "from_date", "days": "days"}


def _local_midnight(day: dt.date, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone))


@records_by
@transaction.atomic
def plan_revise(
    *,
    plan: TaperPlan,
    by: User,
    kind: RevisionKind,
    from_date: dt.date,
    days: int | None = None,
    note: str = "",
) -> PlanRevision:
    """Hold, step back or slow down a running plan from a date on. Days before it stay
    as they were. A revision whose flags (or the clinic) need review waits for a
    reviewer while the plan keeps running as it is."""
    plan = TaperPlan.objects.select_for_update().select_related("patient__clinic").get(pk=plan.pk)
    today = timezone.now().astimezone(ZoneInfo(plan.patient.home_timezone)).date()
    if kind == RevisionKind.INITIAL:
        raise ValidationError({"kind": "Choose hold, step back or slow down."})
    if not plan.revisable_on(today, kind):
        until = plan.resumable_until()
        if until is not None and today > until:
            raise PlanStateError(
                f"This plan is completed: a hold or step back could resume it until {until}. "
                "Make a new plan instead."
            )
        if until is not None:
            raise PlanStateError(
                f"This plan has ended: only a hold or a step back can resume it, up to {until}."
            )
        _require_status(plan, PlanStatus.ACTIVE)
    if plan.replaced_by_id is not None:
        raise PlanStateError(
            f"Plan {plan.replaced_by_id} replaces this plan from {plan.runs_until}: "
            "revise that one instead."
        )
    if plan.revisions.filter(review_state=RevisionReview.PENDING).exists():
        raise PlanStateError("A revision of this plan is already waiting for review.")
    if (
        plan.status == PlanStatus.COMPLETED
        and TaperPlan.objects.filter(
            patient_id=plan.patient_id, drug=plan.drug, status=PlanStatus.ACTIVE
        ).exists()
    ):
        raise PlanStateError(
            "Another plan of this medicine is running for the patient: revise that one."
        )
    current = plan.current_revision
    assert current is not None
    if from_date < today:
        raise ValidationError(
            {"from_date": "Choose today or a later day: days already past stay as they were."}
        )
    entry: dict[str, Any] = {"kind": str(kind), "from_date": from_date.isoformat()}
    if kind == RevisionKind.HOLD:
        entry["days"] = days
    engine_input = {
        **current.engine_input,
        "revisions": [*current.engine_input.get("revisions", []), entry],
    }
    try:
        engine_plan = taper.plan(taper.parse_request(engine_input))
    except taper.InvalidPlanInput as refusal:
        errors: dict[str, list[str]] = {}
        for key, messages in refusal.errors.items():
            field = REVISION_FIELDS.get(key.rsplit(".", 1)[-1], "__all__")
            errors.setdefault(field, []).extend(messages)
        raise ValidationError(errors) from None
    revision = _revision_create(
        plan=plan,
        regimen=current.regimen,
        by=by,
        kind=kind,
        engine_input=engine_input,
        engine_plan=engine_plan,
        effective_from=from_date,
        note=note.strip(),
    )
    if _needs_review(plan, engine_plan):
        revision.review_state = RevisionReview.PENDING
        revision.save(update_fields=["review_state"])
        signals.review_requested.send(sender=TaperPlan, plan=plan, revision=revision, by=by)
    else:
        _revision_put_in_force(plan, revision)
    return revision


def _revision_put_in_force(plan: TaperPlan, revision: PlanRevision) -> None:
    """The revision's doses replace the old ones from its first day on, and the patient
    is told what changed."""
    now = timezone.now()
    start = _local_midnight(revision.effective_from, plan.patient.home_timezone)
    doses.plan_doses_cancel(plan_id=plan.pk, from_time=max(start, now))
    # What changed, as a code and numbers, for the patient's message in their language.
    change_facts = patient_words.revision_change_facts(
        plan.current_revision.engine_output if plan.current_revision is not None else {},
        revision.engine_output,
        revision.engine_input,
    )
    plan.current_revision = revision
    fields = ["current_revision", "updated_at"]
    if plan.status == PlanStatus.COMPLETED:
        # A hold or step back after the last dosing day resumes the finished plan.
        plan.status = PlanStatus.ACTIVE
        fields.append("status")
    plan.save(update_fields=fields)
    doses.plan_doses_schedule(
        revision=revision, not_before=now, from_date=revision.effective_from
    )
    change = next(
        (f["message"] for f in reversed(revision.engine_output["flags"]) if f["code"] == "REVISED"),
        revision.get_kind_display(),
    )
    signals.plan_revised.send(
        sender=TaperPlan,
        plan=plan,
        key=f"revised-{revision.number}",
        due_at=now,
        context={
            "effective_from": revision.effective_from.isoformat(),
            "change": change,
            **change_facts,
        },
    )


def _pending_revision(plan: TaperPlan) -> PlanRevision:
    revision = plan.revisions.filter(review_state=RevisionReview.PENDING).first()
    if revision is None:
        raise PlanStateError("No revision of this plan is waiting for review.")
    return revision


@records_by
@transaction.atomic
def revision_approve(
    *, plan: TaperPlan, by: User, seen_revision_id: int | None = None
) -> PlanRevision:
    plan = TaperPlan.objects.select_for_update().select_related("patient").get(pk=plan.pk)
    _require_status(plan, PlanStatus.ACTIVE, PlanStatus.COMPLETED)
    revision = _pending_revision(plan)
    _require_seen(revision, seen_revision_id)
    if by.pk == revision.created_by_id:
        raise PermissionDenied("A revision must be approved by someone other than its author.")
    revision.review_state = RevisionReview.APPROVED
    revision.save(update_fields=["review_state"])
    review = PlanReview.objects.create(
        revision=revision, reviewer=by, decision=ReviewDecision.APPROVED
    )
    _revision_put_in_force(plan, revision)
    signals.review_decided.send(sender=TaperPlan, plan=plan, review=review)
    return revision


@records_by
@transaction.atomic
def revision_reject(
    *, plan: TaperPlan, by: User, comment: str, seen_revision_id: int | None = None
) -> PlanRevision:
    plan = TaperPlan.objects.select_for_update().get(pk=plan.pk)
    _require_status(plan, PlanStatus.ACTIVE, PlanStatus.COMPLETED)
    revision = _pending_revision(plan)
    _require_seen(revision, seen_revision_id)
    if by.pk == revision.created_by_id:
        raise PermissionDenied("A revision must be reviewed by someone other than its author.")
    if not comment.strip():
        raise ValidationError({"comment": "Say why the revision is rejected."})
    revision.review_state = RevisionReview.REJECTED
    revision.save(update_fields=["review_state"])
    review = PlanReview.objects.create(
        revision=revision, reviewer=by, decision=ReviewDecision.REJECTED, comment=comment.strip()
    )
    signals.review_decided.send(sender=TaperPlan, plan=plan, review=review)
    return revision


@records_by
def plan_replan_with_current_facts(*, plan: TaperPlan, by: User) -> TaperPlan:
    """The one-click answer to "facts changed since this plan was approved": a new draft
    plan that starts tomorrow from the level the running plan gives that day, with the
    same goal and pace and the patient's facts as they are now. Activating it replaces
    the running plan without a gap (plan_activate); the running plan is never silently
    recomputed."""
    plan = TaperPlan.objects.select_related("patient", "current_revision").get(pk=plan.pk)
    _require_status(plan, PlanStatus.ACTIVE)
    revision = plan.current_revision
    assert revision is not None
    start = continuity.patient_today(plan.patient.home_timezone, timezone.now()) + dt.timedelta(
        days=1
    )
    doses = continuity.planned_doses(revision.engine_output, start)
    if not doses:
        raise PlanStateError(
            "The running plan gives no doses from tomorrow on: there is nothing to re-plan."
        )
    then = revision.engine_input
    engine_input: dict[str, Any] = {
        key: then[key] for key in ("product", "goal", "pace", "timezone") if key in then
    }
    engine_input.update(
        doses=doses,
        start_date=start.isoformat(),
        timezone=plan.patient.home_timezone,
        patient=patient_facts(
            plan.patient, start, then.get("patient", {}).get("months_on_therapy", 0)
        ),
    )
    try:
        return plan_create(patient=plan.patient, by=by, engine_input=engine_input)
    except taper.InvalidPlanInput as refusal:
        raise ValidationError(
            [message for messages in refusal.errors.values() for message in messages]
        ) from None


@transaction.atomic
def plans_complete(*, now: dt.datetime) -> int:
    """Oral plans whose last dosing day has passed everywhere (a full day ago in UTC)
    become completed, and plans a newer plan replaced become superseded once their last
    day (``runs_until``) has passed (planner.tasks.complete_plans, every minute). Pump
    plans stay active: the pump goes on after a wean. A plan that a newer one replaced is
    superseded, never completed. Safe to run twice at once (compare-and-set updates)."""
    passed = now.date() - dt.timedelta(days=1)
    superseded = update_with_history(
        TaperPlan.objects.filter(
            status=PlanStatus.ACTIVE, replaced_by__isnull=False, runs_until__lt=passed
        ),
        reason="replaced by a newer plan, which has started",
        status=PlanStatus.SUPERSEDED,
        updated_at=now,
    )
    finished = TaperPlan.objects.filter(
        status=PlanStatus.ACTIVE,
        replaced_by__isnull=True,
        current_revision__end_date__lt=passed,
        current_revision__regimen__pump__isnull=True,
    ).exclude(
        # A reduce-to-target plan goes on at its maintenance dose until it is ended or
        # replaced (planner.schedule.maintenance doses).
        current_revision__engine_output__maintenance__daily_total_mg__isnull=False
    )
    return superseded + update_with_history(
        finished, reason="last dosing day passed", status=PlanStatus.COMPLETED, updated_at=now
    )


@transaction.atomic
def plan_pump_refilled(*, plan: TaperPlan, note: str, now: dt.datetime) -> None:
    """A pump refill was recorded (reminders.refills.refill_record): the plan's history
    says so (``note``, with the next due date) and the patient's calendar feed moves on
    (its version and Last-Modified), so calendars fetch the moved refill event. The plan
    and patient rows are planner's: the reminder app asks for this, it does not write them."""
    Patient.objects.filter(pk=plan.patient_id).update(
        calendar_settings_version=F("calendar_settings_version") + 1,
        calendar_settings_changed_at=now,
    )
    plan._change_reason = note  # type: ignore[attr-defined]  # read by django-simple-history
    plan.save(update_fields=["updated_at"])
