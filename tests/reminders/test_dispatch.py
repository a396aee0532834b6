"""The reminder ledger: rows on activation, claiming, delivery, missed doses, alerts."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client, TestCase, override_settings
from django.urls import reverse

from planner import services
from planner.models import Patient, TaperPlan
from planner.schedule import Escalation, escalation_of, recorded_protocol
from reminders import actions, checkin, dispatch
from reminders.channels import (
    Channel,
    EmailChannel,
    InAppChannel,
    Message,
    PermanentError,
    TransientError,
)
from reminders.models import (
    AbruptStopAlert,
    AlertReason,
    Dose,
    DoseStatus,
    EmailAddressStatus,
    Notice,
    Recipient,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from reminders.preferences import email_failing_since
from tests.support.plans import dose_at, engine_input

NEW_YORK = ZoneInfo("America/New_York")
CHANNELS: list[Channel] = [EmailChannel(), InAppChannel()]


@pytest.fixture
def plan(alice: Any, patient: Patient) -> TaperPlan:
    alice.email = "alice@clinic.example"
    alice.save()
    patient.email = "sam@example.org"
    patient.save()
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    with time_machine.travel(dt.datetime(2027, 2, 20, tzinfo=dt.UTC)):
        services.plan_activate(plan=plan, by=alice)
    plan.refresh_from_db()
    return plan


def claim_due(**kwargs: Any) -> list[int]:
    """Claim due rows and commit: the rows are handed on only after the claim commits, and
    the test's own transaction never does."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return dispatch.reminders_claim_due(**kwargs)


def deliver_due(now: dt.datetime) -> list[str]:
    claimed: list[int] = []
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispatch.dispatch_tick(now=now, enqueue=lambda ids, claim: claimed.extend(ids))
    return [dispatch.reminder_deliver(reminder_id=i, now=now, channels=CHANNELS) for i in claimed]


def test_activation_makes_a_row_per_dose_and_the_notices(plan: TaperPlan) -> None:
    doses = Dose.objects.filter(plan=plan)
    assert Reminder.objects.filter(plan=plan, kind=ReminderKind.DOSE).count() == doses.count()
    changes = Reminder.objects.filter(plan=plan, kind=ReminderKind.DOSE_CHANGE)
    steps = plan.current_revision.engine_output["steps"]
    assert changes.count() == len(steps) - 1
    for change in changes:
        local = change.due_at.astimezone(NEW_YORK)
        assert local.time() == dt.time(19)
        assert local.date() == dt.date.fromisoformat(change.context["date"]) - dt.timedelta(1)
    assert Reminder.objects.filter(plan=plan, kind=ReminderKind.LAST_DOSE).count() == 1
    assert Reminder.objects.filter(plan=plan, kind=ReminderKind.CHECK_IN).count() >= 4


def test_a_second_row_for_the_same_dose_and_kind_is_refused(plan: TaperPlan) -> None:
    dose = Dose.objects.filter(plan=plan).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(
            plan=plan, dose=dose, kind=ReminderKind.DOSE, key="other", due_at=dose.due_at
        )


def test_an_8am_dose_is_due_at_8am_local_on_both_sides_of_the_dst_change(
    alice: Any, patient: Patient
) -> None:
    plan = services.plan_create(
        patient=patient, by=alice, engine_input=engine_input(patient, start_date="2027-03-10")
    )
    services.plan_activate(plan=plan, by=alice)
    before = dose_at(plan, "2027-03-13", "08:00")
    after = dose_at(plan, "2027-03-15", "08:00")
    assert before.due_at == dt.datetime(2027, 3, 13, 13, 0, tzinfo=dt.UTC)
    assert after.due_at == dt.datetime(2027, 3, 15, 12, 0, tzinfo=dt.UTC)
    assert Reminder.objects.get(dose=before, kind=ReminderKind.DOSE).due_at == before.due_at


def test_claimed_rows_are_enqueued_only_when_the_claim_commits(
    plan: TaperPlan, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.undo()
    now = dose_at(plan, "2027-03-01", "08:00").due_at
    enqueued: list[int] = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        claimed = dispatch.reminders_claim_due(
            now=now, limit=10, enqueue=lambda ids, claim: enqueued.extend(ids)
        )
    assert enqueued == []
    callbacks[0]()
    assert enqueued == claimed


def test_a_due_row_is_claimed_once_however_often_the_dispatcher_runs(plan: TaperPlan) -> None:
    now = dose_at(plan, "2027-03-01", "08:00").due_at
    first: list[int] = []
    second: list[int] = []
    claim_due(now=now, limit=100, enqueue=lambda ids, claim: first.extend(ids))
    claim_due(now=now, limit=100, enqueue=lambda ids, claim: second.extend(ids))
    assert len(first) == 1
    assert second == []
    row = Reminder.objects.get(pk=first[0])
    # An attempt is counted when a delivery starts, not at the claim.
    assert (row.status, row.attempts) == (ReminderStatus.SENDING, 0)


def test_a_dose_reminder_is_mailed_with_three_actions_and_no_drug_name_by_default(
    plan: TaperPlan,
) -> None:
    now = dose_at(plan, "2027-03-01", "08:00").due_at
    assert deliver_due(now) == ["sent"]
    [message] = mail.outbox
    assert message.to == ["sam@example.org"]
    assert message.subject == "Time for your 08:00 medication dose"
    assert "baclofen" not in message.body.lower()
    assert "until 11:00" in message.body
    assert message.body.count("/a/") == 4  # taken, skipped, missed, remind me later
    html = message.alternatives[0][0]  # type: ignore[attr-defined]
    assert "I missed it — what now?" in html
    assert Reminder.objects.get(kind=ReminderKind.DOSE, status=ReminderStatus.SENT)


def test_the_html_part_is_rendered_only_for_a_reminder_that_goes_out_by_email(
    plan: TaperPlan,
) -> None:
    """Rendering the HTML part was a third of a reminder's cost (issue #17): a reminder
    that reaches the patient only in the app (or by push or text) does not pay for it."""
    from django.test.signals import template_rendered

    rendered: list[str] = []

    def record(sender: Any, template: Any, **kwargs: Any) -> None:
        rendered.append(template.name)

    template_rendered.connect(record)
    try:
        now = dose_at(plan, "2027-03-01", "08:00").due_at
        claimed: list[int] = []
        with TestCase.captureOnCommitCallbacks(execute=True):
            dispatch.dispatch_tick(now=now, enqueue=lambda ids, claim: claimed.extend(ids))
        [row_id] = claimed
        assert dispatch.reminder_deliver(
            reminder_id=row_id, now=now, channels=[InAppChannel()]
        ) == "sent"
        assert "reminders/email/dose.txt" in rendered
        assert "reminders/email/base.html" not in rendered
        assert mail.outbox == []
        # Delivered with the e-mail channel: one HTML part per e-mail sent.
        later = dose_at(plan, "2027-03-01", "14:00").due_at
        assert "sent" in deliver_due(later)
        assert rendered.count("reminders/email/base.html") == len(mail.outbox) > 0
    finally:
        template_rendered.disconnect(record)


def test_a_patient_who_chose_detail_gets_the_dose_in_plain_words(plan: TaperPlan) -> None:
    plan.patient.calendar_detailed_titles = True
    plan.patient.save()
    deliver_due(dose_at(plan, "2027-03-01", "08:00").due_at)
    assert "1 tablet of 10 mg (baclofen 10 mg)" in mail.outbox[0].body


def test_a_patient_with_an_account_also_gets_an_in_app_notice(
    plan: TaperPlan, django_user_model: Any
) -> None:
    plan.patient.user = django_user_model.objects.create_user(username="sam")
    plan.patient.save()
    deliver_due(dose_at(plan, "2027-03-01", "08:00").due_at)
    assert Notice.objects.get(user=plan.patient.user).subject.startswith("Time for your 08:00")


def test_a_dose_reminder_is_never_sent_after_its_catch_up_window(plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    claimed: list[int] = []
    claim_due(
        now=dose.due_at, limit=10, enqueue=lambda ids, claim: claimed.extend(ids)
    )
    late = dose.catch_up_until + dt.timedelta(minutes=1)
    assert dispatch.reminder_deliver(reminder_id=claimed[0], now=late, channels=CHANNELS) == (
        "skipped"
    )
    assert mail.outbox == []
    assert Reminder.objects.get(pk=claimed[0]).last_error == "the catch-up window had closed"


@override_settings(REMINDER_CLAIM_TIMEOUT_SECONDS=300)
def test_a_row_claimed_by_a_worker_that_died_is_claimed_again_after_the_timeout(
    plan: TaperPlan,
) -> None:
    now = dose_at(plan, "2027-03-01", "08:00").due_at
    claim_due(now=now, limit=10, enqueue=lambda ids, claim: None)
    assert dispatch.reminders_reclaim_stale(now=now + dt.timedelta(seconds=299)) == 0
    assert dispatch.reminders_reclaim_stale(now=now + dt.timedelta(seconds=301)) == 1
    assert deliver_due(now + dt.timedelta(seconds=302)) == ["sent"]
    # The first claim's message never ran (the worker died first): one attempt, not two.
    assert Reminder.objects.get(kind=ReminderKind.DOSE, status=ReminderStatus.SENT).attempts == 1


class Flaky:
    name = "flaky"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def send(self, message: Message) -> None:
        raise self.error


def test_a_transient_error_retries_with_backoff_then_gives_up(plan: TaperPlan) -> None:
    now = dose_at(plan, "2027-03-01", "08:00").due_at
    claimed: list[int] = []
    claim_due(now=now, limit=10, enqueue=lambda ids, claim: claimed.extend(ids))
    outcome = dispatch.reminder_deliver(
        reminder_id=claimed[0], now=now, channels=[Flaky(TransientError("SMTP down"))]
    )
    row = Reminder.objects.get(pk=claimed[0])
    assert outcome == "retry"
    assert (row.status, row.due_at, row.last_error) == (
        ReminderStatus.PENDING,
        now + dt.timedelta(seconds=30),
        "SMTP down",
    )
    with override_settings(REMINDER_MAX_ATTEMPTS=2):
        later = now + dt.timedelta(seconds=31)
        claim_due(now=later, limit=10, enqueue=lambda ids, claim: None)
        assert (
            dispatch.reminder_deliver(
                reminder_id=row.pk, now=later, channels=[Flaky(TransientError("SMTP down"))]
            )
            == "failed"
        )
    assert Reminder.objects.get(pk=row.pk).status == ReminderStatus.FAILED


def test_a_permanent_error_marks_the_row_failed_and_tells_the_clinic(plan: TaperPlan) -> None:
    now = dose_at(plan, "2027-03-01", "08:00").due_at
    claimed: list[int] = []
    claim_due(now=now, limit=10, enqueue=lambda ids, claim: claimed.extend(ids))
    dispatch.reminder_deliver(
        reminder_id=claimed[0], now=now, channels=[Flaky(PermanentError("address refused"))]
    )
    assert Reminder.objects.get(pk=claimed[0]).status == ReminderStatus.FAILED
    plan.patient.refresh_from_db()
    assert email_failing_since(plan.patient) == now
    # The mark is the reminder app's own row: the patient's record is not written.
    assert EmailAddressStatus.objects.get(patient=plan.patient).address == plan.patient.email
    notice = Reminder.objects.get(kind=ReminderKind.CHANNEL_FAILING)
    assert notice.recipient == Recipient.CLINIC
    assert deliver_due(now) == ["sent"]
    assert mail.outbox[0].to == ["alice@clinic.example"]
    assert "cannot reach patient" in mail.outbox[0].subject


def test_an_unanswered_dose_becomes_missed_with_guidance(plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    deliver_due(dose.catch_up_until + dt.timedelta(minutes=1))
    dose.refresh_from_db()
    assert dose.status == DoseStatus.MISSED
    follow_up = [m for m in mail.outbox if "You missed your 08:00 dose" in m.subject]
    assert len(follow_up) == 1
    assert "Never take two doses at once" in follow_up[0].body


def test_two_missed_doses_in_a_row_raise_one_alert_per_episode(plan: TaperPlan) -> None:
    first = dose_at(plan, "2027-03-01", "08:00")
    second = dose_at(plan, "2027-03-01", "14:00")
    third = dose_at(plan, "2027-03-01", "20:00")
    deliver_due(first.catch_up_until + dt.timedelta(minutes=1))
    assert not AbruptStopAlert.objects.exists()
    deliver_due(second.catch_up_until + dt.timedelta(minutes=1))
    alert = AbruptStopAlert.objects.get()
    assert (alert.reason, alert.since) == (AlertReason.CONSECUTIVE_MISSED, first.due_at)
    clinic_mail = [m for m in mail.outbox if m.to == ["alice@clinic.example"]]
    assert len(clinic_mail) == 1
    # PHI-minimal (#22): the link to the alert's page, no reason, drug or risk.
    assert f"/clinic/alerts/{alert.pk}/" in clinic_mail[0].body
    assert "Two doses in a row" not in clinic_mail[0].body
    assert "seizures" not in clinic_mail[0].body
    deliver_due(third.catch_up_until + dt.timedelta(minutes=1))
    assert AbruptStopAlert.objects.count() == 1
    # Taking a dose ends the episode; two more missed doses start a new one.
    nxt = dose_at(plan, "2027-03-02", "08:00")
    services_now = nxt.due_at
    from planner import doses as reminder_services

    reminder_services.dose_record(dose_id=nxt.pk, answer="taken", now=services_now)
    assert AbruptStopAlert.objects.get().closed_at == services_now
    for when in ("14:00", "20:00"):
        deliver_due(dose_at(plan, "2027-03-02", when).catch_up_until + dt.timedelta(minutes=1))
    assert AbruptStopAlert.objects.filter(closed_at__isnull=True).count() == 1


def test_no_confirmed_dose_for_24_hours_raises_an_alert(plan: TaperPlan) -> None:
    from planner import doses as reminder_services

    taken = dose_at(plan, "2027-03-01", "20:00")
    reminder_services.dose_record(dose_id=taken.pk, answer="taken", now=taken.due_at)
    for when in ("08:00", "14:00"):
        skipped = dose_at(plan, "2027-03-02", when)
        reminder_services.dose_record(dose_id=skipped.pk, answer="skipped", now=skipped.due_at)
    deliver_due(dose_at(plan, "2027-03-02", "14:00").catch_up_until + dt.timedelta(minutes=1))
    assert not AbruptStopAlert.objects.exists()
    unanswered = dose_at(plan, "2027-03-02", "20:00")
    deliver_due(unanswered.catch_up_until + dt.timedelta(minutes=1))
    alert = AbruptStopAlert.objects.get()
    assert (alert.reason, alert.since) == (AlertReason.NO_CONFIRMED_DOSE, taken.due_at)


def test_a_severe_check_in_alerts_the_clinician_and_suggests_holding(plan: TaperPlan) -> None:
    answers = {s.key: "none" for s in checkin.SYMPTOMS}
    answers["hallucinations"] = "mild"
    now = dt.datetime(2027, 3, 3, 15, tzinfo=dt.UTC)
    result = checkin.checkin_record(plan=plan, answers=answers, now=now)
    assert result.severe
    alert = AbruptStopAlert.objects.get()
    assert alert.reason == AlertReason.SEVERE_SYMPTOMS
    assert "holding the current step" in alert.detail


def test_a_check_in_with_a_missing_answer_is_refused_naming_the_symptom(plan: TaperPlan) -> None:
    with pytest.raises(checkin.CheckInError) as refusal:
        checkin.checkin_record(plan=plan, answers={"fever": "none"}, now=dt.datetime.now(dt.UTC))
    assert "seizure" in refusal.value.errors
    assert not AbruptStopAlert.objects.exists()


def test_opening_an_action_link_records_nothing_until_the_patient_confirms(
    client: Client, plan: TaperPlan
) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    url = reverse("action", args=[actions.dose_link(dose.pk, "taken", dose.catch_up_until)])
    with time_machine.travel(dose.due_at + dt.timedelta(minutes=5), tick=False):
        page = client.get(url)
        assert page.status_code == 200
        dose.refresh_from_db()
        assert dose.status == DoseStatus.SCHEDULED
        assert client.post(url).status_code == 200
    dose.refresh_from_db()
    assert dose.status == DoseStatus.TAKEN


def test_the_missed_link_explains_what_to_do_from_the_clock(
    client: Client, plan: TaperPlan
) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    url = reverse("action", args=[actions.dose_link(dose.pk, "missed", dose.catch_up_until)])
    with time_machine.travel(dose.due_at + dt.timedelta(hours=1), tick=False):
        assert "You can still take it now, until 11:00" in client.get(url).content.decode()
    with time_machine.travel(dose.catch_up_until + dt.timedelta(minutes=1), tick=False):
        body = client.get(url).content.decode()
    assert "It is too late to take your 08:00 dose" in body
    assert "take your 14:00 dose as usual" in body


def test_a_late_or_tampered_link_is_refused_plainly(client: Client, plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    token = actions.dose_link(dose.pk, "taken", dose.catch_up_until)
    assert client.get(reverse("action", args=[token[:-2] + "xx"])).status_code == 404
    with time_machine.travel(dose.catch_up_until + dt.timedelta(days=2), tick=False):
        assert client.get(reverse("action", args=[token])).status_code == 404
    with time_machine.travel(dose.catch_up_until + dt.timedelta(minutes=1), tick=False):
        response = client.post(reverse("action", args=[token]))
    assert response.status_code == 409
    assert "too late for this dose" in response.content.decode()


def test_the_check_in_page_shows_emergency_advice_for_severe_answers(
    client: Client, plan: TaperPlan
) -> None:
    url = reverse("action", args=[actions.check_in_link(plan.pk, dt.datetime.now(dt.UTC))])
    answers = {s.key: "none" for s in checkin.SYMPTOMS} | {"fever": "severe"}
    body = client.post(url, answers).content.decode()
    assert "Contact your clinic now" in body
    assert "call emergency services" in body


def test_cancelling_withdraws_the_reminders_still_to_come(alice: Any, plan: TaperPlan) -> None:
    with time_machine.travel(dt.datetime(2027, 3, 2, tzinfo=dt.UTC)):
        services.plan_cancel(plan=plan, by=alice, reason="Reaction")
    future = Reminder.objects.filter(
        plan=plan,
        due_at__gte=dt.datetime(2027, 3, 2, tzinfo=dt.UTC),
        status=ReminderStatus.PENDING,
    )
    assert not future.exists()
    assert Reminder.objects.filter(plan=plan, due_at__lt=dt.datetime(2027, 3, 2, tzinfo=dt.UTC))


def test_a_delivery_whose_claim_was_replaced_delivers_nothing(plan: TaperPlan) -> None:
    now = dose_at(plan, "2027-03-01", "08:00").due_at
    claims: list[str] = []
    claim_due(now=now, limit=10, enqueue=lambda ids, c: claims.append(c))
    with override_settings(REMINDER_CLAIM_TIMEOUT_SECONDS=1):
        later = now + dt.timedelta(seconds=5)
        dispatch.reminders_reclaim_stale(now=later)
    ids = claim_due(now=later, limit=10, enqueue=lambda i, c: claims.append(c))
    assert (
        dispatch.reminder_deliver(reminder_id=ids[0], now=later, channels=CHANNELS, claim=claims[0])
        == "not claimed"
    )
    assert (
        dispatch.reminder_deliver(reminder_id=ids[0], now=later, channels=CHANNELS, claim=claims[1])
        == "sent"
    )
    assert len(mail.outbox) == 1


def test_the_alert_thresholds_are_read_from_the_plans_protocol(
    plan: TaperPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = plan.current_revision.engine_output
    protocol = recorded_protocol(output)
    assert escalation_of(output) == Escalation(
        missed_doses_in_a_row=protocol.escalation_missed_doses.value,
        without_confirmed_dose=dt.timedelta(hours=protocol.escalation_hours_without_dose.value),
    )
    # A protocol that escalated only after three doses in a row: two raise nothing.
    monkeypatch.setattr(
        dispatch, "escalation_of",
        lambda output: Escalation(missed_doses_in_a_row=3,
                                  without_confirmed_dose=dt.timedelta(hours=72)),
    )  # fmt: skip
    for when in ("08:00", "14:00"):
        deliver_due(dose_at(plan, "2027-03-01", when).catch_up_until + dt.timedelta(minutes=1))
    assert not AbruptStopAlert.objects.exists()
    deliver_due(dose_at(plan, "2027-03-01", "20:00").catch_up_until + dt.timedelta(minutes=1))
    assert AbruptStopAlert.objects.get().detail == "Three doses in a row were not taken."


def test_check_ins_follow_the_protocols_interval(plan: TaperPlan) -> None:
    days = sorted(
        dt.date.fromisoformat(r.key.removeprefix("checkin-"))
        for r in Reminder.objects.filter(plan=plan, kind=ReminderKind.CHECK_IN)
    )
    assert {(b - a).days for a, b in itertools.pairwise(days)} == {3}


def test_a_patient_with_no_way_to_be_reached_is_reported_to_the_clinic(plan: TaperPlan) -> None:
    plan.patient.email = ""
    plan.patient.save()
    now = dose_at(plan, "2027-03-01", "08:00").due_at
    deliver_due(now)
    assert Reminder.objects.get(kind=ReminderKind.DOSE, status=ReminderStatus.FAILED).last_error
    assert Reminder.objects.filter(kind=ReminderKind.CHANNEL_FAILING).exists()


def test_changing_the_address_gives_e_mail_a_new_chance(plan: TaperPlan) -> None:
    patient = plan.patient
    EmailAddressStatus.objects.create(
        patient=patient, address=patient.email, failing_since=dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    )
    assert email_failing_since(patient) is not None
    services.patient_update(patient=patient, data={"email": "new@example.org"})
    patient.refresh_from_db()
    assert email_failing_since(patient) is None


def test_a_plan_is_completed_a_day_after_its_last_dosing_day(plan: TaperPlan) -> None:
    end = plan.current_revision.end_date
    last_evening = dt.datetime.combine(end, dt.time(23, 0), tzinfo=dt.UTC)
    assert services.plans_complete(now=last_evening + dt.timedelta(days=1)) == 0
    assert services.plans_complete(now=last_evening + dt.timedelta(days=2)) == 1
    plan.refresh_from_db()
    assert plan.status == "completed"
