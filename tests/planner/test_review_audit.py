"""Review and audit (issue #7): the queue, four eyes, the rejection round trip, the
author's notices, history rows for every change path, the access log, the admin."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from planner import services
from planner.models import (
    AccessAction,
    AccessLogEntry,
    Patient,
    PlanStatus,
    RevisionKind,
    RevisionReview,
    TaperPlan,
)
from planner.roles import Role
from reminders import dispatch, feeds
from reminders.models import AbruptStopAlert, AlertReason, Caregiver, Notice, ReminderKind
from tests.support.clock import NOW
from tests.support.factories import make_staff
from tests.support.plans import engine_input, plan_post, review_post


@pytest.fixture
def bob(django_user_model: Any, clinic: Any) -> Any:
    """A reviewer of the first clinic."""
    user = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    user.email = "bob@example.org"
    user.save()
    return user


@pytest.fixture
def dana(django_user_model: Any, clinic: Any) -> Any:
    """A clinician who is also a reviewer."""
    user = make_staff(django_user_model, "dana", clinic, Role.CLINICIAN)
    user.groups.add(Group.objects.get_or_create(name=Role.REVIEWER.value)[0])
    return user


def deliver_staff_emails() -> None:
    """What the dispatcher and a worker do next: staff e-mails are reminder rows."""
    from django.utils import timezone

    from reminders import dispatch
    from reminders.channels import configured_channels

    claimed = dispatch.reminders_claim_due(
        now=timezone.now(), limit=100, enqueue=lambda ids, claim: None
    )
    dispatch.reminders_deliver(
        reminder_ids=claimed, now=timezone.now(), channels=configured_channels()
    )


def flagged_plan(patient: Patient, by: Any) -> TaperPlan:
    patient.creatinine_clearance_ml_min = 25  # RENAL_SEVERE: critical, needs review
    patient.save()
    return services.plan_create(patient=patient, by=by, engine_input=engine_input(patient))


def test_reviewers_other_than_the_submitter_are_emailed_when_a_plan_enters_their_queue(
    alice: Any, bob: Any, dana: Any, charlie: Any, patient: Patient, clinic: Any,
    django_user_model: Any,
) -> None:
    # Erin reviews for the clinic but has no e-mail address: her notice stays in the app.
    make_staff(django_user_model, "erin", clinic, Role.REVIEWER)
    for user in (dana, charlie):
        user.email = f"{user.username}@example.org"
        user.save()
    plan = flagged_plan(patient, dana)
    services.plan_submit(plan=plan, by=dana)
    assert mail.outbox == []  # a ledger row each, sent by the dispatcher's task
    deliver_staff_emails()
    deliver_staff_emails()  # once per revision and reviewer, however often it runs
    # Bob only: not dana, who submitted it; not charlie, of another clinic; not alice.
    assert [m.to for m in mail.outbox] == [["bob@example.org"]]
    sent = mail.outbox[0]
    assert sent.subject == f"Plan {plan.pk} waits for your review"
    assert f"/clinic/plans/{plan.pk}/review/" in str(sent.body)
    output = plan.current_revision.engine_output
    dose = f"{output['steps'][0]['doses'][0]['amount_mg']} mg"
    for private in ("Sample", "Patient", "baclofen", "Baclofen", dose):
        assert private not in sent.subject
        assert private not in str(sent.body)
    assert Notice.objects.filter(user__username="erin").count() == 1
    assert Notice.objects.filter(user=bob).count() == 1  # the e-mail keeps its notice


def test_the_queue_lists_waiting_plans_oldest_first_with_what_a_reviewer_needs(
    client: Client, alice: Any, bob: Any, patient: Patient, clinic: Any, charlie: Any,
    other_clinic: Any,
) -> None:
    first = flagged_plan(patient, alice)
    with time_machine.travel(NOW):
        services.plan_submit(plan=first, by=alice)
    second = services.plan_create(
        patient=patient, by=alice,
        engine_input=engine_input(patient, pace={"length_days": 10, "step_days": 2}),
    )
    with time_machine.travel(NOW - dt.timedelta(days=1)):
        services.plan_submit(plan=second, by=alice)
    elsewhere = Patient.objects.create(
        clinic=other_clinic, given_name="Oz", family_name="Other", sex="female",
        date_of_birth=dt.date(1970, 5, 5), home_timezone="UTC",
        creatinine_clearance_ml_min=20,
    )
    services.plan_submit(plan=flagged_plan(elsewhere, charlie), by=charlie)

    client.force_login(bob)
    page = client.get(reverse("review_queue")).content.decode()
    assert page.index(f"Plan {second.pk}") < page.index(f"Plan {first.pk}")  # oldest first
    assert "Other" not in page  # another clinic's queue
    assert "severe (CrCl &lt; 30)" in page or "severe (CrCl < 30)" in page
    assert "alice" in page
    assert f"{age_now(patient)}</td>" in page
    assert "10 / " in page
    assert "shorter" in page
    # Critical flags come before warnings in each row.
    row = page[page.index(f"Plan {first.pk}"):]
    assert row.index("CRITICAL") < row.index("</tr>")


def age_now(patient: Patient) -> int:
    from planner.engine_input import age_on

    return age_on(patient.date_of_birth, dt.date(2027, 3, 1))


def test_nobody_approves_their_own_plan_even_as_a_reviewer(
    client: Client, dana: Any, patient: Patient
) -> None:
    plan = flagged_plan(patient, dana)
    services.plan_submit(plan=plan, by=dana)
    with pytest.raises(PermissionDenied):
        services.plan_approve(plan=plan, by=dana)
    with pytest.raises(PermissionDenied):
        services.review_decide(plan=plan, by=dana, approve=False, comment="mine")
    client.force_login(dana)
    page = client.get(reverse("plan_review", args=[plan.pk])).content.decode()
    assert "another reviewer has to decide" in page
    refused = client.post(reverse("plan_review", args=[plan.pk]), review_post(plan, "approve"))
    assert refused.status_code == 400
    assert "someone other than its author" in refused.content.decode()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PENDING_REVIEW


def test_nobody_approves_their_own_revision(dana: Any, bob: Any, patient: Patient) -> None:
    plan = flagged_plan(patient, dana)
    services.plan_submit(plan=plan, by=dana)
    services.plan_approve(plan=plan, by=bob)
    with time_machine.travel(dt.datetime(2027, 2, 25, tzinfo=dt.UTC)):
        services.plan_activate(plan=plan, by=dana)
    with time_machine.travel(dt.datetime(2027, 3, 4, 9, tzinfo=dt.UTC), tick=False):
        revision = services.plan_revise(
            plan=plan, by=dana, kind=RevisionKind.SLOW_DOWN, from_date=dt.date(2027, 3, 5)
        )
        assert revision.review_state == RevisionReview.PENDING
        with pytest.raises(PermissionDenied):
            services.revision_approve(plan=plan, by=dana)
        services.revision_approve(plan=plan, by=bob)
    revision.refresh_from_db()
    assert revision.review_state == RevisionReview.APPROVED


def test_the_rejection_round_trip_with_notices_and_emails(
    client: Client, alice: Any, bob: Any, patient: Patient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    alice.email = "alice@example.org"
    alice.save()
    plan = flagged_plan(patient, alice)
    services.plan_submit(plan=plan, by=alice)

    client.force_login(bob)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("plan_review", args=[plan.pk]),
            review_post(plan, "reject", "Hold each step longer for the kidneys"),
        )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT
    notice = Notice.objects.get(user=alice)
    assert "returned to you" in notice.subject
    assert mail.outbox == []  # the e-mail is a ledger row, sent by the dispatcher
    deliver_staff_emails()
    deliver_staff_emails()  # once per decision, however often the dispatcher runs
    # Bob was told the plan waits for him; alice, what he decided.
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.org", "bob@example.org"]
    assert Notice.objects.filter(user=alice).count() == 1  # the e-mail keeps its notice
    decision = next(m for m in mail.outbox if m.to == ["alice@example.org"])
    assert "Sample" not in str(decision.body)  # no patient name
    assert "Sample" not in str(decision.subject)

    # The author sees the comment on the dashboard notice, the plan page and the edit page.
    client.force_login(alice)
    assert "returned to you" in client.get(reverse("dashboard")).content.decode()
    assert "Hold each step longer" in client.get(reverse("plan", args=[plan.pk])).content.decode()
    edit = client.get(reverse("plan_edit", args=[plan.pk])).content.decode()
    assert "Hold each step longer" in edit
    assert 'value="10.00"' in edit or 'value="10"' in edit  # the draft's doses, pre-filled
    changed = client.post(
        reverse("plan_edit", args=[plan.pk]),
        plan_post(pace="slower", submission_key=""),
    )
    assert changed.status_code == 302
    plan.refresh_from_db()
    assert plan.current_revision.number == 2
    assert plan.current_revision.kind == RevisionKind.DRAFT_EDIT
    client.post(reverse("plan_submit", args=[plan.pk]))
    client.post(reverse("notice_read", args=[notice.pk]))
    notice.refresh_from_db()
    assert notice.read_at is not None

    # The reviewer sees what changed against the rejected version, then approves.
    client.force_login(bob)
    review = client.get(reverse("plan_review", args=[plan.pk])).content.decode()
    assert "What changed since revision 1" in review
    assert "Length (days)" in review
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("plan_review", args=[plan.pk]), review_post(plan, "approve"))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED
    assert Notice.objects.filter(user=alice, subject__endswith="approved").exists()
    deliver_staff_emails()
    # The resubmitted revision is mailed to bob again, then the approval to alice.
    assert len(mail.outbox) == 4

    # Approval lets the clinician activate.
    client.force_login(alice)
    with time_machine.travel(dt.datetime(2027, 2, 25, tzinfo=dt.UTC)):
        client.force_login(alice)  # a fresh session on that day
        client.post(reverse("plan_activate", args=[plan.pk]))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE


def test_a_revision_under_review_shows_the_days_it_changes(
    client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    patient.clinic.require_review_for_all_plans = True
    patient.clinic.save()
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_submit(plan=plan, by=alice)
    services.plan_approve(plan=plan, by=bob)
    with time_machine.travel(dt.datetime(2027, 2, 25, tzinfo=dt.UTC)):
        services.plan_activate(plan=plan, by=alice)
    with time_machine.travel(dt.datetime(2027, 3, 4, 9, tzinfo=dt.UTC), tick=False):
        services.plan_revise(plan=plan, by=alice, kind=RevisionKind.HOLD,
                             from_date=dt.date(2027, 3, 5), days=3)
        client.force_login(bob)
        queue = client.get(reverse("review_queue")).content.decode()
        assert f"Plan {plan.pk}, revision 2 (hold the current step)" in queue
        page = client.get(reverse("plan_review", args=[plan.pk])).content.decode()
    assert "What changed since revision 1" in page
    assert "Last day" in page
    assert "with different doses" in page


def test_every_change_path_leaves_a_history_row_with_who(
    client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    client.force_login(alice)
    client.post(reverse("patient_edit", args=[patient.pk]), {
        "given_name": "Sam", "family_name": "Sample", "date_of_birth": "1980-01-02",
        "sex": "male", "home_timezone": "America/New_York", "weight_kg": "81",
        "pregnancy_trimester": "0",
    })
    patient_rows = patient.history.order_by("history_date", "history_id")
    assert patient_rows.last().history_user == alice
    assert str(patient_rows.last().weight_kg) == "81.0"

    plan = flagged_plan(patient, alice)
    assert plan.history.count() >= 1
    revision = plan.current_revision
    assert revision.history.get().history_user == alice
    assert revision.flags.first().history.get().history_user == alice
    assert revision.regimen.history.count() == 1
    assert revision.regimen.doses.first().history.count() == 1
    services.plan_submit(plan=plan, by=alice)
    client.force_login(bob)
    client.post(reverse("plan_review", args=[plan.pk]), review_post(plan, "approve"))
    latest = plan.history.latest()
    assert latest.status == PlanStatus.APPROVED
    assert latest.history_user == bob
    assert plan.current_revision.reviews.get().history.get().history_user == bob

    # Feed tokens: issued and revoked, by whom.
    feeds.feed_token_issue(patient=patient, by=alice)
    feeds.feed_token_revoke(patient=patient, by=alice)
    token = patient.feed_tokens.get()
    rows = token.history.order_by("history_date", "history_id")
    assert [row.history_type for row in rows] == ["+", "~"]
    assert token.history.latest().history_user == alice

    # Bulk paths: completing plans and closing alerts keep their history too.
    with time_machine.travel(dt.datetime(2027, 2, 25, tzinfo=dt.UTC)):
        services.plan_activate(plan=plan, by=alice)
    alert = AbruptStopAlert.objects.create(
        plan=plan, reason=AlertReason.CONSECUTIVE_MISSED, since=NOW, raised_at=NOW
    )
    assert dispatch.alerts_close_on_confirmed_dose(plan_id=plan.pk, now=NOW) == 1
    assert alert.history.latest().closed_at == NOW
    assert alert.history.latest().history_change_reason == "a dose was confirmed"
    after_the_end = dt.datetime.combine(
        plan.current_revision.end_date + dt.timedelta(days=3), dt.time(), tzinfo=dt.UTC
    )
    assert services.plans_complete(now=after_the_end) == 1
    newest = plan.history.order_by("-history_id").first()
    assert newest.status == PlanStatus.COMPLETED
    assert newest.history_change_reason == "last dosing day passed"


def test_viewing_records_writes_the_access_log_and_reviewers_read_it(
    client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    plan = flagged_plan(patient, alice)
    services.plan_submit(plan=plan, by=alice)
    client.force_login(alice)
    for name in ["plan", "plan_handout", "plan_calendar"]:
        assert client.get(reverse(name, args=[plan.pk])).status_code == 200
    assert client.get(reverse("patient", args=[patient.pk])).status_code == 200
    assert client.get(reverse("plan_audit", args=[plan.pk])).status_code == 403  # not a reviewer
    client.force_login(bob)
    client.get(reverse("plan_review", args=[plan.pk]))
    entries = list(
        AccessLogEntry.objects.order_by("at", "id").values_list("user__username", "action")
    )
    assert entries == [
        ("alice", AccessAction.PLAN_PAGE),
        ("alice", AccessAction.HANDOUT),
        ("alice", AccessAction.PLAN_CALENDAR),
        ("alice", AccessAction.PATIENT_PAGE),
        ("bob", AccessAction.REVIEW_PAGE),
    ]
    assert all(e.plan_id == plan.pk for e in AccessLogEntry.objects.exclude(
        action=AccessAction.PATIENT_PAGE))
    audit = client.get(reverse("plan_audit", args=[plan.pk])).content.decode()
    assert "Opened the printable handout" in audit
    assert "Viewed the patient&#x27;s page" in audit or "Viewed the patient's page" in audit
    assert f"Plan {plan.pk}" in audit
    assert "Created" in audit
    assert "status: draft → pending_review" in audit


# --- the admin --------------------------------------------------------------------------


@pytest.fixture
def everything(alice: Any, bob: Any, patient: Patient) -> TaperPlan:
    """One of every kind of row, so every admin page has something to show."""
    from reminders.models import CheckIn, PumpRefill

    plan = flagged_plan(patient, alice)
    services.plan_submit(plan=plan, by=alice)
    services.plan_approve(plan=plan, by=bob)
    with time_machine.travel(dt.datetime(2027, 2, 25, tzinfo=dt.UTC)):
        services.plan_activate(plan=plan, by=alice)
    dispatch.reminder_add(plan=plan, kind=ReminderKind.CHECK_IN, key="k", due_at=NOW)
    AbruptStopAlert.objects.create(plan=plan, reason=AlertReason.CONSECUTIVE_MISSED,
                                   since=NOW, raised_at=NOW)
    feeds.feed_token_issue(patient=patient, by=alice)
    Notice.objects.create(user=alice, subject="s", body="b")
    CheckIn.objects.create(plan=plan, answered_at=NOW, answers={}, severe=False)
    PumpRefill.objects.create(plan=plan, refilled_on=dt.date(2027, 2, 1), recorded_by=alice)
    Caregiver.objects.create(patient=patient, name="Maria", email="maria@example.net",
                             added_by=alice, invite_nonce="n", invited_at=NOW)  # fmt: skip
    AccessLogEntry.objects.create(user=alice, patient=patient, plan=plan,
                                  action=AccessAction.PLAN_PAGE, at=NOW)
    from reminders.health import worker_heartbeat_record

    worker_heartbeat_record(hostname="w1")
    from api.tokens import token_issue
    from portal.services import preferences_for

    token_issue(user=alice)
    preferences_for(patient)
    # django-axes' rows: one failed and one successful sign-in through the real login page.
    login = reverse("login")
    Client().post(login, {"username": "alice", "password": "wrong"})
    Client().post(login, {"username": "bob", "password": "wrong"})
    signed_in = Client().post(login, {"username": "bob", "password": "pw-for-tests-1"})
    assert signed_in.status_code == 302
    return plan


def test_every_admin_page_loads(admin_client: Client, everything: TaperPlan) -> None:
    from django.contrib import admin

    checked = 0
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        base = f"admin:{meta.app_label}_{meta.model_name}"
        changelist = admin_client.get(reverse(f"{base}_changelist"))
        assert changelist.status_code == 200, meta.label
        assert admin_client.get(reverse(f"{base}_changelist"), {"q": "1"}).status_code == 200
        if model_admin.has_add_permission(changelist.wsgi_request):
            assert admin_client.get(reverse(f"{base}_add")).status_code == 200, meta.label
        obj = model._default_manager.first()
        assert obj is not None, f"no {meta.label} row to open"
        assert admin_client.get(reverse(f"{base}_change", args=[obj.pk])).status_code == 200
        assert admin_client.get(reverse(f"{base}_history", args=[obj.pk])).status_code == 200
        checked += 1
    assert checked >= 20


def admin_form_data(page: Any) -> dict[str, Any]:
    """The POST an admin change page sends back unchanged: its form's editable fields
    and every inline formset's management and form data."""
    assert page.status_code == 200
    data: dict[str, Any] = {}
    forms = [page.context["adminform"].form]
    for inline in page.context.get("inline_admin_formsets", []):
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
        forms += formset.forms
    for form in forms:
        for name in form.fields:
            value = form.initial.get(name)
            data[form.add_prefix(name)] = "" if value is None else value
    return data


def test_the_admin_cannot_approve_or_revert_a_plan_around_the_review(
    admin_client: Client, alice: Any, patient: Patient
) -> None:
    plan = flagged_plan(patient, alice)
    services.plan_submit(plan=plan, by=alice)
    change = reverse("admin:planner_taperplan_change", args=[plan.pk])
    # The change form as the admin page would send it back (inline management data
    # included, so the form is valid), with the status changed to approved.
    data = admin_form_data(admin_client.get(change))
    data.update(status="approved", requires_review="")
    saved = admin_client.post(change, data)
    assert saved.status_code == 302  # the form was valid and saved ...
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PENDING_REVIEW  # ... without the status
    # "Revert to this version" from the history is switched off: a draft stays pending.
    draft = plan.history.earliest()
    revert = reverse("admin:planner_taperplan_simple_history", args=[plan.pk, draft.history_id])
    revert_data = admin_form_data(admin_client.get(revert))
    assert admin_client.post(revert, revert_data).status_code == 403
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PENDING_REVIEW
    assert admin_client.post(
        reverse("admin:planner_taperplan_delete", args=[plan.pk]), {"post": "yes"}
    ).status_code == 403
    assert TaperPlan.objects.filter(pk=plan.pk).exists()


def test_a_decision_counts_only_for_the_version_the_reviewer_saw(
    client: Client, alice: Any, bob: Any, django_user_model: Any, clinic: Any,
    patient: Patient,
) -> None:
    """Bob opens the review page; meanwhile Carol rejects, Alice changes the plan and
    submits it again. Bob's Approve, sent for the version he saw, must not approve the
    new one that nobody has looked at."""
    carol = make_staff(django_user_model, "carol", clinic, Role.REVIEWER)
    plan = flagged_plan(patient, alice)
    services.plan_submit(plan=plan, by=alice)
    client.force_login(bob)
    assert client.get(reverse("plan_review", args=[plan.pk])).status_code == 200
    seen = review_post(plan, "approve")

    services.plan_reject(plan=plan, by=carol, comment="Slower, please")
    services.plan_draft_update(
        plan=plan, by=alice, engine_input=engine_input(patient, pace="slower")
    )
    services.plan_submit(plan=plan, by=alice)

    with pytest.raises(services.StaleReviewError):
        services.review_decide(plan=plan, by=bob, approve=True, seen_revision_id=seen["revision"])
    stale = client.post(reverse("plan_review", args=[plan.pk]), seen)
    assert stale.status_code == 302
    assert stale["Location"] == reverse("plan_review", args=[plan.pk])
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PENDING_REVIEW
    page = client.get(stale["Location"]).content.decode()
    assert "changed after you opened it" in page
    # Now that he sees the new version, his decision counts.
    client.post(reverse("plan_review", args=[plan.pk]), review_post(plan, "approve"))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED
