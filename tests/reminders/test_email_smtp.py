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
from reminders.models import (
    EmailAddressStatus,
    Notice,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
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


class _WorkerKilled(BaseException):
    """What a killed worker looks like to the delivery: it stops mid-batch, unrecorded."""


class _KilledAfter:
    """Sends (in-app, no ledger) and is killed at its `kill_at`-th message; each send
    takes `seconds` on the delivery's clock."""

    name = "killed"

    def __init__(self, kill_at: int, seconds: float, clock: list[float]) -> None:
        self.kill_at, self.seconds, self.clock, self.sends = kill_at, seconds, clock, 0

    def send(self, message: Any) -> None:
        self.sends += 1
        if self.sends == self.kill_at:
            raise _WorkerKilled
        self.clock[0] += self.seconds


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("seconds_per_send", "recorded_every"),
    [
        # A fast channel: recorded every RECORD_SENT_EVERY rows.
        (0.001, dispatch.RECORD_SENT_EVERY),
        # A slow one (a mail server taking 0.1 s a message): recorded once more than a
        # quarter of a second of sending waits, every 3 rows, so a kill re-sends at most 2.
        (0.1, 3),
    ],
)
def test_a_worker_killed_mid_batch_sends_again_only_what_it_sent_since_its_last_record(
    clinic: Any, alice: Any, monkeypatch: pytest.MonkeyPatch, seconds_per_send: float,
    recorded_every: int,
) -> None:
    plan = active_plan(PatientFactory.create(clinic=clinic, email="p@example.org"), alice)
    _, due = first_dose_reminder(plan)
    count = 3 * dispatch.RECORD_SENT_EVERY - 10
    Reminder.objects.bulk_create(
        Reminder(plan=plan, kind=ReminderKind.CHECK_IN, key=f"bulk-{i}", due_at=due,
                 status=ReminderStatus.SENDING)
        for i in range(count)
    )  # fmt: skip
    ids = list(Reminder.objects.filter(key__startswith="bulk-").values_list("pk", flat=True))
    clock = [1000.0]
    monkeypatch.setattr("reminders.dispatch.time.monotonic", lambda: clock[0])
    channel = _KilledAfter(kill_at=count, seconds=seconds_per_send, clock=clock)

    with pytest.raises(_WorkerKilled):
        dispatch.reminders_deliver(reminder_ids=ids, now=due, channels=[channel])

    sent = Reminder.objects.filter(pk__in=ids, status=ReminderStatus.SENT).count()
    assert sent == (count - 1) // recorded_every * recorded_every
    # What a kill costs: the rows sent but not recorded are sent again after reclaim.
    unrecorded = (count - 1) - sent
    assert unrecorded <= dispatch.RECORD_SENT_EVERY
    assert unrecorded * seconds_per_send <= dispatch.RECORD_SENT_SECONDS + seconds_per_send


@pytest.mark.parametrize(
    ("name", "argument"),
    [
        ("plan", 12),
        ("plan", 9876543210),
        ("action", "eyJrIjoiZG9zZSJ9:1tXyZ-_.:abc"),
        ("action", "1234"),
        ("action", "needs quoting é?"),  # not a token: reverse() itself
        ("patient_today", None),
        ("patient_plan", None),
    ],
)
@pytest.mark.parametrize("script_prefix", ["/", "/clinic-a/"])
def test_a_reminders_links_are_exactly_what_reverse_gives(
    name: str, argument: object, script_prefix: str
) -> None:
    """Reminder links skip the URL resolver (planner.links.url_path, issues #17 and #18) and
    must still be reverse()'s paths, under any script prefix, or reverse() itself."""
    from django.urls import get_script_prefix, reverse, set_script_prefix

    from planner.links import url_path

    saved = get_script_prefix()
    set_script_prefix(script_prefix)
    try:
        expected = reverse(name) if argument is None else reverse(name, args=[argument])
        assert url_path(name, argument) == expected
        assert expected.startswith(script_prefix)
    finally:
        set_script_prefix(saved)


def test_a_link_the_route_refuses_is_refused_as_reverse_refuses_it() -> None:
    from django.urls import NoReverseMatch

    from planner.links import url_path

    with pytest.raises(NoReverseMatch):
        url_path("plan", "not-a-number")


def test_an_action_link_signed_compressed_before_is_still_read() -> None:
    """Links are no longer compressed (issue #17); an e-mail sent before still works."""
    import datetime as dt_

    from django.core import signing

    from reminders import actions

    expires = dt_.datetime(2027, 3, 1, 12, tzinfo=dt_.UTC)
    data = {"k": "dose", "i": 7, "a": "taken", "e": int(expires.timestamp())}
    old = signing.dumps(data, salt=actions.SALT, compress=True)
    new = actions.dose_link(7, "taken", expires - actions.LINK_GRACE)
    for token in (old, new):
        link = actions.read_action(token, now=expires - dt_.timedelta(days=1))
        assert link is not None
        assert (link.kind, link.object_id, link.action) == ("dose", 7, "taken")


@pytest.mark.django_db
def test_a_dose_reminders_html_part_goes_out_as_8bit_not_quoted_printable(
    smtp: SmtpStandIn, clinic: Any, alice: Any
) -> None:
    """A line over 998 characters (the four buttons on one line) made Django send the
    whole HTML part quoted-printable: slower to build and larger to send (issue #17)."""
    plans = _plans(clinic, alice, 1)
    ids, due = _claimed(plans)

    assert dispatch.reminders_deliver(reminder_ids=ids, now=due, channels=[EmailChannel()]) == {
        ids[0]: "sent"
    }
    [message] = smtp.messages
    html = next(part for part in message.walk() if part.get_content_type() == "text/html")
    assert html["Content-Transfer-Encoding"] == "8bit"
    assert html.get_content().count('style="display:inline-block') == 4  # the buttons


@pytest.mark.django_db
def test_a_dose_reminders_html_part_shows_each_link_once_as_a_button(
    smtp: SmtpStandIn, clinic: Any, alice: Any
) -> None:
    """The text part lists "I have taken it: <link>" and the others; the HTML part shows
    them only as buttons, not also as raw signed links above them, and the buttons stand
    where the links stood: before the closing "call your clinic"."""
    plans = _plans(clinic, alice, 1)
    ids, due = _claimed(plans)

    dispatch.reminders_deliver(reminder_ids=ids, now=due, channels=[EmailChannel()])
    [message] = smtp.messages
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    html = next(part for part in message.walk() if part.get_content_type() == "text/html")
    links = [line.rsplit(": ", 1)[1] for line in text.get_content().splitlines() if "/a/" in line]
    assert len(links) == 4
    content = html.get_content()
    for link in links:
        assert content.count(link) == 1, "once, as the button's href"
        assert f'<a href="{link}"' in content
    assert content.index('<a href="') < content.index("call your clinic")
    assert message.get_boundary() not in text.get_content()
