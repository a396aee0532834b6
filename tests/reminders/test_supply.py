"""The supply reminder (issue #17): once per run-out date, moved by a new dispensing,
PHI-minimal, in the patient's language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import override_settings

import taper
from planner.models import Patient, SupplyDispensed, TaperPlan
from planner.roles import Role
from planner.supply import plan_supply
from reminders import messages
from reminders.models import Reminder, ReminderKind, ReminderStatus
from reminders.supply import (
    supply_dispensed_recorded,
    supply_reminder_arm,
    supply_reminders_arm,
)
from taper.supply import SupplyKey
from tests.support.clock import NOW, START
from tests.support.factories import make_staff
from tests.support.plans import active_plan, active_pump_plan, at_new_york, supply_dispensed

TEN = SupplyKey("baclofen-oral-tablet", Decimal(10))
FIVE = SupplyKey("baclofen-oral-tablet", Decimal(5))


@pytest.fixture
def plan(alice: Any, patient: Patient) -> TaperPlan:
    plan = active_plan(patient, alice)
    assert plan.current_revision is not None
    steps = [
        (s["start_date"], [d["units_text"] for d in s["doses"]])
        for s in plan.current_revision.engine_output["steps"]
    ]
    # The plan the hand counts below are made for: 10 mg used 2, 1, 1 a day by step.
    assert steps == [
        ("2027-03-01", ["1 × 10 mg", "½ × 5 mg", "1 × 10 mg"]),
        ("2027-03-04", ["1 × 5 mg", "1 × 10 mg"]),
        ("2027-03-07", ["1 × 10 mg"]),
        ("2027-03-11", ["1 × 5 mg"]),
    ]
    return plan


def dispense_short(plan: TaperPlan, by: Any, now: dt.datetime) -> None:
    """8 × 10 mg and 9 × 5 mg on 1 March: the 10 mg run out on the 6th (counted below)."""
    supply_dispensed_recorded(
        plan=plan,
        quantities={TEN: Decimal(8), FIVE: Decimal(9)},
        dispensed_on=START,
        by=by,
        now=now,
    )


def supply_rows(plan: TaperPlan) -> list[Reminder]:
    return list(Reminder.objects.filter(plan=plan, kind=ReminderKind.SUPPLY).order_by("id"))


def test_nothing_recorded_counts_the_dispensing_list_and_arms_no_reminder(plan: TaperPlan) -> None:
    supply = plan_supply(plan, today=START)
    assert supply is not None
    assert not supply.recorded
    assert supply.runs_out_on is None
    assert [(line.key, line.dispensed, line.needed) for line in supply.lines] == [
        (TEN, 13, 13),
        (FIVE, 9, 9),
    ]
    assert supply_reminders_arm(now=NOW) == 0
    assert supply_rows(plan) == []


def test_a_short_dispensing_arms_one_reminder_5_days_before_and_a_new_one_moves_it(
    plan: TaperPlan, alice: Any
) -> None:
    # 8 × 10 mg on 1 March: days 1–3 use 6, days 4 and 5 the last 2, day 6 is short.
    dispense_short(plan, alice, at_new_york("2027-03-01", "07:00"))
    [row] = supply_rows(plan)
    assert row.key == "supply-2027-03-06"
    assert row.due_at == at_new_york("2027-03-01", "09:00")  # 5 days before, morning
    # The hourly check finds it armed: never a second row for one date.
    assert supply_reminders_arm(now=at_new_york("2027-03-01", "08:00")) == 0
    assert len(supply_rows(plan)) == 1
    # 3 more on the 3rd: 4 left + 3 = 7; day 3 uses 2, days 4–6 three, days 7–8 two,
    # day 9 is short. The old row (not sent) goes, the new date's comes.
    supply_dispensed_recorded(
        plan=plan,
        quantities={TEN: Decimal(3)},
        dispensed_on=dt.date(2027, 3, 3),
        by=alice,
        now=at_new_york("2027-03-03", "12:00"),
    )
    [row] = supply_rows(plan)
    assert row.key == "supply-2027-03-09"
    assert row.due_at == at_new_york("2027-03-04", "09:00")
    # simple_history keeps who recorded what; the plan's audit page lists it.
    assert {row.history_user for row in SupplyDispensed.history.all()} == {alice}
    from clinic.reviews import plan_audit

    audit = [row.what for row in plan_audit(plan)["history"]]
    assert sum(what.startswith("Supply dispensed") for what in audit) == 3


def test_a_reminder_sent_is_never_sent_again_for_its_date(plan: TaperPlan, alice: Any) -> None:
    dispense_short(plan, alice, at_new_york("2027-03-01", "10:00"))
    [row] = supply_rows(plan)
    assert row.due_at == at_new_york("2027-03-01", "10:00")  # its morning had passed: now
    Reminder.objects.filter(pk=row.pk).update(status=ReminderStatus.SENT)
    for hour in ("11:00", "23:00"):
        supply_reminders_arm(now=at_new_york("2027-03-01", hour))
    assert [r.status for r in supply_rows(plan)] == [ReminderStatus.SENT]


def test_the_message_names_the_date_only_in_the_patients_language(
    plan: TaperPlan, alice: Any
) -> None:
    from reminders.models import Language, PatientPreferences

    Patient.objects.filter(pk=plan.patient.pk).update(email="sam@example.org")
    dispense_short(plan, alice, at_new_york("2027-03-01", "07:00"))
    [row] = supply_rows(plan)
    [message] = messages.messages_for(row)
    assert message.subject == "Collect more of your medicine before Saturday 6 March"
    assert "runs out on Saturday 6 March" in message.text
    for private in ("baclofen", "mg", "tablet"):
        assert private not in message.text.lower()
        assert private not in message.subject.lower()
    PatientPreferences.objects.create(patient=plan.patient, language=Language.SPANISH)
    [message] = messages.messages_for(Reminder.objects.get(pk=row.pk))
    assert message.subject == "Recoja más de su medicamento antes del sábado 6 de marzo"


def test_refusals_name_the_field_and_write_nothing(
    plan: TaperPlan, alice: Any, django_user_model: Any, clinic: Any, patient: Patient
) -> None:
    now = at_new_york("2027-03-01", "07:00")
    with pytest.raises(ValidationError) as refused:
        supply_dispensed_recorded(
            plan=plan,
            quantities={TEN: Decimal(8)},
            dispensed_on=dt.date(2027, 3, 2),
            by=alice,
            now=now,
        )
    assert "dispensed_on" in refused.value.error_dict
    with pytest.raises(ValidationError) as refused:
        supply_dispensed_recorded(
            plan=plan, quantities={TEN: Decimal(0)}, dispensed_on=START, by=alice, now=now
        )
    assert "__all__" in refused.value.error_dict
    other = SupplyKey("baclofen-oral-tablet", Decimal(20))
    with pytest.raises(ValidationError):
        supply_dispensed_recorded(
            plan=plan, quantities={other: Decimal(8)}, dispensed_on=START, by=alice, now=now
        )
    assert not SupplyDispensed.objects.exists()
    assert supply_rows(plan) == []


@pytest.mark.django_db
def test_a_pump_plan_has_no_supply_and_no_reminder(
    alice: Any, patient: Patient, django_user_model: Any, clinic: Any
) -> None:
    reviewer = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    pump = active_pump_plan(patient, alice, reviewer)
    assert plan_supply(pump, today=START) is None
    with pytest.raises(ValidationError):
        supply_dispensed_recorded(
            plan=pump,
            quantities={TEN: Decimal(8)},
            dispensed_on=START,
            by=alice,
            now=at_new_york("2027-03-01", "07:00"),
        )
    with time_machine.travel(at_new_york("2027-03-01", "07:00"), tick=False):
        assert supply_reminders_arm(now=at_new_york("2027-03-01", "07:00")) == 0


@override_settings(SUPPLY_REMINDER_DAYS_BEFORE=2)
def test_the_days_before_are_the_clinics_setting(plan: TaperPlan, alice: Any) -> None:
    dispense_short(plan, alice, at_new_york("2027-03-01", "07:00"))
    [row] = supply_rows(plan)
    assert row.due_at == at_new_york("2027-03-04", "09:00")


def test_the_hourly_task_arms_it_and_the_dispatcher_sends_it_once_by_e_mail(
    plan: TaperPlan, alice: Any, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from reminders import dispatch
    from reminders.channels import EmailChannel

    Patient.objects.filter(pk=plan.patient.pk).update(email="sam@example.org")
    supply_dispensed(plan, alice)
    assert supply_reminders_arm(now=at_new_york("2027-02-28", "20:00")) == 1
    due = at_new_york("2027-03-01", "09:00")
    sent: list[int] = []
    for minute in (0, 1):  # two ticks: the row goes out once
        now = due + dt.timedelta(minutes=minute)
        with django_capture_on_commit_callbacks(execute=True):
            ids = dispatch.reminders_claim_due(
                now=now, limit=100, enqueue=lambda i, c: sent.extend(i)
            )
        dispatch.reminders_deliver(reminder_ids=ids, now=now, channels=[EmailChannel()])
    [row] = supply_rows(plan)
    assert sent.count(row.pk) == 1
    assert row.status == ReminderStatus.SENT
    [mail] = [m for m in mailoutbox if m.subject.startswith("Collect more")]
    assert mail.subject == "Collect more of your medicine before Saturday 6 March"
    # The push and SMS wording: the date, no drug, no dose.
    short = messages.short_text(row, mail.body, detailed=False)
    assert "runs out on Saturday 6 March" in short
    assert "baclofen" not in short.lower()
    assert " mg" not in short


def test_a_replaced_plan_does_not_run_out_after_its_last_day(plan: TaperPlan, alice: Any) -> None:
    dispense_short(plan, alice, at_new_york("2027-03-01", "07:00"))
    TaperPlan.objects.filter(pk=plan.pk).update(runs_until=dt.date(2027, 3, 5))
    plan.refresh_from_db()
    supply = plan_supply(plan, today=START)
    assert supply is not None
    assert supply.runs_out_on is None
    supply_reminder_arm(plan=plan, now=at_new_york("2027-03-01", "08:00"))
    assert supply_rows(plan) == []  # the row for 6 March, not yet sent, is withdrawn


@pytest.mark.parametrize(
    ("product", "doses", "unit"),
    [
        ("baclofen-oral-solution", [{"time": "08:00", "amount_mg": 10}], "mL"),
        ("gabapentin-oral-capsule", [{"time": "08:00", "amount_mg": 300}], "capsules"),
        ("diazepam-oral-tablet", [{"time": "08:00", "amount_mg": 5}], "tablets"),
    ],
)
def test_every_oral_product_of_the_catalogue_has_its_supply(
    alice: Any,
    patient: Patient,
    product: str,
    doses: list[dict[str, Any]],
    unit: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from planner import services
    from tests.support.plans import engine_input

    # Benzodiazepines and gabapentinoids are being enabled on the site (issue #22); the
    # supply reads the catalogue, whichever drugs the site saves plans of.
    drugs = {found.drug for found in taper.load_catalogue().products}
    monkeypatch.setattr("planner.engine_input.SITE_DRUGS", tuple(sorted(drugs)))

    with time_machine.travel(NOW, tick=False):
        plan = services.plan_create(
            patient=patient, by=alice, engine_input=engine_input(patient, product=product,
                                                                 doses=doses),
        )  # fmt: skip
    TaperPlan.objects.filter(pk=plan.pk).update(status="active", approved_at=NOW)
    plan.refresh_from_db()
    supply = plan_supply(plan, today=START)
    assert supply is not None
    assert {line.unit for line in supply.lines} == {unit}
    assert {line.key.product for line in supply.lines} == {product}
    assert supply.runs_out_on is None  # the plan's own list covers it
