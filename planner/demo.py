"""Fictional demo data for `make run`: nothing here describes a real person."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.db import transaction

from planner.models import Clinic, Patient, Sex, StaffMember
from planner.roles import Role

DEMO_CLINIC = "Riverside Demo Clinic"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str


DEMO_LOGINS = (
    DemoLogin("clinician", "clinician", "demo-clinician-pass"),
    DemoLogin("reviewer (and site admin)", "reviewer", "demo-reviewer-pass"),
    DemoLogin("patient", "patient", "demo-patient-pass"),
)


@transaction.atomic
def demo_data_load() -> tuple[DemoLogin, ...]:
    """Create (or reset the passwords of) the demo clinic, its staff and a patient."""
    clinic, _ = Clinic.objects.get_or_create(name=DEMO_CLINIC)

    def account(login: DemoLogin, role: Role, **extra: object) -> User:
        user, _ = User.objects.get_or_create(username=login.username, defaults=extra)
        for key, value in extra.items():
            setattr(user, key, value)
        user.set_password(login.password)
        user.save()
        user.groups.add(Group.objects.get(name=role.value))
        return user

    clinician = account(DEMO_LOGINS[0], Role.CLINICIAN, email="clinician@example.org")
    reviewer = account(
        DEMO_LOGINS[1],
        Role.REVIEWER,
        email="reviewer@example.org",
        is_staff=True,
        is_superuser=True,
    )
    patient_user = account(DEMO_LOGINS[2], Role.PATIENT, email="patient@example.org")
    for staff_user in (clinician, reviewer):
        StaffMember.objects.get_or_create(user=staff_user, defaults={"clinic": clinic})
    Patient.objects.update_or_create(
        clinic=clinic,
        user=patient_user,
        defaults={
            "given_name": "Robin",
            "family_name": "Example",
            "date_of_birth": dt.date(1971, 4, 12),
            "sex": Sex.FEMALE,
            "email": "patient@example.org",
            "home_timezone": "Europe/London",
        },
    )
    return DEMO_LOGINS
