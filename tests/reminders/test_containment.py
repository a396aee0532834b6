"""Delivery never stalls (issue #16): a row that cannot be rendered fails alone, the
attempts cap holds at claim and at reclaim, and a failing stage of the dispatcher tick
stops no other stage."""

from __future__ import annotations

import collections
import datetime as dt
import logging
from typing import Any

import pytest
from django.test import override_settings

from planner import services
from planner.models import Patient, TaperPlan
from reminders import dispatch
from reminders.channels import Message
from reminders.models import (
    AbruptStopAlert,
    DispatchStage,
    Dose,
    Recipient,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from tests.support.clock import NOW
from tests.support.plans import engine_input

# Before the plans of the suite start (START): none of the plan's own rows is due.
T0 = NOW + dt.timedelta(days=4, hours=3)
MAX_ATTEMPTS = 3


class Counting:
    """A channel that counts each reminder it delivers."""

    name = "counting"

    def __init__(self) -> None:
        self.sent: collections.Counter[int] = collections.Counter()

    def send(self, message: Message) -> None:
        assert message.reminder_id is not None
        self.sent[message.reminder_id] += 1


@pytest.fixture
def plan(alice: Any, patient: Patient) -> TaperPlan:
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    patient.email = "sam@example.org"
    patient.save()
    services.plan_activate(plan=plan, by=alice)
    Reminder.objects.filter(plan=plan).delete()  # the test makes its own rows
    return plan


def rows(plan: TaperPlan, count: int, *, poison_every: int = 0, due: dt.datetime = T0) -> None:
    """`count` check-in reminders due at `due`; every `poison_every`-th one a refill row
    whose context lost its dates, so its subject cannot be rendered (a KeyError)."""
    Reminder.objects.bulk_create(
        Reminder(
            plan=plan,
            kind=ReminderKind.REFILL if poison_every and i % poison_every == 0 else (
                ReminderKind.CHECK_IN
            ),
            recipient=Recipient.PATIENT,
            key=f"row-{due:%H%M}-{i}",
            due_at=due,
        )
        for i in range(count)
    )


def tick_and_deliver(now: dt.datetime, channel: Counting, capture: Any) -> dict[str, int]:
    """One tick; then every claimed batch delivered as the workers would, 100 rows a task."""
    batches: list[tuple[list[int], str]] = []
    with capture(execute=True):
        done = dispatch.dispatch_tick(now=now, enqueue=lambda ids, c: batches.append((ids, c)))
    for ids, claim in batches:
        for start in range(0, len(ids), 100):
            dispatch.reminders_deliver(
                reminder_ids=ids[start : start + 100], now=now, channels=[channel], claim=claim
            )
    return done


@override_settings(REMINDER_MAX_ATTEMPTS=MAX_ATTEMPTS, REMINDER_BATCH_SIZE=2000)
def test_one_percent_poison_rows_among_10000_stall_nothing(
    plan: TaperPlan, django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rows(plan, 10_000, poison_every=100)
    poison = set(
        Reminder.objects.filter(kind=ReminderKind.REFILL).values_list("id", flat=True)
    )
    good = set(Reminder.objects.filter(kind=ReminderKind.CHECK_IN).values_list("id", flat=True))
    assert (len(poison), len(good)) == (100, 9_900)
    channel = Counting()

    now = T0
    claimed = []
    with caplog.at_level(logging.ERROR, logger="reminders.dispatch"):
        for _ in range(MAX_ATTEMPTS + 1):
            claimed.append(tick_and_deliver(now, channel, django_capture_on_commit_callbacks)[
                "claimed"
            ])
            now += dt.timedelta(hours=2)  # past the longest backoff

    # Every good row once, in the first tick; the poison rows tried MAX_ATTEMPTS times.
    assert claimed == [10_000, 100, 100, 0]
    assert set(channel.sent) == good
    assert set(channel.sent.values()) == {1}
    assert Reminder.objects.filter(id__in=good, status=ReminderStatus.SENT).count() == 9_900
    failed = Reminder.objects.filter(id__in=poison)
    assert {(r.status, r.attempts) for r in failed} == {(ReminderStatus.FAILED, MAX_ATTEMPTS)}
    assert all(r.last_error.startswith("gave up: could not be sent: KeyError at ") for r in failed)
    # The log names the row and the error's class, never the patient.
    some = min(poison)
    assert any(
        f"reminder {some} could not be sent: KeyError" in record.getMessage()
        for record in caplog.records
    )
    assert "Sam" not in caplog.text
    assert "Sample" not in caplog.text
    # And the dispatcher keeps claiming: a row due now goes out at the next tick.
    rows(plan, 1, due=now)
    assert tick_and_deliver(now, channel, django_capture_on_commit_callbacks)["claimed"] == 1
    assert len(channel.sent) == 9_901


def test_a_poison_row_between_good_ones_fails_alone_and_the_others_are_recorded(
    plan: TaperPlan,
) -> None:
    rows(plan, 5, poison_every=3)  # rows 0 and 3 are poison
    ids = list(Reminder.objects.order_by("id").values_list("id", flat=True))
    dispatch.reminders_claim_due(now=T0, limit=10, enqueue=lambda i, c: None)
    channel = Counting()
    with override_settings(REMINDER_MAX_ATTEMPTS=1):
        outcomes = dispatch.reminders_deliver(reminder_ids=ids, now=T0, channels=[channel])
    assert [outcomes[i] for i in ids] == ["failed", "sent", "sent", "failed", "sent"]
    assert sorted(channel.sent) == [ids[1], ids[2], ids[4]]
    statuses = dict(Reminder.objects.values_list("id", "status"))
    assert [statuses[i] for i in ids] == ["failed", "sent", "sent", "failed", "sent"]


def test_a_poison_row_under_its_cap_is_retried_with_backoff(plan: TaperPlan) -> None:
    rows(plan, 1, poison_every=1)
    [row_id] = dispatch.reminders_claim_due(now=T0, limit=10, enqueue=lambda i, c: None)
    with override_settings(REMINDER_MAX_ATTEMPTS=3):
        assert dispatch.reminder_deliver(reminder_id=row_id, now=T0, channels=[Counting()]) == (
            "retry"
        )
    row = Reminder.objects.get(pk=row_id)
    assert (row.status, row.attempts, row.due_at) == (
        ReminderStatus.PENDING, 1, T0 + dt.timedelta(seconds=30),
    )  # fmt: skip
    assert row.last_error.startswith("could not be sent: KeyError at messages.py:")


@override_settings(REMINDER_MAX_ATTEMPTS=2, REMINDER_CLAIM_TIMEOUT_SECONDS=60)
def test_a_row_whose_delivery_never_finishes_fails_at_reclaim_after_its_attempts(
    plan: TaperPlan,
) -> None:
    """A row that kills its worker every time (no exception to catch): each delivery
    starts and never records; the reclaim gives it up after REMINDER_MAX_ATTEMPTS."""
    rows(plan, 1)
    now = T0
    for attempt in (1, 2):
        [row_id] = dispatch.reminders_claim_due(now=now, limit=10, enqueue=lambda i, c: None)
        dispatch._start_delivery([row_id], None, now)  # the worker dies right after this
        assert Reminder.objects.get(pk=row_id).attempts == attempt
        now += dt.timedelta(seconds=61)
        dispatch.reminders_reclaim_stale(now=now)
    row = Reminder.objects.get(pk=row_id)
    assert (row.status, row.last_error) == (
        ReminderStatus.FAILED, "gave up: the delivery never finished",
    )  # fmt: skip
    assert dispatch.reminders_claim_due(now=now, limit=10, enqueue=lambda i, c: None) == []


@override_settings(REMINDER_CLAIM_TIMEOUT_SECONDS=60)
def test_a_claim_whose_message_never_ran_costs_no_attempt(plan: TaperPlan) -> None:
    rows(plan, 1)
    now = T0
    with override_settings(REMINDER_MAX_ATTEMPTS=1):
        for _ in range(3):  # no worker ran the message three times over
            assert dispatch.reminders_claim_due(now=now, limit=10, enqueue=lambda i, c: None)
            now += dt.timedelta(seconds=61)
            assert dispatch.reminders_reclaim_stale(now=now) == 1
    assert Reminder.objects.get().attempts == 0


def test_a_row_over_the_cap_is_never_claimed_and_is_failed(plan: TaperPlan) -> None:
    rows(plan, 1)
    Reminder.objects.update(attempts=6)
    with override_settings(REMINDER_MAX_ATTEMPTS=6):
        assert dispatch.reminders_claim_due(now=T0, limit=10, enqueue=lambda i, c: None) == []
        dispatch.reminders_reclaim_stale(now=T0)
    assert Reminder.objects.get().status == ReminderStatus.FAILED


def test_a_broker_that_refuses_the_claim_gives_the_rows_back_at_once(
    plan: TaperPlan, django_capture_on_commit_callbacks: Any
) -> None:
    rows(plan, 3)

    def refuse(ids: list[int], claim: str) -> None:
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError), django_capture_on_commit_callbacks(execute=True):
        dispatch.reminders_claim_due(now=T0, limit=10, enqueue=refuse)
    assert set(Reminder.objects.values_list("status", "attempts", "claim_token")) == {
        (ReminderStatus.PENDING, 0, None)
    }


def test_a_failing_stage_stops_no_other_stage_and_is_recorded(
    plan: TaperPlan, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(**kwargs: object) -> int:
        raise ZeroDivisionError

    monkeypatch.setattr(dispatch, "doses_mark_missed", broken)
    monkeypatch.setattr(dispatch, "alerts_check_unconfirmed", broken)
    rows(plan, 3)
    with caplog.at_level(logging.ERROR, logger="reminders.health"):
        done = tick_and_deliver(T0, Counting(), django_capture_on_commit_callbacks)
    assert (done["claimed"], done["failed_stages"]) == (3, 2)
    assert "dispatcher stage missed_doses failed: ZeroDivisionError" in caplog.text
    stages = {s.name: s for s in DispatchStage.objects.all()}
    assert set(stages) == {
        "claim", "reclaim", "missed_doses", "maintenance", "alerts", "refills",
        "tick",
    }  # fmt: skip
    missed = stages["missed_doses"]
    assert (missed.last_failure_at, missed.last_success_at, missed.last_error) == (
        T0, None, "ZeroDivisionError",
    )  # fmt: skip
    assert (missed.failures_in_a_row, stages["claim"].last_success_at) == (1, T0)
    assert stages["tick"].last_success_at == T0
    later = T0 + dt.timedelta(minutes=1)
    tick_and_deliver(later, Counting(), django_capture_on_commit_callbacks)
    assert DispatchStage.objects.get(name="missed_doses").failures_in_a_row == 2
    monkeypatch.undo()
    latest = later + dt.timedelta(minutes=1)
    tick_and_deliver(latest, Counting(), django_capture_on_commit_callbacks)
    assert DispatchStage.objects.get(name="missed_doses").failures_in_a_row == 0


def test_a_stage_that_fails_midway_writes_nothing_of_its_work(
    plan: TaperPlan, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """Each stage is its own transaction: missed doses marked before the stage failed
    are rolled back with it, and the next tick marks them once."""
    first = plan.doses.order_by("due_at").first()
    assert first is not None
    late = first.catch_up_until + dt.timedelta(minutes=1)

    monkeypatch.setattr(Reminder.objects, "bulk_create", lambda *a, **k: 1 // 0)
    tick_and_deliver(late, Counting(), django_capture_on_commit_callbacks)
    first.refresh_from_db()
    assert first.status == "scheduled"  # rolled back with its stage
    monkeypatch.undo()
    tick_and_deliver(late, Counting(), django_capture_on_commit_callbacks)
    first.refresh_from_db()
    assert first.status == "missed"
    assert Reminder.objects.filter(dose=first, kind=ReminderKind.MISSED_DOSE).count() == 1


def test_a_plan_whose_alert_check_fails_stops_no_other_plans_alert(
    plan: TaperPlan, alice: Any, clinic: Any, monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    other_patient = Patient.objects.create(
        clinic=clinic, given_name="Ola", family_name="Other", sex="female",
        date_of_birth=dt.date(1975, 5, 5), home_timezone="America/New_York",
    )  # fmt: skip
    other = services.plan_create(
        patient=other_patient, by=alice, engine_input=engine_input(other_patient)
    )
    services.plan_activate(plan=other, by=alice)
    real = dispatch._check_consecutive_missed

    def broken_for_the_first(checked: TaperPlan, now: dt.datetime) -> None:
        if checked.pk == plan.pk:
            raise ValueError("bad data")
        real(checked, now)

    monkeypatch.setattr(dispatch, "_check_consecutive_missed", broken_for_the_first)
    second = plan.doses.order_by("due_at")[1]
    with caplog.at_level(logging.ERROR, logger="reminders.dispatch"):
        tick_and_deliver(
            second.catch_up_until + dt.timedelta(minutes=1), Counting(),
            django_capture_on_commit_callbacks,
        )  # fmt: skip
    assert AbruptStopAlert.objects.filter(plan=other, reason="consecutive_missed").exists()
    assert not AbruptStopAlert.objects.filter(plan=plan).exists()
    assert f"the two-missed-doses check failed for plan {plan.pk}: ValueError" in caplog.text
    assert Dose.objects.filter(plan=plan, status="missed").count() == 2  # still marked


@override_settings(REMINDER_CLAIM_TIMEOUT_SECONDS=300)
def test_a_delivery_that_started_late_is_not_reclaimed_while_it_runs(plan: TaperPlan) -> None:
    """The message waited in the queue for most of the claim timeout: the timeout counts
    from the start of the delivery, or the row would be sent again beside it."""
    rows(plan, 1)
    [row_id] = dispatch.reminders_claim_due(now=T0, limit=10, enqueue=lambda i, c: None)
    started = T0 + dt.timedelta(seconds=290)
    dispatch._start_delivery([row_id], None, started)
    assert dispatch.reminders_reclaim_stale(now=T0 + dt.timedelta(seconds=301)) == 0
    assert dispatch.reminders_reclaim_stale(now=started + dt.timedelta(seconds=301)) == 1
