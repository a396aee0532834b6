"""Symptom check-ins during a taper: a short list of withdrawal signs (CLINICAL.md).
Any sign answered "severe", or any red-flag sign at all, alerts the clinician at once
and tells the patient to seek help now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from planner.models import PlanStatus, TaperPlan
from reminders import dispatch
from reminders.models import AlertReason, CheckIn


@dataclass(frozen=True, slots=True)
class Symptom:
    key: str
    question: str
    red_flag: bool  # present at all → severe


SYMPTOMS = (
    Symptom("spasticity", "Muscle stiffness or spasms worse than usual", False),
    Symptom("itching", "Itching or tingling", False),
    Symptom("anxiety", "Feeling anxious, restless or unable to sleep", False),
    Symptom("hallucinations", "Seeing or hearing things that are not there", True),
    Symptom("confusion", "Confusion or trouble thinking clearly", True),
    Symptom("fever", "High temperature (fever)", True),
    Symptom("seizure", "A seizure (fit)", True),
)
LEVELS = ("none", "mild", "severe")


class CheckInError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def is_severe(answers: dict[str, str]) -> bool:
    return any(
        answers.get(symptom.key) == "severe"
        or (symptom.red_flag and answers.get(symptom.key, "none") != "none")
        for symptom in SYMPTOMS
    )


@transaction.atomic
def checkin_record(*, plan: TaperPlan, answers: dict[str, str], now: dt.datetime) -> CheckIn:
    errors = {
        symptom.key: "Choose none, mild or severe."
        for symptom in SYMPTOMS
        if answers.get(symptom.key) not in LEVELS
    }
    if errors:
        raise CheckInError(errors)
    if plan.status != PlanStatus.ACTIVE:
        raise CheckInError({"plan": "This plan is not active."})
    clean = {symptom.key: answers[symptom.key] for symptom in SYMPTOMS}
    severe = is_severe(clean)
    checkin = CheckIn.objects.create(plan=plan, answered_at=now, answers=clean, severe=severe)
    if severe:
        named = ", ".join(s.question.lower() for s in SYMPTOMS if clean[s.key] != "none")
        dispatch.alert_raise(
            plan=plan,
            reason=AlertReason.SEVERE_SYMPTOMS,
            since=now,
            now=now,
            detail=f"Check-in reports: {named}. Consider holding the current step."[:300],
        )
    return checkin
