from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group

from planner.models import Clinic, Patient, StaffMember
from planner.roles import Role


@pytest.fixture
def clinic(db: None) -> Clinic:
    return Clinic.objects.create(name="North Demo Clinic")


@pytest.fixture
def other_clinic(db: None) -> Clinic:
    return Clinic.objects.create(name="South Demo Clinic")


def make_staff(django_user_model: Any, username: str, clinic: Clinic, role: Role) -> Any:
    user = django_user_model.objects.create_user(username=username, password="pw-for-tests-1")
    user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    StaffMember.objects.create(user=user, clinic=clinic)
    return user


@pytest.fixture
def alice(django_user_model: Any, clinic: Clinic) -> Any:
    """A clinician of the first clinic."""
    return make_staff(django_user_model, "alice", clinic, Role.CLINICIAN)


@pytest.fixture
def charlie(django_user_model: Any, other_clinic: Clinic) -> Any:
    """A clinician of another clinic."""
    return make_staff(django_user_model, "charlie", other_clinic, Role.CLINICIAN)


@pytest.fixture
def patient(clinic: Clinic) -> Patient:
    import datetime as dt

    return Patient.objects.create(
        clinic=clinic,
        given_name="Sam",
        family_name="Sample",
        date_of_birth=dt.date(1980, 1, 2),
        sex="male",
        home_timezone="America/New_York",
    )


def review_post(plan: Any, decision: str, comment: str = "") -> dict[str, Any]:
    """The review page's form as a reviewer sends it: for the version waiting now."""
    from planner.reviews import under_review

    revision = under_review(type(plan).objects.get(pk=plan.pk))
    assert revision is not None, "nothing of this plan waits for review"
    return {"decision": decision, "comment": comment, "revision": revision.pk}
