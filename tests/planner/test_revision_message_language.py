"""The patient's "your plan has changed" message says what changed in the patient's
language (issue #22): the engine's REVISED flag is English, for the clinician; the
reminder stores the change as a code and numbers (planner.patient_words) and the message
is written when it is sent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from planner import services
from planner.models import Patient, RevisionKind, TaperPlan
from portal.services import language_set
from reminders.messages import messages_for
from reminders.models import Reminder, ReminderKind
from tests.support.clock import START
from tests.support.factories import patient_account
from tests.support.plans import engine_input

NOW = dt.datetime.combine(START + dt.timedelta(days=3), dt.time(9, 0), tzinfo=dt.UTC)


@pytest.fixture
def running(alice: Any, patient: Patient, django_user_model: Any) -> TaperPlan:
    patient_account(django_user_model, patient, "sam")  # someone to send the message to
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    with time_machine.travel(dt.datetime(2027, 2, 25, tzinfo=dt.UTC)):
        services.plan_activate(plan=plan, by=alice)
    plan.refresh_from_db()
    return plan


def revised_text(alice: Any, plan: TaperPlan, **revision: Any) -> str:
    with time_machine.travel(NOW, tick=False):
        services.plan_revise(plan=plan, by=alice, **revision)
    row = Reminder.objects.filter(plan=plan, kind=ReminderKind.PLAN_REVISED).latest("id")
    [message] = [m for m in messages_for(row) if m.emails]
    return message.text


@pytest.mark.parametrize(
    ("revision", "spanish", "english"),
    [
        ({"kind": RevisionKind.HOLD, "from_date": dt.date(2027, 3, 5), "days": 3},
         "Su clínica ha cambiado su plan desde el 5 de marzo de 2027: sigue con 15 mg al día "
         "durante 3 días más; los pasos siguientes se retrasan lo mismo.",
         "Your clinic has changed your plan from 5 March 2027: you stay on 15 mg a day for 3 "
         "more days; the later steps move that much later."),
        ({"kind": RevisionKind.STEP_BACK, "from_date": dt.date(2027, 3, 4)},
         "vuelve a 22,5 mg al día durante 3 días y después sigue "
         "bajando la dosis desde ahí.",
         "you go back to 22.5 mg a day for 3 days, then go on lowering your dose from there."),
        ({"kind": RevisionKind.SLOW_DOWN, "from_date": dt.date(2027, 3, 4)},
         "el resto de su plan va más despacio, con las mismas dosis.",
         "the rest of your plan goes more slowly, at the same doses."),
    ],
)  # fmt: skip
def test_the_plan_revised_message_says_the_change_in_the_patients_language(
    alice: Any, running: TaperPlan, patient: Patient, revision: dict[str, Any], spanish: str,
    english: str,
) -> None:
    text = revised_text(alice, running, **revision)
    assert english in " ".join(text.split())
    language_set(patient=patient, language="es")
    row = Reminder.objects.filter(plan=running, kind=ReminderKind.PLAN_REVISED).latest("id")
    [message] = [m for m in messages_for(row) if m.emails]
    spanish_text = " ".join(message.text.split())
    assert spanish in spanish_text
    assert "Revised from" not in spanish_text
    assert " a day" not in spanish_text
