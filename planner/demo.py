"""Fictional demo data for `make run`: nothing here describes a real person."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.utils import timezone

from planner import services
from planner.admin_scope import CLINIC_SCOPES
from planner.engine_input import patient_facts
from planner.models import Clinic, Patient, Sex, StaffMember, TaperPlan
from planner.roles import Role

DEMO_CLINIC = "Riverside Demo Clinic"
DEMO_PHONE = "+1 555 0100"
DEMO_OUT_OF_HOURS_PHONE = "+1 555 0199"
DEMO_OPENING_HOURS = "Mon–Fri 08:00–18:00"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str


DEMO_LOGINS = (
    DemoLogin("clinician", "clinician", "demo-clinician-pass"),
    DemoLogin("reviewer, clinic admin", "reviewer", "demo-reviewer-pass"),
    DemoLogin("patient", "patient", "demo-patient-pass"),
)


@transaction.atomic
def demo_data_load() -> tuple[DemoLogin, ...]:
    """Create (or reset the passwords of) the demo clinic, its staff and a patient."""
    clinic, _ = Clinic.objects.get_or_create(
        name=DEMO_CLINIC, defaults={"time_zone": "Europe/London"}
    )
    # Fictional numbers (555 01xx is reserved for fiction); shown as tel: links wherever
    # a patient is told to call the clinic.
    clinic.phone, clinic.out_of_hours_phone = DEMO_PHONE, DEMO_OUT_OF_HOURS_PHONE
    clinic.opening_hours = DEMO_OPENING_HOURS
    clinic.full_clean()
    clinic.save()

    def account(login: DemoLogin, role: Role, **extra: object) -> User:
        user, _ = User.objects.get_or_create(username=login.username, defaults=extra)
        for key, value in extra.items():
            setattr(user, key, value)
        user.set_password(login.password)
        user.save()
        user.groups.add(Group.objects.get_or_create(name=role.value)[0])
        return user

    clinician = account(DEMO_LOGINS[0], Role.CLINICIAN, email="clinician@example.org")
    # Admin access to the clinic's own rows (planner.admin_scope), not a superuser.
    reviewer = account(
        DEMO_LOGINS[1],
        Role.REVIEWER,
        email="reviewer@example.org",
        is_staff=True,
        is_superuser=False,
    )
    reviewer.user_permissions.set(reviewer_admin_permissions())
    patient_user = account(DEMO_LOGINS[2], Role.PATIENT, email="patient@example.org")
    for staff_user in (clinician, reviewer):
        StaffMember.objects.get_or_create(user=staff_user, defaults={"clinic": clinic})
    patient, _ = Patient.objects.update_or_create(
        clinic=clinic,
        user=patient_user,
        defaults={
            "given_name": "Robin",
            "family_name": "Example",
            "date_of_birth": dt.date(1971, 4, 12),
            "sex": Sex.FEMALE,
            "email": "patient@example.org",
            "home_timezone": "Europe/London",
            "weight_kg": 68,
            "creatinine_clearance_ml_min": 85,
        },
    )
    demo_plan_start(patient=patient, clinician=clinician, now=timezone.now())
    demo_other_drugs(clinic=clinic, clinician=clinician, reviewer=reviewer, now=timezone.now())
    return DEMO_LOGINS


def reviewer_admin_permissions() -> list[Permission]:
    """Read every clinic-scoped admin page, and change the clinic's own settings
    (require review of every plan)."""
    wanted = [("planner", "change_clinic")]
    for label in CLINIC_SCOPES:
        model = apps.get_model(label)
        wanted.append((model._meta.app_label, f"view_{model._meta.model_name}"))
    return [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in wanted
    ]


def demo_plan_start(*, patient: Patient, clinician: User, now: dt.datetime) -> TaperPlan:
    """A fresh active baclofen taper whose first dose is due two minutes from now, so a
    newcomer sees a reminder e-mail arrive in `make run`'s output. It replaces the
    demo plan of an earlier run."""
    local_now = now.astimezone(ZoneInfo(patient.home_timezone))
    first = (local_now + dt.timedelta(minutes=2)).replace(second=0, microsecond=0)
    times = [first + dt.timedelta(hours=h) for h in (0, 5, 10)]
    doses = [
        {"time": f"{moment:%H:%M}", "amount_mg": 10}
        for moment in times
        if moment.date() == first.date()
    ]
    engine_input = {
        "product": "baclofen-oral-tablet",
        "doses": doses,
        "start_date": first.date().isoformat(),
        "timezone": patient.home_timezone,
        "goal": {"type": "discontinue"},
        "patient": patient_facts(patient, first.date(), months_on_therapy=4),
    }
    plan = services.plan_create(patient=patient, by=clinician, engine_input=engine_input)
    return services.plan_activate(plan=plan, by=clinician)


# Two more fictional patients, on the drug classes beyond baclofen (issue #22): a
# clonazepam taper switched to diazepam, and a gabapentin taper at a low creatinine
# clearance. Each gets its plan once; a later `make run` leaves them as they are.
OTHER_DRUG_PATIENTS: tuple[dict[str, Any], ...] = (
    {
        "mrn": "DEMO-BZD-1",
        "given_name": "Alex",
        "family_name": "Placeholder",
        "date_of_birth": dt.date(1958, 9, 3),
        "sex": Sex.MALE,
        "home_timezone": "Europe/London",
        "weight_kg": 80,
        "creatinine_clearance_ml_min": 70,
        "regimen": {
            "product": "clonazepam-oral-tablet",
            "switch_to": "diazepam-oral-tablet",
            "doses": [{"time": "08:00", "amount_mg": 0.5}, {"time": "21:00", "amount_mg": 0.5}],
            "goal": {"type": "discontinue"},
        },
        "months_on_therapy": 60,
    },
    {
        "mrn": "DEMO-GABA-1",
        "given_name": "Jamie",
        "family_name": "Fictional",
        "date_of_birth": dt.date(1949, 2, 17),
        "sex": Sex.FEMALE,
        "home_timezone": "Europe/London",
        "weight_kg": 62,
        "creatinine_clearance_ml_min": 45,
        "regimen": {
            "product": "gabapentin-oral-capsule",
            "doses": [{"time": "08:00", "amount_mg": 300}, {"time": "20:00", "amount_mg": 300}],
            "goal": {"type": "discontinue"},
        },
        "months_on_therapy": 18,
    },
)


def demo_other_drugs(
    *, clinic: Clinic, clinician: User, reviewer: User, now: dt.datetime
) -> list[TaperPlan]:
    """The benzodiazepine and gabapentin demo patients, each with a running plan from
    tomorrow (reviewed by the demo reviewer where the plan needs it)."""
    plans = []
    for record in OTHER_DRUG_PATIENTS:
        facts = {k: v for k, v in record.items() if k not in ("regimen", "months_on_therapy")}
        patient, _ = Patient.objects.update_or_create(
            clinic=clinic, mrn=facts.pop("mrn"), defaults=facts
        )
        if patient.plans.exists():
            continue
        tomorrow = now.astimezone(ZoneInfo(patient.home_timezone)).date() + dt.timedelta(days=1)
        engine_input = {
            **record["regimen"],
            "start_date": tomorrow.isoformat(),
            "timezone": patient.home_timezone,
            "patient": patient_facts(patient, tomorrow, record["months_on_therapy"]),
        }
        plan = services.plan_create(patient=patient, by=clinician, engine_input=engine_input)
        if plan.requires_review:
            plan = services.plan_submit(plan=plan, by=clinician)
            plan = services.plan_approve(plan=plan, by=reviewer)
        plans.append(services.plan_activate(plan=plan, by=clinician))
    return plans
