"""Writes for the clinician workflow. Views, the admin and commands call these;
each is one transaction and checks its own rules, whatever page called it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

import taper
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
    TaperPlan,
)
from reminders import services as reminder_services


class PlanStateError(ValidationError):
    """The plan is not in a state that allows this step."""


@transaction.atomic
def patient_create(*, clinic: Clinic, data: dict[str, Any]) -> Patient:
    patient = Patient(clinic=clinic, **data)
    patient.full_clean()
    patient.save()
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, data: dict[str, Any]) -> Patient:
    for key, value in data.items():
        setattr(patient, key, value)
    patient.full_clean()
    patient.save()
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
    plan.current_revision = revision
    plan.requires_review = (
        engine_plan.requires_review or plan.patient.clinic.require_review_for_all_plans
    )
    return revision


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
    engine_plan = taper.plan(taper.parse_request(engine_input))
    if submission_key:
        existing = TaperPlan.objects.filter(submission_key=submission_key, patient=patient).first()
        if existing is not None:
            return existing
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
            return TaperPlan.objects.get(submission_key=submission_key, patient=patient)
        raise
    return plan


def _require_status(plan: TaperPlan, *allowed: PlanStatus) -> None:
    if plan.status not in allowed:
        names = ", ".join(str(PlanStatus(s).label).lower() for s in allowed)
        raise PlanStateError(
            f"This plan is {PlanStatus(plan.status).label.lower()}; this needs it to be {names}."
        )


@transaction.atomic
def plan_submit(*, plan: TaperPlan, by: User) -> TaperPlan:
    """Send a draft to the review queue when its flags (or the clinic) require review."""
    plan = TaperPlan.objects.select_for_update().get(pk=plan.pk)
    _require_status(plan, PlanStatus.DRAFT)
    if not plan.requires_review:
        raise PlanStateError("This plan needs no review; it can be activated directly.")
    plan.status = PlanStatus.PENDING_REVIEW
    plan.save(update_fields=["status", "updated_at"])
    return plan


@transaction.atomic
def plan_activate(*, plan: TaperPlan, by: User) -> TaperPlan:
    """Start the plan: its doses become reminders. Needs approval when review is required."""
    plan = TaperPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.requires_review:
        _require_status(plan, PlanStatus.APPROVED)
    else:
        _require_status(plan, PlanStatus.DRAFT, PlanStatus.APPROVED)
    now = timezone.now()
    # Starting a new taper replaces the running one: its future doses are withdrawn in
    # the same transaction, so the patient is never left without a plan in between.
    for running in TaperPlan.objects.select_for_update().filter(
        patient=plan.patient, drug=plan.drug, status=PlanStatus.ACTIVE
    ):
        running.status = PlanStatus.SUPERSEDED
        running.save(update_fields=["status", "updated_at"])
        reminder_services.plan_doses_cancel(plan_id=running.pk, from_time=now)
    plan.status = PlanStatus.ACTIVE
    plan.activated_at = now
    plan.save(update_fields=["status", "activated_at", "updated_at"])
    assert plan.current_revision is not None
    reminder_services.plan_doses_schedule(revision=plan.current_revision)
    return plan


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
    if was_active:
        assert plan.current_revision is not None
        PlanFlag.objects.create(
            revision=plan.current_revision,
            code="ABRUPT_STOP",
            severity="critical",
            message="The active taper was cancelled without a replacement taper: an abrupt stop. "
            "Watch for withdrawal (hallucinations, seizures, high fever, rebound spasticity).",
            source="baclofen monograph, Stopping: never abruptly",
        )
        reminder_services.plan_doses_cancel(plan_id=plan.pk, from_time=plan.cancelled_at)
    return plan


def ensure_same_clinic(user: User, patient: Patient) -> None:
    staff = getattr(user, "staff", None)
    if staff is None or staff.clinic_id != patient.clinic_id:
        raise PermissionDenied


@transaction.atomic
def plan_approve(*, plan: TaperPlan, by: User) -> TaperPlan:
    """A reviewer approves a plan in the queue. Nobody approves a plan they wrote."""
    plan = TaperPlan.objects.select_for_update().get(pk=plan.pk)
    _require_status(plan, PlanStatus.PENDING_REVIEW)
    assert plan.current_revision is not None
    if by.pk in (plan.created_by_id, plan.current_revision.created_by_id):
        raise PermissionDenied("A plan must be approved by someone other than its author.")
    plan.status = PlanStatus.APPROVED
    plan.approved_at = timezone.now()
    plan.approved_by = by
    plan.save(update_fields=["status", "approved_at", "approved_by", "updated_at"])
    PlanReview.objects.create(
        revision=plan.current_revision, reviewer=by, decision=ReviewDecision.APPROVED
    )
    return plan


@transaction.atomic
def plan_reject(*, plan: TaperPlan, by: User, comment: str) -> TaperPlan:
    """A reviewer sends a plan back to its author as a draft, with a required comment."""
    plan = TaperPlan.objects.select_for_update().get(pk=plan.pk)
    _require_status(plan, PlanStatus.PENDING_REVIEW)
    assert plan.current_revision is not None
    if by.pk in (plan.created_by_id, plan.current_revision.created_by_id):
        raise PermissionDenied("A plan must be reviewed by someone other than its author.")
    if not comment.strip():
        raise ValidationError({"comment": "Say why the plan is rejected."})
    plan.status = PlanStatus.DRAFT
    plan.save(update_fields=["status", "updated_at"])
    PlanReview.objects.create(
        revision=plan.current_revision,
        reviewer=by,
        decision=ReviewDecision.REJECTED,
        comment=comment.strip(),
    )
    return plan
