"""Celery tasks of the planner: thin wrappers around services."""

from __future__ import annotations

import smtplib

from celery import shared_task

from planner import notifications


@shared_task(
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=12,
    acks_late=True,
)
def notice_email(notice_id: int) -> bool:
    return notifications.notice_email_send(notice_id)
