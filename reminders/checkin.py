"""Symptom check-ins during a taper: a short list of withdrawal signs (CLINICAL.md).
Any sign answered "severe", or any red-flag sign at all, alerts the clinician at once
and tells the patient to seek help now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from planner.models import PlanStatus, TaperPlan
from reminders import dispatch
from reminders.models import AlertReason, CheckIn


@dataclass(frozen=True, slots=True)
class Symptom:
    key: str
    question: str | Promise  # translated when shown
    red_flag: bool  # present at all → severe


SYMPTOMS = (
    Symptom("spasticity", _("Muscle stiffness or spasms worse than usual"), False),
    Symptom("itching", _("Itching or tingling"), False),
    Symptom("anxiety", _("Feeling anxious, restless or unable to sleep"), False),
    Symptom("hallucinations", _("Seeing or hearing things that are not there"), True),
    Symptom("confusion", _("Confusion or trouble thinking clearly"), True),
    Symptom("fever", _("High temperature (fever)"), True),
    Symptom("seizure", _("A seizure (fit)"), True),
)
LEVELS = ("none", "mild", "severe")
LEVEL_LABELS = {"none": _("None"), "mild": _("Mild"), "severe": _("Severe")}


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


LINK_USED = gettext_noop(
    "This check-in link was already used. To answer again, open the check-in in the app."
)


def check_in_link_used(*, plan: TaperPlan, issued_at: dt.datetime) -> bool:
    """Whether a check-in was answered since a check-in link was made: that link is used."""
    return CheckIn.objects.filter(plan=plan, answered_at__gte=issued_at).exists()


@transaction.atomic
def checkin_record(
    *,
    plan: TaperPlan,
    answers: dict[str, str],
    now: dt.datetime,
    link_issued_at: dt.datetime | None = None,
) -> CheckIn:
    """Record a check-in. Through an e-mailed link (`link_issued_at`), only one: the plan
    row is locked so that two answers through one link cannot both get in."""
    errors = {
        symptom.key: str(_("Choose none, mild or severe."))
        for symptom in SYMPTOMS
        if answers.get(symptom.key) not in LEVELS
    }
    if errors:
        raise CheckInError(errors)
    if plan.status != PlanStatus.ACTIVE:
        raise CheckInError({"plan": str(_("This plan is not active."))})
    if link_issued_at is not None:
        list(TaperPlan.objects.select_for_update().filter(pk=plan.pk).values_list("pk"))
        if check_in_link_used(plan=plan, issued_at=link_issued_at):
            raise CheckInError({"link": str(_(LINK_USED))})
    clean = {symptom.key: answers[symptom.key] for symptom in SYMPTOMS}
    severe = is_severe(clean)
    checkin = CheckIn.objects.create(plan=plan, answered_at=now, answers=clean, severe=severe)
    if severe:
        # The alert is for the clinic: in English, whatever the patient's language.
        with translation.override("en"):
            named = ", ".join(str(s.question).lower() for s in SYMPTOMS if clean[s.key] != "none")
        dispatch.alert_raise(
            plan=plan,
            reason=AlertReason.SEVERE_SYMPTOMS,
            since=now,
            now=now,
            detail=f"Check-in reports: {named}. Consider holding the current step."[:300],
        )
    return checkin
