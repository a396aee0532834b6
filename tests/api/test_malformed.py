"""Bodies that are not what the API reads get a clear 400 or 413, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


# Lone UTF-16 surrogates written as JSON escapes: valid JSON, but no text (issue #16).
SURROGATE_BODIES = {
    "product": (b'{"product": "\\ud800"}', "product"),
    "key": (b'{"\\ud800x": 1}', "\\ud800x"),
    "sex": (b'{"sex": "\\udfff", "given_name": "A"}', "sex"),
    "cns_depressants": (b'{"cns_depressants": ["opioid", "\\udc00"]}', "cns_depressants.1"),
    "nested": (b'{"patient": {"cns_depressants": ["\\ud83d"]}}', "patient.cns_depressants.0"),
    "submission_key": (b'{"submission_key": "k\\ud800"}', "submission_key"),
}


@pytest.mark.parametrize("case", list(SURROGATE_BODIES))
@pytest.mark.parametrize("endpoint", ["api:plan-preview", "api:patients", "api:patient-plans"])
def test_a_lone_surrogate_is_a_400_naming_its_field(
    api: APIClient, patient: Patient, case: str, endpoint: str
) -> None:
    body, field = SURROGATE_BODIES[case]
    args = [patient.pk] if endpoint == "api:patient-plans" else []
    before = (Patient.objects.count(), patient.plans.count())
    response = api.post(reverse(endpoint, args=args), body, content_type="application/json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors
    assert "surrogate" in errors[field][0]
    assert (Patient.objects.count(), patient.plans.count()) == before


def test_surrogates_are_refused_wherever_they_are_nested(api: APIClient) -> None:
    body = b'{"a": [' * 200 + b'"\\ud800"' + b"]}" * 200
    response = api.post(reverse("api:plan-preview"), body, content_type="application/json")
    assert response.status_code == 400
    (path,) = response.json()["errors"]
    assert path == ".".join(["a", "0"] * 200)


# Text drawn from every code point, lone surrogates (category Cs) included.
with_surrogates = st.text(st.characters(categories=["Cs", "L", "N", "P", "Cc"]), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | with_surrogates,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(with_surrogates, inner, max_size=3),
    max_leaves=8,
)
FIELDS = ["product", "sex", "cns_depressants", "submission_key", "given_name", "patient"]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.dictionaries(st.one_of(st.sampled_from(FIELDS), with_surrogates), json_values,
                         max_size=4),
    endpoint=st.sampled_from(["api:plan-preview", "api:patients", "api:patient-plans"]),
)
def test_bodies_with_surrogates_anywhere_are_refused_by_name_never_a_500(
    api: APIClient, patient: Patient, body: dict[str, Any], endpoint: str
) -> None:
    args = [patient.pk] if endpoint == "api:patient-plans" else []
    raw = json.dumps(body).encode()  # ensure_ascii: a surrogate travels as \\udXXX
    response = api.post(reverse(endpoint, args=args), raw, content_type="application/json")
    assert response.status_code in (200, 201, 400), response.content
    if any(0xD800 <= ord(char) <= 0xDFFF for char in json.dumps(body, ensure_ascii=False)):
        assert response.status_code == 400
        assert any("surrogate" in message
                   for messages in response.json()["errors"].values() for message in messages)
