"""Two CNS depressants reduced in the same week (issue #22): the clinician is warned on
the plan page and the review page; plans that cut in different weeks are not flagged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

import taper
from planner import overlap
from planner.models import Patient, PlanStatus, TaperPlan
from planner.roles import Role
from tests.support.clock import START
from tests.support.factories import make_staff
from tests.support.plans import active_plan, plan_post
from tests.support.two_tapers import GABAPENTIN_DOSES, drug_plan


@pytest.fixture
def bob(django_user_model: Any, clinic: Any) -> Any:
    return make_staff(django_user_model, "bob", clinic, Role.REVIEWER)


def test_every_drug_of_the_catalogue_is_classified_as_cns_depressant_or_not() -> None:
    drugs = {product.drug for product in taper.list_products()}
    assert drugs <= overlap.CNS_DEPRESSANTS | overlap.NOT_CNS_DEPRESSANTS


def r(day: str) -> overlap.Reduction:
    return overlap.Reduction(dt.date.fromisoformat(day), Decimal(10), Decimal(5))


def test_cuts_less_than_seven_days_apart_overlap_and_seven_days_do_not() -> None:
    ours = [r("2027-03-01"), r("2027-03-15")]
    assert overlap.same_week(ours, [r("2027-03-07")]) == [(ours[0], r("2027-03-07"))]
    assert overlap.same_week(ours, [r("2027-03-08")]) == []
    # A Sunday and the next Monday are one day apart: the same week, whatever the calendar.
    assert overlap.same_week([r("2027-03-14")], [r("2027-03-15")]) != []
    # A replaced plan stops before its later cut.
    assert overlap.same_week(ours, [r("2027-03-16")], until=dt.date(2027, 3, 10)) == []


def test_a_plan_reduces_on_its_first_day_each_lower_step_and_the_day_it_stops() -> None:
    engine_input = {"doses": [{"amount_mg": 10}, {"amount_mg": 10}]}
    output = {
        "steps": [
            {"start_date": "2027-03-01", "end_date": "2027-03-07", "daily_total_mg": 15},
            {"start_date": "2027-03-08", "end_date": "2027-03-14", "daily_total_mg": 15},
            {"start_date": "2027-03-15", "end_date": "2027-03-21", "daily_total_mg": 5},
        ]
    }
    days = [red.day for red in overlap.reductions(engine_input, output)]
    assert days == [dt.date(2027, 3, 1), dt.date(2027, 3, 15), dt.date(2027, 3, 22)]
    # A reduce-to-target plan does not stop.
    kept = overlap.reductions(engine_input, {**output, "maintenance": {"doses": []}})
    assert [red.day for red in kept] == days[:2]


def test_baclofen_and_a_benzodiazepine_cut_in_the_same_week_warn_on_both_plan_pages(
    client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    baclofen = active_plan(patient, alice)
    diazepam = drug_plan(patient, alice, bob)
    assert baclofen.status == diazepam.status == PlanStatus.ACTIVE
    found = overlap.plan_overlaps(diazepam)
    # Both start on START below what the patient took: the first cuts coincide.
    assert (START, "baclofen", START) in [(o.day, o.other_drug, o.other_day) for o in found]
    client.force_login(alice)
    for plan, other in ((diazepam, baclofen), (baclofen, diazepam)):
        page = client.get(reverse("plan", args=[plan.pk])).content.decode()
        assert "Two CNS depressants reduced in the same week" in page
        assert f'href="/plans/{other.pk}/"' in page or f"plan {other.pk}" in page
        assert "FDA Drug Safety Communication, 19 December 2019" in page


def test_the_reviewer_sees_the_warning_for_a_plan_waiting_for_review(
    client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    active_plan(patient, alice)
    waiting = drug_plan(patient, alice, bob, activate=False)
    # drug_plan approves plans that need review; make one wait instead.
    waiting.status = PlanStatus.PENDING_REVIEW
    waiting.approved_at = None
    waiting.save(update_fields=["status", "approved_at"])
    client.force_login(bob)
    page = client.get(reverse("plan_review", args=[waiting.pk]))
    assert page.status_code == 200
    assert "Two CNS depressants reduced in the same week" in page.content.decode()


def test_plans_that_cut_in_different_weeks_are_not_flagged(
    client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    baclofen = active_plan(patient, alice)
    last_cut = max(red.day for red in overlap.reductions(
        baclofen.current_revision.engine_input,
        baclofen.current_revision.engine_output,
    ))
    later = drug_plan(
        patient, alice, bob, product="gabapentin-oral-capsule", doses=GABAPENTIN_DOSES,
        start=last_cut + dt.timedelta(days=overlap.SAME_WEEK_DAYS), months_on_therapy=3,
    )
    assert overlap.plan_overlaps(later) == []
    client.force_login(alice)
    page = client.get(reverse("plan", args=[later.pk])).content.decode()
    assert "Two CNS depressants reduced in the same week" not in page


def test_a_cancelled_plan_warns_about_nothing(
    alice: Any, bob: Any, patient: Patient
) -> None:
    active_plan(patient, alice)
    diazepam: TaperPlan = drug_plan(patient, alice, bob)
    diazepam.status = PlanStatus.CANCELLED
    assert overlap.plan_overlaps(diazepam) == []


def test_the_preview_warns_before_the_plan_is_saved(
    client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    """The clinician sees the same-week warning while filling in the form, not only once
    the plan is saved: a baclofen plan previewed beside a running diazepam plan."""
    client.force_login(alice)
    url = reverse("plan_preview", args=[patient.pk])
    before = client.post(url, plan_post()).content.decode()
    assert "Preview" in before
    assert "Two CNS depressants reduced in the same week" not in before

    diazepam = drug_plan(patient, alice, bob)
    page = client.post(url, plan_post()).content.decode()
    assert "Two CNS depressants reduced in the same week" in page
    assert f"plan {diazepam.pk}" in page
    assert TaperPlan.objects.filter(patient=patient).count() == 1  # nothing was saved
