"""Telling a plan's author what the reviewer decided: a notice in the app at once, and
an e-mail sent by a Celery task after the decision is committed (retried if the mail
server is away). The e-mail names no patient: it links to the plan."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from planner.models import PlanReview, ReviewDecision, TaperPlan
from reminders.models import Notice


def _author(plan: TaperPlan, review: PlanReview) -> User | None:
    author = review.revision.created_by
    return author if author is not None and author.is_active else None


def review_decision_notify(*, plan: TaperPlan, review: PlanReview) -> Notice | None:
    """One notice for the author of the reviewed revision; its e-mail follows on commit."""
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
    notice = Notice.objects.create(user=author, subject=subject, body=body)
    if author.email:
        from planner import tasks

        transaction.on_commit(lambda: tasks.notice_email.delay(notice.pk))
    return notice


def notice_email_send(notice_id: int) -> bool:
    """Send one staff notice by e-mail; False when there is nobody to send it to."""
    notice = Notice.objects.select_related("user").filter(pk=notice_id).first()
    if notice is None or notice.user is None or not notice.user.email:
        return False
    send_mail(
        subject=notice.subject,
        message=notice.body,
        from_email=None,
        recipient_list=[notice.user.email],
    )
    return True


def notice_mark_read(*, user: User, notice_id: int) -> int:
    return Notice.objects.filter(pk=notice_id, user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
