"""Telling a plan's author what the reviewer decided: a notice in the app at once, and
an e-mail through the reminder ledger (a `review_decision` row: claimed by the
dispatcher, retried with backoff if the mail server is away, failed and visible if it
cannot be sent, at most once per decision). The e-mail names no patient: it links to
the plan."""

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
        return _notice_with_email(plan, review, author, subject, body)


def _notice_with_email(
    plan: TaperPlan, review: PlanReview, author: User, subject: str, body: str
) -> Notice:
    row = None
    if author.email:
        # The in-app notice is the row's own: delivering the row sends the e-mail and
        # leaves this notice as it is (reminders.channels.InAppChannel).
        row = dispatch.reminder_add(
            plan=plan, kind=ReminderKind.REVIEW_DECISION, recipient=Recipient.STAFF,
            key=f"review-{review.pk}", due_at=timezone.now(),
        )  # fmt: skip
    return Notice.objects.create(user=author, subject=subject, body=body, reminder=row)


def review_queue_notify(*, plan: TaperPlan, revision: PlanRevision, by: User) -> list[Notice]:
    """A plan (or a revision of a running one) entered the review queue: every active
    reviewer of the clinic but its author gets a notice on their dashboard. Like the
    decision e-mail, it names no patient: it links to the review page."""
    reviewers = (
        User.objects.filter(
            is_active=True,
            staff__clinic_id=plan.patient.clinic_id,
            groups__name=Role.REVIEWER.value,
        )
        .exclude(pk=by.pk)
        .distinct()
    )
    what = f"Plan {plan.pk}" if revision.number == 1 or plan.status == "pending_review" else (
        f"Revision {revision.number} of plan {plan.pk}"
    )
    url = settings.SITE_URL + reverse("plan_review", args=[plan.pk])
    return Notice.objects.bulk_create(
        Notice(user=reviewer, subject=f"{what} waits for your review",
               body=f"{what} was sent for review by {by.get_username()}: {url}")
        for reviewer in reviewers
    )


def notice_mark_read(*, user: User, notice_id: int) -> int:
    return Notice.objects.filter(pk=notice_id, user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
