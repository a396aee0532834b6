"""Telling a plan's author what the reviewer decided, and the clinic's reviewers that a
plan waits for them: a notice in the app at once, and an e-mail through the reminder
ledger (a `review_decision` or `review_queued` row: claimed by the dispatcher, retried
with backoff if the mail server is away, failed and visible if it cannot be sent, at most
once per decision, and per revision and reviewer). The e-mail names no patient, drug or
dose: it links to the plan."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from planner.models import PlanReview, PlanRevision, ReviewDecision, TaperPlan
from planner.roles import Role
from reminders import dispatch
from reminders.models import Notice, Recipient, ReminderKind


def _author(plan: TaperPlan, review: PlanReview) -> User | None:
    author = review.revision.created_by
    return author if author is not None and author.is_active else None


def review_decision_notify(*, plan: TaperPlan, review: PlanReview) -> Notice | None:
    """One notice for the author of the reviewed revision; its e-mail is a ledger row."""
    author = _author(plan, review)
    if author is None:
        return None
    what = f"Plan {plan.pk}" if review.revision.number == 1 else (
        f"Revision {review.revision.number} of plan {plan.pk}"
    )
    url = settings.SITE_URL + reverse("plan", args=[plan.pk])
    if review.decision == ReviewDecision.APPROVED:
        subject = f"{what} approved"
        if review.revision.number == 1:
            body = f"{what} was approved by a reviewer. You can now activate it: {url}"
        else:
            body = f"{what} was approved and is now in force: {url}"
    else:
        subject = f"{what} returned to you"
        body = (
            f"{what} was not approved. The reviewer's comment is on the plan page; "
            f"change the plan and submit it again: {url}"
        )
    with transaction.atomic():  # the row is claimed only with its notice beside it
        return _notice_with_email(
            plan, author, subject, body, ReminderKind.REVIEW_DECISION, f"review-{review.pk}"
        )


def _notice_with_email(
    plan: TaperPlan, user: User, subject: str, body: str, kind: ReminderKind, key: str
) -> Notice:
    """The in-app notice and, for a user with an e-mail address, its ledger row (at most
    one per plan, kind and key)."""
    row = None
    if user.email:
        # The in-app notice is the row's own: delivering the row sends the e-mail and
        # leaves this notice as it is (reminders.channels.InAppChannel).
        row = dispatch.reminder_add(
            plan=plan, kind=kind, recipient=Recipient.STAFF, key=key, due_at=timezone.now()
        )
    return Notice.objects.create(user=user, subject=subject, body=body, reminder=row)


def review_queue_notify(*, plan: TaperPlan, revision: PlanRevision, by: User) -> list[Notice]:
    """A plan (or a revision of a running one) entered the review queue: every active
    reviewer of the clinic but its author gets a notice on their dashboard and, with an
    e-mail address, the same words by e-mail (a `review_queued` ledger row, delivered by
    the dispatcher's Celery task like the decision e-mail). It names no patient, drug or
    dose: it links to the review page."""
    reviewers = (
        User.objects.filter(
            is_active=True,
            staff__clinic_id=plan.patient.clinic_id,
            groups__name=Role.REVIEWER.value,
        )
        .exclude(pk=by.pk)
        .distinct()
        .order_by("pk")
    )
    what = f"Plan {plan.pk}" if revision.number == 1 or plan.status == "pending_review" else (
        f"Revision {revision.number} of plan {plan.pk}"
    )
    url = settings.SITE_URL + reverse("plan_review", args=[plan.pk])
    subject = f"{what} waits for your review"
    body = f"{what} was sent for review by {by.get_username()}: {url}"
    with transaction.atomic():  # each row is claimed only with its notice beside it
        # One row per revision and reviewer: a resubmission of the same revision is not
        # mailed twice.
        return [
            _notice_with_email(
                plan,
                reviewer,
                subject,
                body,
                ReminderKind.REVIEW_QUEUED,
                f"queue-{revision.pk}-{reviewer.pk}",
            )
            for reviewer in reviewers
        ]


def notice_mark_read(*, user: User, notice_id: int) -> int:
    return Notice.objects.filter(pk=notice_id, user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
