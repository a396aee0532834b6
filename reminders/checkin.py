"""Symptom check-ins during a taper: a short list of withdrawal signs (CLINICAL.md).
Any sign answered "severe", or any red-flag sign at all, alerts the clinician at once
and tells the patient to seek help now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

import taper
from planner import services
from planner.models import PlanRevision, PlanStatus, RevisionKind, RevisionReview, TaperPlan
from reminders import dispatch
from reminders.models import AlertReason, CheckIn, CheckInLevel


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
LEVELS = ("none", "mild", "moderate", "severe")
LEVEL_LABELS = {
    "none": _("None"), "mild": _("Mild"), "moderate": _("Moderate"), "severe": _("Severe"),
}


@dataclass(frozen=True, slots=True)
class CheckInAdvice:
    """What a patient is told after a mild or moderate check-in, with where it comes from
    (CLINICAL.md: every clinical statement carries its source)."""

    expected: str | Promise
    expected_source: str
    rising: str | Promise  # moderate only: contact the clinic
    rising_source: str
    # The warning signs to watch for are templates/portal/_emergency.html's, from the
    # monograph's withdrawal signs (CLINICAL.md "Withdrawal signs").
    watch_for_source: str


ADVICE = CheckInAdvice(
    expected=_(
        "Your plan lowers your dose slowly so that your body can adjust. How a dose change "
        "affects you usually shows in the first 1 to 3 days after it. Keep taking your doses "
        "as planned: do not stop them, and never take two doses at once."
    ),
    expected_source=(
        "baclofen monograph: the taper \"allows your nervous system to safely readjust\"; "
        "\"Do not take two doses at once\". CLINICAL.md step interval (clinic default): "
        "\"a step's effect and any withdrawal sign show within 1–3 days\""
    ),
    rising=_(
        "Your symptoms are rising: contact your clinic today. They may keep you on your "
        "current dose for a few days before the next step."
    ),
    rising_source=(
        "baclofen monograph: stopping or lowering must be \"under medical supervision\"; a hold "
        "keeps the current dose (CLINICAL.md guardrails: hold)"
    ),
    watch_for_source=(
        "baclofen monograph: withdrawal \"hallucinations, seizures, high fever, and a severe "
        "return of muscle spasticity\"; CLINICAL.md withdrawal signs"
    ),
)


# The same words for every drug the site tapers, each drug class citing its own source
# for them (issue #22: a check-in of a benzodiazepine taper does not cite baclofen's
# monograph). The warning signs to watch for stay templates/portal/_emergency.html's.
_BENZODIAZEPINE_GUIDELINE = (
    "Joint Clinical Practice Guideline on Benzodiazepine Tapering (ASAM et al.), J Gen "
    "Intern Med 2025"
)
_BY_DRUG_CLASS: dict[str, CheckInAdvice] = {
    "benzodiazepine": CheckInAdvice(
        expected=ADVICE.expected,
        expected_source=(
            f"{_BENZODIAZEPINE_GUIDELINE}: gradual reductions so that withdrawal stays "
            "tolerable; the benzodiazepine class boxed warning (2020): \"use a gradual taper\""
        ),
        rising=ADVICE.rising,
        rising_source=(
            f"{_BENZODIAZEPINE_GUIDELINE}: slow down or pause the taper when withdrawal "
            "symptoms are intolerable"
        ),
        watch_for_source=(
            "benzodiazepine class boxed warning (2020): acute withdrawal reactions, "
            "including seizures, which can be life-threatening"
        ),
    ),
    "z-drug": CheckInAdvice(
        expected=ADVICE.expected,
        expected_source=(
            "Pottie et al., Can Fam Physician 2018;64:339-51 (deprescribing algorithm for "
            "benzodiazepine receptor agonists): gradual reductions, slower near the end"
        ),
        rising=ADVICE.rising,
        rising_source="Pottie et al. 2018: keep the current dose longer when symptoms rise",
        watch_for_source=(
            "zolpidem label, Drug Abuse and Dependence: withdrawal signs after a rapid dose "
            "decrease or abrupt discontinuation"
        ),
    ),
    "gabapentinoid": CheckInAdvice(
        expected=ADVICE.expected,
        expected_source=(
            "Neurontin and Lyrica labels, Dosage and Administration: withdraw gradually over "
            "a minimum of 1 week; slower for long or high-dose use (clinic default)"
        ),
        rising=ADVICE.rising,
        rising_source=(
            "gabapentinoid-oral protocol (clinic default): hold the current step when "
            "symptoms rise"
        ),
        watch_for_source=(
            "gabapentin and pregabalin labels: withdrawal-precipitated seizures; FDA Drug "
            "Safety Communication, 19 December 2019: breathing problems with other CNS "
            "depressants"
        ),
    ),
}
def advice_for(drug: str) -> CheckInAdvice:
    """The check-in advice for a plan of ``drug``, with its class's sources (the class
    is the protocol the catalogue tapers the drug with; baclofen's monograph for
    baclofen)."""
    classes = {p.protocol_id for p in taper.list_products() if p.drug == drug and p.protocol_id}
    return next(
        (_BY_DRUG_CLASS[key.removesuffix("-oral")] for key in sorted(classes)
         if key.removesuffix("-oral") in _BY_DRUG_CLASS),
        ADVICE,
    )


class CheckInError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def check_in_level(answers: dict[str, str]) -> str:
    """The check-in as a whole: severe (any sign severe, or any red-flag sign at all),
    else the strongest answer given ("moderate", "mild" or "none")."""
    if is_severe(answers):
        return CheckInLevel.SEVERE
    given = {answers.get(symptom.key, "none") for symptom in SYMPTOMS}
    return next(
        (level for level in (CheckInLevel.MODERATE, CheckInLevel.MILD) if level in given),
        CheckInLevel.NONE,
    )


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
        symptom.key: str(_("Choose none, mild, moderate or severe."))
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
    checkin = CheckIn.objects.create(
        plan=plan, answered_at=now, answers=clean, severe=severe, level=check_in_level(clean)
    )
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


# --- the clinic's side: symptoms rising -----------------------------------------------


def _rising_checkins(clinic_id: int) -> QuerySet[CheckIn]:
    """The moderate check-ins that are their running plan's latest, answered after its
    current version and not answered by a revision waiting for review: one per plan whose
    symptoms are rising. Read from the partial index checkin_moderate_answered, so the
    dashboard's first rows come without reading every plan of the clinic (issue #18)."""
    later = CheckIn.objects.filter(plan_id=OuterRef("plan_id")).filter(
        Q(answered_at__gt=OuterRef("answered_at"))
        | Q(answered_at=OuterRef("answered_at"), id__gt=OuterRef("id"))
    )
    waiting = PlanRevision.objects.filter(
        plan_id=OuterRef("plan_id"), review_state=RevisionReview.PENDING
    )
    return (
        CheckIn.objects.filter(
            level=CheckInLevel.MODERATE,
            plan__status=PlanStatus.ACTIVE,
            plan__patient__clinic_id=clinic_id,
            answered_at__gt=F("plan__current_revision__created_at"),
        )
        .exclude(Exists(later))
        .exclude(Exists(waiting))
    )


def symptoms_rising(*, clinic_id: int) -> QuerySet[TaperPlan]:
    """Running plans of the clinic whose latest check-in was moderate and that nobody has
    revised since (a hold, or any revision, answers it); a revision already waiting for
    review is shown on the dashboard as such instead. Each plan carries
    ``rising_since`` (when that check-in was answered)."""
    rising = _rising_checkins(clinic_id)
    return (
        TaperPlan.objects.filter(pk__in=rising.values("plan_id"))
        .annotate(
            rising_since=Subquery(rising.filter(plan_id=OuterRef("pk")).values("answered_at")[:1])
        )
        .select_related("patient", "current_revision")
        .order_by("rising_since")
    )


def symptoms_rising_first(*, clinic_id: int, limit: int) -> list[dict[str, Any]]:
    """The dashboard's rows of symptoms_rising, longest waiting first, at most ``limit``:
    each plan (with ``rising_since``) and the length of its one-click hold, read as two
    keys of the stored output rather than the whole plan. One query."""
    output = "plan__current_revision__engine_output"
    rows: list[dict[str, Any]] = []
    for check_in in (
        _rising_checkins(clinic_id)
        .select_related("plan__patient")
        .only("answered_at", "plan__status", "plan__patient__given_name",
              "plan__patient__family_name")
        .annotate(
            step_days=KeyTextTransform("step_interval_days", output),
            first_step=KeyTextTransform("0", KeyTransform("steps", output)),
        )
        .order_by("answered_at", "id")[:limit]
    ):
        plan = check_in.plan
        plan.rising_since = check_in.answered_at  # type: ignore[attr-defined]
        rows.append({
            "plan": plan,
            "hold_days": _hold_days(check_in.step_days, has_steps=bool(check_in.first_step)),
        })
    return rows


def _hold_days(days: Any, *, has_steps: bool) -> int | None:
    return int(days) if days and has_steps else None


def hold_days(plan: TaperPlan) -> int | None:
    """How long the one-click hold keeps the current dose: one step interval of the
    approved plan (CLINICAL.md: a step's effect shows within 1–3 days, the protocol's
    interval), read from its stored output; None for a plan without oral steps (a pump)."""
    revision = plan.current_revision
    output: dict[str, Any] = revision.engine_output if revision is not None else {}
    return _hold_days(output.get("step_interval_days"), has_steps=bool(output.get("steps")))


@transaction.atomic
def plan_hold_for_symptoms(*, plan: TaperPlan, by: User, now: dt.datetime) -> PlanRevision:
    """The dashboard's one-click hold for a patient whose symptoms are rising: a hold
    revision from today, for one step interval, through planner.services.plan_revise (so
    it keeps the current dose and never cuts, needs review where the rules say so, and is
    recorded in the plan's history with who did it and why)."""
    # The plan's row is locked first: a second click (or a colleague's) waits, then finds
    # the plan revised since the check-in and holds nothing more.
    plan = (
        TaperPlan.objects.select_for_update(of=("self",))
        .select_related("patient", "current_revision").get(pk=plan.pk)
    )
    days = hold_days(plan)
    if days is None:
        raise ValidationError(
            {"kind": "This plan has no oral steps to hold: call the patient and revise it."}
        )
    rising = symptoms_rising(clinic_id=plan.patient.clinic_id).filter(pk=plan.pk).first()
    if rising is None:
        raise ValidationError(
            {"kind": "This plan is not waiting for a hold: its symptoms were answered already."}
        )
    today = now.astimezone(ZoneInfo(plan.patient.home_timezone)).date()
    since: dt.datetime = rising.rising_since  # type: ignore[attr-defined]
    answered = since.astimezone(ZoneInfo(plan.patient.home_timezone))
    return services.plan_revise(
        plan=plan, by=by, kind=RevisionKind.HOLD, from_date=today, days=days,
        note=f"Held from the dashboard: symptoms rising (moderate check-in of "
             f"{answered:%Y-%m-%d %H:%M}).",
    )
