"""The delivery side of planner's changes (planner.signals): reminder rows follow the
plan's doses, and the patient or the staff are told of a replacement, a revision, doses
a zone change dropped and review decisions. Connected in RemindersConfig.ready; each
runs in the sender's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.dispatch import receiver

from planner import signals
from planner.models import TaperPlan
from reminders import dispatch, notifications
from reminders.models import ReminderKind


@receiver(signals.doses_scheduled)
def _reminders_schedule(**kwargs: Any) -> None:
    dispatch.reminders_schedule(
        revision=kwargs["revision"], approved=kwargs["approved"], from_time=kwargs["from_time"]
    )


@receiver(signals.doses_withdrawn)
def _reminders_withdraw(**kwargs: Any) -> None:
    dispatch.reminders_withdraw_future(plan_id=kwargs["plan_id"], from_time=kwargs["from_time"])


@receiver(signals.dose_taken)
def _alerts_close(**kwargs: Any) -> None:
    dispatch.alerts_close_on_confirmed_dose(plan_id=kwargs["plan_id"], now=kwargs["now"])


def _notice(kind: ReminderKind, plan: TaperPlan, key: str, due_at: dt.datetime,
            context: dict[str, object]) -> None:
    dispatch.reminder_add(plan=plan, kind=kind, key=key, due_at=due_at, context=context)


@receiver(signals.doses_dropped)
def _zone_changed(**kwargs: Any) -> None:
    now = kwargs["now"]
    _notice(ReminderKind.ZONE_CHANGED, kwargs["plan"], f"zone-{now:%Y%m%d%H%M%S}", now,
            {"dropped": kwargs["dropped"]})


@receiver(signals.plan_replaced)
def _plan_replaced(**kwargs: Any) -> None:
    _notice(ReminderKind.PLAN_REPLACED, kwargs["plan"], kwargs["key"], kwargs["due_at"],
            kwargs["context"])


@receiver(signals.plan_revised)
def _plan_revised(**kwargs: Any) -> None:
    _notice(ReminderKind.PLAN_REVISED, kwargs["plan"], kwargs["key"], kwargs["due_at"],
            kwargs["context"])


@receiver(signals.review_requested)
def _review_requested(**kwargs: Any) -> None:
    notifications.review_queue_notify(
        plan=kwargs["plan"], revision=kwargs["revision"], by=kwargs["by"]
    )


@receiver(signals.review_decided)
def _review_decided(**kwargs: Any) -> None:
    notifications.review_decision_notify(plan=kwargs["plan"], review=kwargs["review"])
