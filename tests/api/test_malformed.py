"""Bodies that are not what the API reads get a clear 400 or 413, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from api.parsers import MAX_BODY_BYTES
from planner.models import Patient


@pytest.mark.parametrize(
    "body",
    [
        b'{"product": ',  # cut short
        b"[1, 2",
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"amount": 1e999}',  # a float that overflows to infinity
        b'{"amount": ' + b"9" * 5000 + b"}",  # beyond Python's integer digit limit
        b"[" * 100_000 + b"]" * 100_000,  # nested past the recursion limit
        "{\"name\": \"\udcff\"}".encode("utf-8", "surrogatepass"),
        b"\xff\xfe not utf-8",
    ],
    ids=["cut", "list", "nan", "infinity", "overflow", "digits", "nested", "surrogate", "bytes"],
)
def test_malformed_json_is_a_400_that_says_so(api: APIClient, body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        body = b"[" * (MAX_BODY_BYTES // 2) + b"]" * (MAX_BODY_BYTES // 2)
    response = api.post(reverse("api:plan-preview"), body, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["__all__"]


def test_a_body_that_is_not_an_object_is_refused(api: APIClient, patient: Patient) -> None:
    for url in (reverse("api:plan-preview"), reverse("api:patient-plans", args=[patient.pk])):
        response = api.post(url, [1, 2], format="json")
        assert response.status_code == 400
        assert "__all__" in response.json()["errors"]
    response = api.post(reverse("api:patients"), "a string", format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["__all__"]


def test_a_huge_body_is_413_before_it_is_read(api: APIClient) -> None:
    body = b'{"product": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = api.post(reverse("api:plan-preview"), body, content_type="application/json")
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_huge_numbers_in_a_plan_name_their_field(api: APIClient, patient: Patient) -> None:
    response = api.post(
        reverse("api:patient-plans", args=[patient.pk]),
        b'{"product": "baclofen-oral-tablet", "start_date": "2027-03-01", "months_on_therapy": 3,'
        b' "goal": {"type": "discontinue"}, "doses": [{"time": "08:00", "amount_mg": 1e300}]}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "doses.0.amount_mg" in response.json()["errors"]


def test_other_media_types_are_refused(api: APIClient) -> None:
    response = api.post(reverse("api:plan-preview"), "product=x", content_type="text/plain")
    assert response.status_code == 415
