"""API hygiene (issue #16): no cache keeps an answer, the preview is throttled, and a
submission_key makes one plan however many identical requests race."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from api.throttles import PlanPreviewThrottle
from planner import services
from planner.models import Patient, TaperPlan
from tests.support.api import engine_input, regimen, token_client
from tests.support.clock import NOW, START


def api_routes() -> list[str]:
    (api_resolver,) = [
        p for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "api"
    ]
    return [p.name for p in api_resolver.url_patterns if isinstance(p, URLPattern) and p.name]


def preview_body(patient: Patient) -> dict[str, Any]:
    return engine_input(patient)


def test_every_api_answer_with_data_says_no_store(
    api: APIClient, alice: Any, patient: Patient
) -> None:
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    needs_review = services.plan_create(
        patient=patient, by=alice, engine_input=engine_input(patient, pace={"length_days": 10})
    )
    urls = {
        "plan-preview": ("post", reverse("api:plan-preview"), preview_body(patient)),
        "patients": ("get", reverse("api:patients"), None),
        "patient": ("get", reverse("api:patient", args=[patient.pk]), None),
        "patient-plans": ("get", reverse("api:patient-plans", args=[patient.pk]), None),
        "plans": ("get", reverse("api:plans"), None),
        "plan": ("get", reverse("api:plan", args=[plan.pk]), None),
        "plan-doses": ("get", reverse("api:plan-doses", args=[plan.pk]), None),
        "plan-fhir": ("get", reverse("api:plan-fhir", args=[plan.pk]), None),
        "alerts": ("get", reverse("api:alerts"), None),
        "plan-submit": ("post", reverse("api:plan-submit", args=[needs_review.pk]), None),
        "plan-activate": ("post", reverse("api:plan-activate", args=[plan.pk]), None),
        "plan-cancel": (
            "post", reverse("api:plan-cancel", args=[needs_review.pk]), {"reason": "Test"}
        ),
    }
    documentation = {"schema", "docs", "redoc"}
    assert set(api_routes()) - documentation == set(urls), "a new API route needs a row here"
    for name, (method, url, body) in urls.items():
        response = getattr(api, method)(url, body, format="json")
        assert response.status_code == 200, name
        assert "no-store" in response["Cache-Control"], name
        assert "private" in response["Cache-Control"], name
    # Refusals too: they say whether a patient exists.
    missing = api.get(reverse("api:patient", args=[patient.pk + 1000]))
    assert missing.status_code == 404
    assert "no-store" in missing["Cache-Control"]
    refused = api.post(reverse("api:patients"), {"given_name": 1}, format="json")
    assert refused.status_code == 400
    assert "no-store" in refused["Cache-Control"]


def test_the_production_preview_rate_is_set() -> None:
    from planner import settings as production

    assert production.PLAN_PREVIEW_RATE == "60/minute"
    assert PlanPreviewThrottle().parse_rate(production.PLAN_PREVIEW_RATE) == (60, 60)


@override_settings(PLAN_PREVIEW_RATE="3/minute")
def test_the_preview_is_throttled_per_user(
    api: APIClient, bob: Any, patient: Patient
) -> None:
    cache.clear()
    url, body = reverse("api:plan-preview"), preview_body(patient)
    with time_machine.travel(NOW, tick=False):
        assert [api.post(url, body, format="json").status_code for _ in range(3)] == [200] * 3
        refused = api.post(url, body, format="json")
        assert refused.status_code == 429
        assert int(refused["Retry-After"]) <= 60
        # Another user of the clinic has a rate of their own.
        assert token_client(bob).post(url, body, format="json").status_code == 200
    with time_machine.travel(NOW + dt.timedelta(seconds=61), tick=False):
        assert api.post(url, body, format="json").status_code == 200
    cache.clear()


def test_the_same_key_with_another_body_is_a_conflict(api: APIClient, patient: Patient) -> None:
    url = reverse("api:patient-plans", args=[patient.pk])
    first = api.post(url, regimen(submission_key="ehr-9"), format="json")
    assert first.status_code == 201
    other = regimen(submission_key="ehr-9", months_on_therapy=30)
    conflict = api.post(url, other, format="json")
    assert conflict.status_code == 409
    assert "submission_key" in conflict.json()["detail"]
    changed_dose = regimen(
        submission_key="ehr-9",
        doses=[{"time": "08:00", "amount_mg": 10}, {"time": "20:00", "amount_mg": 5}],
    )
    assert api.post(url, changed_dose, format="json").status_code == 409
    assert TaperPlan.objects.count() == 1
    assert api.post(url, regimen(submission_key="ehr-9"), format="json").status_code == 200


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_requests_make_one_plan_and_one_201(
    alice: Any, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert connection.vendor == "postgresql"
    threads_count = 6
    url = reverse("api:patient-plans", args=[patient.pk])
    body = regimen(submission_key="ehr-race", start_date=START.isoformat())
    clients = [token_client(alice) for _ in range(threads_count)]
    # Every request has planned and is about to look for the key when all of them go on:
    # the race the database's unique key has to settle.
    gate = threading.Barrier(threads_count, timeout=30)
    looked_up = services._plan_submitted_with
    first_look: set[int] = set()

    def look_up_together(key: str, who: Patient) -> Any:
        if threading.get_ident() not in first_look:
            first_look.add(threading.get_ident())
            gate.wait()
        return looked_up(key, who)

    monkeypatch.setattr(services, "_plan_submitted_with", look_up_together)
    answers: list[tuple[int, int]] = []

    def send(client: APIClient) -> None:
        try:
            response = client.post(url, body, format="json")
            answers.append((response.status_code, response.json()["id"]))
        finally:
            connection.close()

    workers = [threading.Thread(target=send, args=(client,)) for client in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * (threads_count - 1) + [201]
    assert len({plan_id for _, plan_id in answers}) == 1
    assert TaperPlan.objects.filter(patient=patient).count() == 1
