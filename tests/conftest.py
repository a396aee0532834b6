from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from hypothesis import settings as hypothesis_settings

from planner.models import Clinic, Patient
from planner.roles import Role
from tests.support.clock import NOW
from tests.support.factories import ClinicFactory, PatientFactory, make_staff

# CI explores the same examples on every run, so a red build is reproducible; locally
# hypothesis keeps looking for new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("dev")
hypothesis_settings.load_profile(
    "ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev")
)


@pytest.fixture(autouse=True)
def frozen_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test runs at ``NOW`` (tests/support/clock.py) unless marked ``real_clock``."""
    if request.node.get_closest_marker("real_clock"):
        yield
        return
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """Each test starts with an empty cache. With the clock frozen and row ids reused after
    a rollback, a cache key built from ids and timestamps (the calendar feed's) could
    otherwise return what an earlier test rendered."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def clinic(db: None) -> Clinic:
    return ClinicFactory.create(name="North Demo Clinic")


@pytest.fixture
def other_clinic(db: None) -> Clinic:
    return ClinicFactory.create(name="South Demo Clinic")


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
    """Sam Sample, a fictional patient of the first clinic, in New York."""
    return PatientFactory.create(clinic=clinic)
