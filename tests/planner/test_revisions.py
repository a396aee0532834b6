"""Revising a running plan: hold, step back, slow down; the past stays; review when needed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from planner import services
from planner.models import Patient, PlanStatus, RevisionKind, RevisionReview, TaperPlan
from planner.roles import Role
from reminders.models import Dose, DoseStatus, Reminder, ReminderKind
from tests.support.clock import START
from tests.support.factories import make_staff
from tests.support.plans import engine_input, review_post

# Day 4 of a plan starting on START, at 09:00 UTC.
NOW = dt.datetime.combine(START + dt.timedelta(days=3), dt.time(9, 0), tzinfo=dt.UTC)


@pytest.fixture
def running(alice: Any, patient: Patient) -> TaperPlan:
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    with time_machine.travel(dt.datetime(2027, 2, 25, tzinfo=dt.UTC)):
        services.plan_activate(plan=plan, by=alice)
    plan.refresh_from_db()
    return plan


def live_doses(plan: TaperPlan) -> list[tuple[dt.date, dt.time, Any]]:
    return list(
        Dose.objects.filter(plan=plan).exclude(status=DoseStatus.CANCELLED)
        .order_by("due_at").values_list("local_date", "local_time", "amount_mg")
    )


def test_holding_keeps_the_past_and_moves_the_rest_later(alice: Any, running: TaperPlan) -> None:
    before = live_doses(running)
    old_end = running.current_revision.end_date
    with time_machine.travel(NOW, tick=False):
        revision = services.plan_revise(plan=running, by=alice, kind=RevisionKind.HOLD,
                                        from_date=dt.date(2027, 3, 5), days=3)
    running.refresh_from_db()
    assert running.current_revision == revision
    assert revision.end_date == old_end + dt.timedelta(days=3)
    after = live_doses(running)
    assert [d for d in after if d[0] < dt.date(2027, 3, 5)] == [
        d for d in before if d[0] < dt.date(2027, 3, 5)
    ]
    assert len(after) > len(before)
    assert Reminder.objects.filter(plan=running, kind=ReminderKind.PLAN_REVISED).get().context[
        "change"].startswith("Revised from 2027-03-05: hold")
    assert revision.engine_input["revisions"] == [
        {"kind": "hold", "from_date": "2027-03-05", "days": 3}
    ]


@pytest.mark.parametrize("kind", [RevisionKind.STEP_BACK, RevisionKind.SLOW_DOWN])
def test_stepping_back_or_slowing_down_lengthens_the_plan(
    alice: Any, running: TaperPlan, kind: RevisionKind
) -> None:
    old_end = running.current_revision.end_date
    with time_machine.travel(NOW, tick=False):
        revision = services.plan_revise(plan=running, by=alice, kind=kind,
                                        from_date=dt.date(2027, 3, 4))
    assert revision.end_date > old_end
    assert revision.review_state == RevisionReview.NOT_NEEDED


def test_a_revision_cannot_rewrite_past_days(alice: Any, running: TaperPlan) -> None:
    with time_machine.travel(NOW, tick=False), pytest.raises(ValidationError) as refusal:
        services.plan_revise(plan=running, by=alice, kind=RevisionKind.SLOW_DOWN,
                             from_date=dt.date(2027, 3, 2))
    assert "from_date" in refusal.value.message_dict
    assert running.revisions.count() == 1


def test_a_revision_of_a_flagged_plan_waits_for_another_reviewer(
    alice: Any, patient: Patient, django_user_model: Any, clinic: Any
) -> None:
    patient.creatinine_clearance_ml_min = 25
    patient.save()
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_submit(plan=plan, by=alice)
    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    services.plan_approve(plan=plan, by=bob)
    with time_machine.travel(dt.datetime(2027, 2, 25, tzinfo=dt.UTC)):
        services.plan_activate(plan=plan, by=alice)
    plan.refresh_from_db()
    first = plan.current_revision
    with time_machine.travel(NOW, tick=False):
        revision = services.plan_revise(plan=plan, by=alice, kind=RevisionKind.SLOW_DOWN,
                                        from_date=dt.date(2027, 3, 5))
        plan.refresh_from_db()
        assert revision.review_state == RevisionReview.PENDING
        assert plan.current_revision == first
        assert plan.status == PlanStatus.ACTIVE
        with pytest.raises(PermissionDenied):
            services.revision_approve(plan=plan, by=alice)
        services.revision_approve(plan=plan, by=bob)
    plan.refresh_from_db()
    assert plan.current_revision == revision
    assert Dose.objects.filter(plan=plan, revision=revision).exists()


def test_the_revise_page_names_the_field_it_refuses(
    client: Client, alice: Any, running: TaperPlan
) -> None:
    url = reverse("plan_revise", args=[running.pk])
    with time_machine.travel(NOW, tick=True):
        client.force_login(alice)
        missing_days = client.post(url, {"kind": "hold", "from_date": "2027-03-05"})
        assert missing_days.status_code == 200, missing_days.content[:300]
        assert "days" in missing_days.context["form"].errors
        past = client.post(url, {"kind": "slow_down", "from_date": "2027-03-01"})
        assert "from_date" in past.context["form"].errors
        done = client.post(url, {"kind": "slow_down", "from_date": "2027-03-05"})
    assert done.status_code == 302
    assert running.revisions.count() == 2


def test_a_reviewer_decides_on_the_review_page_and_a_rejection_needs_a_comment(
    client: Client, alice: Any, patient: Patient, django_user_model: Any, clinic: Any
) -> None:
    patient.creatinine_clearance_ml_min = 25
    patient.save()
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_submit(plan=plan, by=alice)
    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    client.force_login(bob)
    page = client.get(reverse("plan", args=[plan.pk])).content.decode()
    assert reverse("plan_review", args=[plan.pk]) in page
    review_page = client.get(reverse("plan_review", args=[plan.pk])).content.decode()
    assert 'value="approve"' in review_page
    refused = client.post(
        reverse("plan_review", args=[plan.pk]), review_post(plan, "reject", "")
    )
    assert refused.status_code == 400
    assert 'id="id_comment-error"' in refused.content.decode()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PENDING_REVIEW
    client.post(reverse("plan_review", args=[plan.pk]), review_post(plan, "approve"))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED
    client.force_login(alice)  # a clinician, not a reviewer
    assert client.post(reverse("plan_review", args=[plan.pk]),
                       {"decision": "approve", "revision": plan.current_revision_id}
                       ).status_code == 403


def reviewed_running_plan(patient: Patient, author: Any, reviewer: Any) -> TaperPlan:
    """A running plan of a clinic that reviews every plan, so its revisions wait too."""
    patient.clinic.require_review_for_all_plans = True
    patient.clinic.save()
    plan = services.plan_create(patient=patient, by=author, engine_input=engine_input(patient))
    services.plan_submit(plan=plan, by=author)
    services.plan_approve(plan=plan, by=reviewer)
    return services.plan_activate(plan=plan, by=author)


def test_cancelling_a_plan_withdraws_its_revision_from_review(
    client: Client, alice: Any, patient: Patient, clinic: Any, django_user_model: Any
) -> None:
    from planner.models import PlanRevision

    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    plan = reviewed_running_plan(patient, alice, bob)
    with time_machine.travel(dt.datetime(2027, 3, 2, 12, tzinfo=dt.UTC)):
        pending = services.plan_revise(plan=plan, by=alice, kind=RevisionKind.HOLD,
                                       from_date=dt.date(2027, 3, 4), days=2)
    assert pending.review_state == RevisionReview.PENDING
    services.plan_cancel(plan=plan, by=alice, reason="Adverse reaction")
    pending = PlanRevision.objects.get(pk=pending.pk)
    assert pending.review_state == RevisionReview.REJECTED
    withdrawn = pending.history.get(review_state=RevisionReview.REJECTED)
    assert withdrawn.history_change_reason == "Withdrawn from review: the plan was cancelled."
    assert withdrawn.history_user == alice
    client.force_login(bob)
    assert client.get(reverse("review_queue")).context["items"] == []
    page = client.get(reverse("plan_review", args=[plan.pk]))
    assert page.status_code == 302  # nothing waits for review


def test_a_revision_is_compared_with_the_version_in_force_not_a_rejected_one(
    alice: Any, patient: Patient, clinic: Any, django_user_model: Any
) -> None:
    from clinic import reviews

    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    plan = reviewed_running_plan(patient, alice, bob)
    with time_machine.travel(dt.datetime(2027, 3, 2, 12, tzinfo=dt.UTC)):
        services.plan_revise(plan=plan, by=alice, kind=RevisionKind.HOLD,
                             from_date=dt.date(2027, 3, 4), days=5)
        services.revision_reject(plan=plan, by=bob, comment="Too long a hold")
        pending = services.plan_revise(plan=plan, by=alice, kind=RevisionKind.HOLD,
                                       from_date=dt.date(2027, 3, 4), days=2)
    plan.refresh_from_db()
    changes = reviews.review_page(plan, pending)["changes"]
    assert changes["before"].pk == plan.current_revision_id  # revision 1, in force
    assert changes["before"].number == 1


def finished(plan: TaperPlan) -> dt.date:
    """Let the dispatcher mark the plan completed; returns its last dosing day."""

    end = plan.current_revision.end_date
    services.plans_complete(now=dt.datetime.combine(end + dt.timedelta(days=3), dt.time(12),
                                                    tzinfo=dt.UTC))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED
    return end


def test_a_step_back_days_after_the_end_resumes_the_last_level_taken(
    client: Client, alice: Any, running: TaperPlan
) -> None:
    end = finished(running)
    last_level = running.current_revision.engine_output["steps"][-1]["daily_total_mg"]
    resume = end + dt.timedelta(days=5)  # withdrawal showed after the last cut
    with time_machine.travel(dt.datetime.combine(resume, dt.time(15), tzinfo=dt.UTC), tick=False):
        client.force_login(alice)
        page = client.get(reverse("plan", args=[running.pk])).content.decode()
        assert "Hold or step back (until" in page
        revision = services.plan_revise(plan=running, by=alice, kind=RevisionKind.STEP_BACK,
                                        from_date=resume)
    running.refresh_from_db()
    assert running.status == PlanStatus.ACTIVE
    assert running.current_revision == revision
    assert revision.end_date > resume
    resumed = [d for d in live_doses(running) if d[0] >= resume]
    assert resumed, "the resumed plan schedules doses again"
    first_day = [amount for day, _, amount in resumed if day == resume]
    assert float(sum(first_day)) == float(last_level)
    assert running.history.latest().status == PlanStatus.ACTIVE


def test_a_finished_plan_cannot_be_resumed_after_the_protocols_window_or_slowed_down(
    alice: Any, running: TaperPlan
) -> None:
    end = finished(running)
    late = end + dt.timedelta(days=8)  # after_end_days is 7 in baclofen-oral
    at_late = dt.datetime.combine(late, dt.time(15), tzinfo=dt.UTC)
    with time_machine.travel(at_late, tick=False), pytest.raises(
        services.PlanStateError, match="completed"
    ):
        services.plan_revise(plan=running, by=alice, kind=RevisionKind.STEP_BACK, from_date=late)
    soon = end + dt.timedelta(days=2)
    at_soon = dt.datetime.combine(soon, dt.time(15), tzinfo=dt.UTC)
    with time_machine.travel(at_soon, tick=False), pytest.raises(
        services.PlanStateError, match="only a hold or a step back"
    ):
        services.plan_revise(plan=running, by=alice, kind=RevisionKind.SLOW_DOWN, from_date=soon)
    running.refresh_from_db()
    assert running.status == PlanStatus.COMPLETED
    assert running.revisions.count() == 1
