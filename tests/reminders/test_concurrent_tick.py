"""Two of everything may run (issue #19): two dispatcher ticks at once, over the same due
rows, many times over, on PostgreSQL. No reminder is delivered twice, no dose gets a
second missed-dose follow-up, no episode a second alert, no plan a second completion."""

from __future__ import annotations

import collections
import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from planner import services
from planner.models import Patient, PlanStatus, TaperPlan
from reminders import dispatch
from reminders.channels import Message
from reminders.models import (
    AbruptStopAlert,
    Dose,
    DoseStatus,
    Recipient,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from tests.support.clock import START
from tests.support.plans import engine_input

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROUNDS = 40
EXTRA_ROWS_PER_ROUND = 150  # check-ins due at once, so both ticks compete for rows


class Counting:
    name = "counting"

    def __init__(self) -> None:
        self.sent: collections.Counter[int] = collections.Counter()
        self.lock = threading.Lock()

    def send(self, message: Message) -> None:
        assert message.reminder_id is not None
        with self.lock:
            self.sent[message.reminder_id] += 1


def at_once(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions in threads (each with its own database connection), released
    together by a barrier; re-raise the first error."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)
    errors: list[BaseException] = []

    def run(i: int, action: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = action()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def plans(alice: Any, clinic: Any) -> list[TaperPlan]:
    made = []
    for i in range(3):
        patient = Patient.objects.create(
            clinic=clinic, given_name="Con", family_name=f"Current {i}", sex="female",
            date_of_birth=dt.date(1970, 1, 1), home_timezone="UTC",
            email=f"con-{i}@example.org",
        )  # fmt: skip
        plan = services.plan_create(
            patient=patient, by=alice,
            engine_input=engine_input(patient, start_date=START.isoformat()),
        )  # fmt: skip
        made.append(services.plan_activate(plan=plan, by=alice))
    return made


@override_settings(REMINDER_BATCH_SIZE=40)
def test_two_ticks_at_once_never_duplicate_anything(plans: list[TaperPlan]) -> None:
    channel = Counting()
    now = dt.datetime.combine(START, dt.time(6), tzinfo=dt.UTC)
    claims: list[tuple[list[int], str]] = []
    lock = threading.Lock()

    def enqueue(ids: list[int], claim: str) -> None:
        with lock:
            claims.append((ids, claim))

    def deliver(batches: list[tuple[list[int], str]], moment: dt.datetime) -> Callable[[], None]:
        def run() -> None:
            for ids, claim in batches:
                dispatch.reminders_deliver(
                    reminder_ids=ids, now=moment, channels=[channel], claim=claim
                )

        return run

    ticks = []
    for round_number in range(ROUNDS):
        Reminder.objects.bulk_create(
            Reminder(
                plan=plans[i % len(plans)], kind=ReminderKind.CHECK_IN,
                recipient=Recipient.PATIENT, key=f"extra-{round_number}-{i}", due_at=now,
            )
            for i in range(EXTRA_ROWS_PER_ROUND)
        )  # fmt: skip
        moment = now

        def tick(moment: dt.datetime = moment) -> dict[str, int]:
            return dispatch.dispatch_tick(now=moment, enqueue=enqueue)

        ticks.append(at_once(tick, tick))
        # The two workers deliver what was claimed, each message once (and again at
        # once: a redelivered copy of the message running beside the original).
        batches, claims[:] = list(claims), []
        at_once(deliver(batches, moment), deliver(batches, moment))
        now += dt.timedelta(hours=5)  # every dose's window closes within two rounds

    assert all(t["failed_stages"] == 0 for pair in ticks for t in pair)
    # Both ticks really competed: in some rounds each of the two claimed rows.
    assert sum(1 for pair in ticks if all(t["claimed"] for t in pair)) >= ROUNDS // 4
    # No reminder delivered twice, and every row that was due and sendable delivered.
    assert channel.sent
    assert max(channel.sent.values()) == 1
    sent = set(
        Reminder.objects.filter(status=ReminderStatus.SENT).values_list("id", flat=True)
    )
    assert sent == set(channel.sent)
    assert not Reminder.objects.filter(status=ReminderStatus.SENDING).exists()
    assert not Reminder.objects.filter(status=ReminderStatus.FAILED).exists()
    # Every dose past its window was marked missed once, with one follow-up.
    missed = Dose.objects.filter(status=DoseStatus.MISSED)
    assert missed.count() > 3 * len(plans)
    follow_ups = collections.Counter(
        Reminder.objects.filter(kind=ReminderKind.MISSED_DOSE).values_list("dose_id", flat=True)
    )
    assert set(follow_ups) == set(missed.values_list("id", flat=True))
    assert set(follow_ups.values()) == {1}
    # One alert per episode: nobody confirmed a dose, so one episode per plan and reason,
    # and one clinic reminder per alert.
    alerts = collections.Counter(AbruptStopAlert.objects.values_list("plan_id", "reason"))
    assert set(alerts.values()) == {1}
    assert {reason for _plan, reason in alerts} == {"consecutive_missed", "no_confirmed_dose"}
    assert {plan for plan, _reason in alerts} == {plan.pk for plan in plans}
    alert_rows = collections.Counter(
        Reminder.objects.filter(kind=ReminderKind.ABRUPT_STOP_ALERT).values_list(
            "context__alert_id", flat=True
        )
    )
    assert set(alert_rows) == set(AbruptStopAlert.objects.values_list("id", flat=True))
    assert set(alert_rows.values()) == {1}


@override_settings(REMINDER_CLAIM_TIMEOUT_SECONDS=60)
def test_two_ticks_at_once_complete_a_plan_and_reclaim_a_row_once(
    plans: list[TaperPlan],
) -> None:
    plan = plans[0]
    assert plan.current_revision is not None
    after_the_end = dt.datetime.combine(
        plan.current_revision.end_date + dt.timedelta(days=2), dt.time(12), tzinfo=dt.UTC
    )
    Reminder.objects.filter(plan__in=plans).delete()
    Dose.objects.filter(plan__in=plans).update(status=DoseStatus.TAKEN)
    Reminder.objects.create(
        plan=plans[1], kind=ReminderKind.CHECK_IN, key="stale", due_at=after_the_end,
        status=ReminderStatus.SENDING, claimed_at=after_the_end - dt.timedelta(minutes=5),
    )  # fmt: skip
    results = at_once(
        *[lambda: dispatch.dispatch_tick(now=after_the_end, enqueue=lambda i, c: None)] * 2,
        # Completing plans is planner's own beat task (planner.tasks.complete_plans).
        *[lambda: services.plans_complete(now=after_the_end)] * 2,
    )
    assert sorted(r["reclaimed"] for r in results[:2]) == [0, 1]
    for each in plans:
        each.refresh_from_db()
        assert each.status == PlanStatus.COMPLETED
        completions = each.history.filter(status=PlanStatus.COMPLETED)
        assert completions.count() == 1
