"""factory_boy factories for the records most tests need: fictional clinics, patients
and staff. Fixtures in tests/conftest.py build the named people (alice, bob, charlie,
sam) from these."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import Group, User
from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from planner.models import Clinic, Patient, StaffMember
from planner.roles import Role

PASSWORD = "pw-for-tests-1"


class ClinicFactory(DjangoModelFactory[Clinic]):
    class Meta:
        model = Clinic

    name = Sequence(lambda n: f"Demo Clinic {n}")


class PatientFactory(DjangoModelFactory[Patient]):
    """A fictional adult in New York with no kidney or pregnancy facts recorded."""

    class Meta:
        model = Patient

    clinic = SubFactory(ClinicFactory)
    given_name = "Sam"
    family_name = "Sample"
    date_of_birth = dt.date(1980, 1, 2)
    sex = "male"
    home_timezone = "America/New_York"


class UserFactory(DjangoModelFactory[User]):
    """A log-in with ``PASSWORD`` and, given ``role=``, that role's group."""

    class Meta:
        model = User

    username = Sequence(lambda n: f"user{n}")

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        role: Role | None = kwargs.pop("role", None)
        kwargs.setdefault("password", PASSWORD)
        user = model_class.objects.create_user(*args, **kwargs)
        if role is not None:
            user.groups.add(Group.objects.get_or_create(name=role.value)[0])
        return user


def make_staff(django_user_model: Any, username: str, clinic: Clinic, role: Role) -> Any:
    """A member of ``clinic``'s staff with ``role``; logs in with ``PASSWORD``."""
    user = UserFactory.create(username=username, role=role)
    StaffMember.objects.create(user=user, clinic=clinic)
    return user


def patient_account(django_user_model: Any, patient: Patient, username: str) -> Any:
    """The patient's own log-in, with an e-mail address for reminders."""
    user = UserFactory.create(username=username, role=Role.PATIENT)
    patient.user = user
    patient.email = f"{username}@example.org"
    patient.save()
    return user
