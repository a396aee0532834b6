"""Reads for the API, always within the caller's clinic: an object of another clinic
is not found (404), exactly as on the pages (planner.access)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

import taper
from api import fhir
from planner.models import (
    Patient,
    PlanRevision,
    PlanStatus,
    ReviewDecision,
    RevisionKind,
    RevisionReview,
    StaffMember,
    TaperPlan,
)
from reminders.models import AbruptStopAlert, Dose, DoseStatus


def clinic_patients(staff: StaffMember) -> QuerySet[Patient]:
    return Patient.objects.filter(clinic_id=staff.clinic_id).order_by("id")


def clinic_patient(staff: StaffMember, pk: int) -> Patient:
    patient = clinic_patients(staff).filter(pk=pk).first()
    if patient is None:
        raise Http404
    return patient


def clinic_plans(staff: StaffMember) -> QuerySet[TaperPlan]:
    return (
        TaperPlan.objects.filter(patient__clinic_id=staff.clinic_id)
        .select_related("patient", "current_revision")
        .order_by("id")
    )


def clinic_plan(staff: StaffMember, pk: int) -> TaperPlan:
    plan = (
        clinic_plans(staff)
        .select_related("current_revision__regimen")
        .prefetch_related("current_revision__flags")
        .filter(pk=pk)
        .first()
    )
    if plan is None:
        raise Http404
    return plan


def plan_doses(plan: TaperPlan) -> QuerySet[Dose]:
    """The dose log: every dose of the plan that was not withdrawn by a revision."""
    return Dose.objects.filter(plan=plan).exclude(status=DoseStatus.CANCELLED).order_by(
        "due_at", "id"
    )


def open_alerts(staff: StaffMember) -> QuerySet[AbruptStopAlert]:
    return (
        AbruptStopAlert.objects.filter(
            plan__patient__clinic_id=staff.clinic_id, closed_at__isnull=True
        )
        .select_related("plan")
        .order_by("raised_at", "id")
    )


def _product(product_id: str) -> fhir.ProductRecord:
    for product in taper.list_products():
        if product.id == product_id:
            return fhir.ProductRecord(
                id=product.id,
                drug=product.drug,
                name=product.name,
                route=product.route,
                form=product.form,
                rxnorm=product.rxnorm,
            )
    # A product no longer in the catalogue: export what is known of it.
    return fhir.ProductRecord(
        id=product_id, drug="", name=product_id, route="", form=""
    )


def _staff_record(user: Any) -> fhir.StaffRecord:
    return fhir.StaffRecord(id=user.pk, name=user.get_full_name() or user.get_username())


def patient_record(patient: Patient) -> fhir.PatientRecord:
    versions = patient.history.order_by("-history_date")
    latest = versions.first()
    return fhir.PatientRecord(
        id=patient.pk,
        given_name=patient.given_name,
        family_name=patient.family_name,
        birth_date=patient.date_of_birth,
        sex=patient.sex,
        timezone=patient.home_timezone,
        mrn=patient.mrn,
        version=max(versions.count(), 1),
        updated_at=latest.history_date if latest is not None else patient.created_at,
    )


def _revisions_in_force(plan: TaperPlan) -> tuple[fhir.RevisionRecord, ...]:
    """The plan's revisions that were put in force, oldest first, up to its current one:
    a revision waiting for review, or rejected, changed nothing."""
    current = plan.current_revision
    assert current is not None
    revisions = (
        PlanRevision.objects.filter(plan=plan, number__lte=current.number)
        .filter(
            Q(kind__in=[RevisionKind.INITIAL, RevisionKind.DRAFT_EDIT])
            | Q(review_state__in=[RevisionReview.NOT_NEEDED, RevisionReview.APPROVED])
        )
        .select_related("created_by")
        .prefetch_related("reviews__reviewer")
        .order_by("number")
    )
    records = []
    for revision in revisions:
        approval = next(
            (
                review
                for review in sorted(revision.reviews.all(), key=lambda r: r.created_at)
                if review.decision == ReviewDecision.APPROVED
            ),
            None,
        )
        revised = [
            flag["message"]
            for flag in revision.engine_output.get("flags", [])
            if flag.get("code") == "REVISED"
        ]
        records.append(
            fhir.RevisionRecord(
                number=revision.number,
                kind=revision.kind,
                kind_label=revision.get_kind_display(),
                created_at=revision.created_at,
                in_force_at=(
                    approval.created_at
                    if approval is not None and revision.kind != RevisionKind.INITIAL
                    else revision.created_at
                ),
                effective_from=revision.effective_from,
                author=_staff_record(revision.created_by),
                approver=_staff_record(approval.reviewer) if approval is not None else None,
                change=revised[-1] if revised else revision.get_kind_display(),
                output=revision.engine_output,
            )
        )
    return tuple(records)


def _ending(plan: TaperPlan, zone: ZoneInfo) -> tuple[dt.date | None, str]:
    if plan.replaced_by_id is not None and plan.runs_until is not None:
        # A plan a newer one replaces runs until the day before that one starts (#15).
        day = plan.runs_until + dt.timedelta(days=1)
        return day, f"Replaced by a new plan from {day.isoformat()}"
    if plan.status == PlanStatus.CANCELLED:
        day = (plan.cancelled_at or plan.updated_at).astimezone(zone).date()
        reason = f"Plan cancelled on {day.isoformat()}"
        return day, f"{reason}: {plan.cancel_reason}" if plan.cancel_reason else reason
    if plan.status == PlanStatus.SUPERSEDED:
        day = plan.updated_at.astimezone(zone).date()
        return day, f"Plan replaced by a new plan on {day.isoformat()}"
    return None, ""


def plan_export(plan: TaperPlan, *, now: dt.datetime | None = None) -> fhir.PlanExport:
    revision = plan.current_revision
    assert revision is not None
    patient = plan.patient
    now = now or timezone.now()
    zone = ZoneInfo(patient.home_timezone)
    doses = tuple(
        fhir.DoseRecord(
            id=dose.pk,
            local_date=dose.local_date,
            local_time=dose.local_time,
            timezone=dose.timezone,
            due_at=dose.due_at,
            amount_mg=dose.amount_mg,
            status=dose.status,
        )
        for dose in plan_doses(plan)
    )
    ended_on, end_reason = _ending(plan, zone)
    return fhir.PlanExport(
        identifier_system=settings.FHIR_IDENTIFIER_SYSTEM,
        plan_id=plan.pk,
        status=plan.status,
        created_at=plan.created_at,
        patient=patient_record(patient),
        product=_product(revision.regimen.product),
        revisions=_revisions_in_force(plan),
        doses=doses,
        generated_at=now,
        today=now.astimezone(zone).date(),
        activated=plan.activated_at is not None,
        ended_on=ended_on,
        end_reason=end_reason,
        runs_until=plan.runs_until,
    )
