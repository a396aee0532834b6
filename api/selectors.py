"""Reads for the API, always within the caller's clinic: an object of another clinic
is not found (404), exactly as on the pages (planner.access)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

import taper
from api import fhir
from planner.models import Patient, StaffMember, TaperPlan
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
            )
    # A product no longer in the catalogue: export what is known of it.
    return fhir.ProductRecord(
        id=product_id, drug="", name=product_id, route="", form=""
    )


def plan_export(plan: TaperPlan, *, now: dt.datetime | None = None) -> fhir.PlanExport:
    revision = plan.current_revision
    assert revision is not None
    patient = plan.patient
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
    return fhir.PlanExport(
        identifier_system=settings.FHIR_IDENTIFIER_SYSTEM,
        plan_id=plan.pk,
        status=plan.status,
        created_at=plan.created_at,
        revision_number=revision.number,
        patient=fhir.PatientRecord(
            id=patient.pk,
            given_name=patient.given_name,
            family_name=patient.family_name,
            birth_date=patient.date_of_birth,
            sex=patient.sex,
        ),
        product=_product(revision.regimen.product),
        output=revision.engine_output,
        doses=doses,
        generated_at=now or timezone.now(),
    )
