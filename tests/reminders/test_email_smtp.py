"""The e-mail channel through a real SMTP server on 127.0.0.1 (aiosmtpd): a delivery
batch goes through one connection; a refused address fails only its own reminder; a
mail server that is away means a retry. And what a batch costs in queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from planner.models import TaperPlan
from reminders import dispatch
from reminders.channels import EmailChannel, InAppChannel, NullChannel
from reminders.models import EmailAddressStatus, Notice, Reminder, ReminderStatus
from tests.support.channels import first_dose_reminder
from tests.support.factories import PatientFactory, patient_account
from tests.support.plans import active_plan
from tests.support.standins import SmtpStandIn, free_port, smtp_stand_in


def _smtp(port: int) -> Any:
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        EMAIL_TIMEOUT=5,
    )


@pytest.fixture
def smtp() -> Iterator[SmtpStandIn]:
    with smtp_stand_in() as service, _smtp(service.port):
        yield service


def _plans(clinic: Any, alice: Any, count: int) -> list[TaperPlan]:
    return [
        active_plan(PatientFactory.create(clinic=clinic, email=f"patient{i}@example.org"), alice)
        for i in range(count)
    ]


def _claimed(plans: list[TaperPlan]) -> tuple[list[int], dt.datetime]:
    """The plans' first 08:00 dose reminders, claimed as the dispatcher claims them."""
    rows = [first_dose_reminder(plan) for plan in plans]
    ids = [row.pk for row, _ in rows]
    Reminder.objects.filter(pk__in=ids).update(status=ReminderStatus.SENDING, claim_token=None)
    return ids, rows[0][1]


@pytest.mark.django_db
def test_a_batch_of_reminders_goes_through_one_smtp_connection(
    smtp: SmtpStandIn, clinic: Any, alice: Any
) -> None:
    plans = _plans(clinic, alice, 3)
    ids, due = _claimed(plans)

    outcomes = dispatch.reminders_deliver(
        reminder_ids=ids, now=due, channels=[EmailChannel(), InAppChannel()]
    )

    assert set(outcomes.values()) == {"sent"}
    assert sorted(str(message["To"]) for message in smtp.messages) == [
        "patient0@example.org", "patient1@example.org", "patient2@example.org"
    ]
    assert len(smtp.sessions) == 1, "one SMTP connection for the whole batch"
    for message in smtp.messages:
        parts = [part.get_content_type() for part in message.walk()]
        assert "text/plain" in parts
        assert "text/html" in parts
        assert "baclofen" not in str(message["Subject"]).lower()  # PHI-minimal subject
    assert set(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        ReminderStatus.SENT
    }


@pytest.mark.django_db
def test_a_refused_address_fails_only_its_reminder(
    smtp: SmtpStandIn, clinic: Any, alice: Any
) -> None:
    plans = _plans(clinic, alice, 3)
    ids, due = _claimed(plans)
    smtp.refuse.add("patient1@example.org")

    outcomes = dispatch.reminders_deliver(
        reminder_ids=ids, now=due, channels=[EmailChannel(), InAppChannel()]
    )

    refused = first_dose_reminder(plans[1])[0].pk
    # The patient has no account (no in-app notice): the e-mail was the only way.
    assert outcomes == {**{pk: "sent" for pk in ids}, refused: "failed"}
    assert sorted(str(message["To"]) for message in smtp.messages) == [
        "patient0@example.org", "patient2@example.org"
    ]
    assert len(smtp.sessions) == 1, "the refusal did not cost the batch its connection"
    status = EmailAddressStatus.objects.get(patient=plans[1].patient)
    assert status.address == "patient1@example.org"


@pytest.mark.django_db
def test_a_mail_server_that_is_away_means_a_retry(clinic: Any, alice: Any) -> None:
    plans = _plans(clinic, alice, 2)
    ids, due = _claimed(plans)

    with _smtp(free_port()):  # nothing listens there
        outcomes = dispatch.reminders_deliver(
            reminder_ids=ids, now=due, channels=[EmailChannel(), InAppChannel()]
        )

    assert set(outcomes.values()) == {"retry"}
    rows = Reminder.objects.filter(pk__in=ids)
    assert set(rows.values_list("status", flat=True)) == {ReminderStatus.PENDING}
    assert all(row.due_at == due + dispatch.backoff(1) for row in rows)
    assert not EmailAddressStatus.objects.exists(), "an outage is not a refused address"


def _queries_to_deliver(plans: list[TaperPlan]) -> int:
    ids, due = _claimed(plans)
    with CaptureQueriesContext(connection) as queries:
        outcomes = dispatch.reminders_deliver(
            reminder_ids=ids, now=due, channels=[EmailChannel(), InAppChannel(), NullChannel()]
        )
    assert set(outcomes.values()) == {"sent"}
    assert Notice.objects.filter(reminder_id__in=ids).count() == len(ids)
    return len(queries)


@pytest.mark.django_db
def test_a_delivery_batch_costs_the_same_queries_for_2_and_6_reminders(
    clinic: Any, alice: Any, django_user_model: Any
) -> None:
    """The cost per delivered reminder is the batch's few statements, not a query per
    row: every patient's row the message needs (preferences, SMS number, push browsers,
    a refused-address mark) comes with the batch, and the e-mail outcomes and in-app
    notices are written together. The 2-row and the 6-row batch both record their
    outcome in one go (fewer than dispatch.RECORD_SENT_EVERY rows)."""
    plans = _plans(clinic, alice, 8)
    for index, plan in enumerate(plans):
        patient_account(django_user_model, plan.patient, f"patient{index}")
    for plan in plans[::2]:  # an old address was refused; the current one works
        EmailAddressStatus.objects.create(
            patient=plan.patient, address="old@example.org", failing_since=dt.datetime(
                2027, 1, 5, tzinfo=dt.UTC)
        )
    assert dispatch.RECORD_SENT_EVERY > 6
    assert _queries_to_deliver(plans[:2]) == _queries_to_deliver(plans[2:])
