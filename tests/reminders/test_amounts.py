"""What to take, in words (issue #17, "the amount"): one composition from the approved
plan's stored output, the same in every reminder, on the action page and on Today."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation

from planner.models import Patient, TaperPlan
from reminders import actions, dispatch
from reminders.amounts import DoseAmount, dose_amount, units_words
from reminders.channels import EmailChannel, InAppChannel
from reminders.models import Dose, Reminder, ReminderKind, ReminderStatus
from tests.support.plans import active_plan, dose_at


@pytest.fixture
def plan(alice: Any, patient: Patient) -> TaperPlan:
    patient.email = "sam@example.org"
    patient.save()
    return active_plan(patient, alice)


def deliver_reminder_of(dose: Dose) -> None:
    """The dose's reminder, claimed and delivered at the dose's time (only this one: the
    doses before it would otherwise be missed-dose follow-ups and alerts)."""
    row = Reminder.objects.get(dose=dose, kind=ReminderKind.DOSE)
    Reminder.objects.filter(pk=row.pk).update(status=ReminderStatus.SENDING)
    outcome = dispatch.reminder_deliver(
        reminder_id=row.pk, now=dose.due_at, channels=[EmailChannel(), InAppChannel()]
    )
    assert outcome == "sent"


@pytest.mark.parametrize(
    ("units", "english", "spanish"),
    [
        ([{"strength_mg": 5, "count": 1.5}], "1½ tablets of 5 mg", "1½ comprimidos de 5 mg"),
        ([{"strength_mg": 5, "count": 0.5}], "½ tablet of 5 mg", "½ comprimido de 5 mg"),
        ([{"strength_mg": 10, "count": 1}], "1 tablet of 10 mg", "1 comprimido de 10 mg"),
        (
            [{"strength_mg": 10, "count": 1}, {"strength_mg": 5, "count": 0.5}],
            "1 tablet of 10 mg + ½ tablet of 5 mg",
            "1 comprimido de 10 mg + ½ comprimido de 5 mg",
        ),
        ([{"volume_ml": 7.5}], "7.5 mL", "7,5 mL"),
    ],
)
def test_the_amount_reads_as_the_patient_counts_it_in_english_and_spanish(
    units: list[dict[str, Any]], english: str, spanish: str
) -> None:
    with translation.override("en"):
        assert units_words(units) == english
    with translation.override("es"):
        assert units_words(units) == spanish


def test_the_drug_name_appears_only_with_detailed_text() -> None:
    amount = DoseAmount(
        units=({"strength_mg": 5, "count": 1.5},), amount_mg=Decimal("7.50"),
        drug="baclofen", changed_today=False,
    )
    with translation.override("en"):
        assert amount.text(detailed=False) == "1½ tablets of 5 mg (7.5 mg)"
        assert amount.text(detailed=True) == "1½ tablets of 5 mg (baclofen 7.5 mg)"


def test_a_dose_reads_its_tablets_from_the_approved_plans_stored_output(plan: TaperPlan) -> None:
    output = plan.current_revision.engine_output
    midday = next(d for d in output["steps"][0]["doses"] if d["time"] == "14:00")
    assert midday["units"] == [{"strength_mg": 5, "count": 0.5}]
    amount = dose_amount(dose_at(plan, "2027-03-02", "14:00"))
    assert amount.what() == "½ tablet of 5 mg"
    assert amount.changed_today is False
    # The first step starts on 1 March and the second on 4 March: the dose changes.
    assert dose_amount(dose_at(plan, "2027-03-01", "08:00")).changed_today is True
    assert dose_amount(dose_at(plan, "2027-03-04", "08:00")).what() == "1 tablet of 5 mg"
    assert dose_amount(dose_at(plan, "2027-03-04", "08:00")).changed_today is True


def test_a_dose_stores_what_to_take_and_says_the_same_as_its_revision(
    plan: TaperPlan,
) -> None:
    """Each dose of the log stores what to take (issue #17: a reminder no longer parses
    the revision's whole output); a dose written before that reads the revision, and
    both say the same, on every day and at every time of the plan."""
    doses = list(Dose.objects.filter(plan=plan))
    assert doses
    assert all(dose.what_to_take is not None for dose in doses)
    stored = {dose.pk: dose_amount(dose) for dose in doses}
    Dose.objects.filter(plan=plan).update(what_to_take=None)
    for dose in Dose.objects.filter(plan=plan).select_related("revision"):
        assert dose_amount(dose) == stored[dose.pk]
    assert stored[dose_at(plan, "2027-03-02", "14:00").pk].what() == "½ tablet of 5 mg"
    assert stored[dose_at(plan, "2027-03-04", "08:00").pk].changed_today is True


def test_a_reminder_of_a_dose_does_not_read_the_revisions_stored_output(
    plan: TaperPlan,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        deliver_reminder_of(dose_at(plan, "2027-03-04", "08:00"))
    assert "1 tablet of 5 mg (5 mg)" in mail.outbox[0].body
    assert not [q["sql"] for q in queries.captured_queries if "engine_output" in q["sql"]]
    # A dose written before doses stored it: its revision is read, once, with the batch.
    dose = dose_at(plan, "2027-03-05", "08:00")
    Dose.objects.filter(pk=dose.pk).update(what_to_take=None)
    with CaptureQueriesContext(connection) as queries:
        deliver_reminder_of(dose)
    assert "1 tablet of 5 mg (5 mg)" in mail.outbox[1].body
    assert len([q for q in queries.captured_queries if "engine_output" in q["sql"]]) == 1


def test_the_dose_reminder_says_what_to_take_and_that_it_changed(plan: TaperPlan) -> None:
    deliver_reminder_of(dose_at(plan, "2027-03-04", "08:00"))
    [message] = mail.outbox
    assert "It is time for your 08:00 dose: 1 tablet of 5 mg (5 mg)." in message.body
    assert "Your dose changed today" in message.body
    assert "baclofen" not in message.body.lower()
    assert "1 tablet of 5 mg" in message.alternatives[0][0]  # type: ignore[attr-defined]


def test_a_dose_on_an_unchanged_day_does_not_say_it_changed(plan: TaperPlan) -> None:
    deliver_reminder_of(dose_at(plan, "2027-03-02", "14:00"))
    [message] = mail.outbox
    assert "½ tablet of 5 mg (2.5 mg)" in message.body
    assert "changed today" not in message.body


def test_a_spanish_patients_reminder_says_the_amount_in_spanish(plan: TaperPlan) -> None:
    from portal.services import language_set

    language_set(patient=plan.patient, language="es")
    deliver_reminder_of(dose_at(plan, "2027-03-02", "14:00"))
    assert "½ comprimido de 5 mg (2,5 mg)" in mail.outbox[0].body
    # The HTML part is rendered only when the e-mail goes out, after the message was
    # made: still in the patient's language.
    html = mail.outbox[0].alternatives[0][0]  # type: ignore[attr-defined]
    assert '<html lang="es">' in html
    assert "½ comprimido de 5 mg (2,5 mg)" in html


def test_the_confirmation_page_says_what_to_take(client: Client, plan: TaperPlan) -> None:
    dose = dose_at(plan, "2027-03-04", "08:00")
    token = actions.dose_link(dose.pk, "taken", dose.catch_up_until)
    body = client.get(reverse("action", args=[token])).content.decode()
    assert "What to take: 1 tablet of 5 mg (5 mg)" in body
    assert "Your dose changed today" in body
