"""Continuity of treatment: the rules that keep a patient from being left without doses
or cut faster than the protocol by the app itself (issue #15, the first law).

One place for: what "today" is for a patient, whether a plan may start on a day, what
a plan's approved schedule says for any day, and what activating a plan does to the plan
it replaces. The services enforce these rules; the pages and the API show them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import taper
from planner.engine_input import patient_facts
from planner.models import PlanStatus, TaperPlan
from taper.protocol import PatientRisks

START_IN_THE_PAST = (
    "The first day of a plan must be today or later in the patient's time zone "
    "(today is {today}): days already past cannot be planned."
)


def patient_today(zone: str, now: dt.datetime) -> dt.date:
    """The date in the patient's home time zone at ``now``."""
    return now.astimezone(ZoneInfo(zone)).date()


def local_midnight(day: dt.date, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone))


def start_refusal(start: dt.date, zone: str, now: dt.datetime) -> str | None:
    """Why a plan may not start on ``start`` (None when it may): never in the past."""
    today = patient_today(zone, now)
    if start < today:
        return START_IN_THE_PAST.format(today=today.isoformat())
    return None


def same_wall_clock(moment: dt.datetime, old_zone: str, new_zone: str) -> dt.datetime:
    """The moment with the same wall-clock date and time in ``new_zone`` (08:00 stays
    08:00): how a home-zone change moves a stored dose, without re-planning it."""
    wall = moment.astimezone(ZoneInfo(old_zone)).replace(tzinfo=None)
    return wall.replace(tzinfo=ZoneInfo(new_zone))


def planned_daily_mg(engine_output: dict[str, Any], day: dt.date) -> Decimal | None:
    """The daily dose (mg) an approved oral revision gives on ``day``: its step's daily
    total, the maintenance dose after the last step of a reduce-to-target plan, and 0
    after the end of a discontinuation. None before the plan's first day and for pump
    plans (their doses are the pump's, in mcg)."""
    if engine_output.get("pump") is not None:
        return None
    if day < dt.date.fromisoformat(engine_output["start_date"]):
        return None
    steps = engine_output.get("steps") or []
    for step in steps:
        if dt.date.fromisoformat(step["start_date"]) <= day <= dt.date.fromisoformat(
            step["end_date"]
        ):
            return Decimal(str(step["daily_total_mg"]))
    maintenance = engine_output.get("maintenance")
    if maintenance:
        return Decimal(str(maintenance["daily_total_mg"]))
    return Decimal(0)


def planned_doses(engine_output: dict[str, Any], day: dt.date) -> list[dict[str, Any]]:
    """The doses (time, amount, role) an oral revision gives on ``day``, as engine input:
    its step's, or the maintenance dose after the last step; [] when it gives none."""
    if engine_output.get("pump") is not None:
        return []
    chosen = None
    for step in engine_output.get("steps") or []:
        if dt.date.fromisoformat(step["start_date"]) <= day <= dt.date.fromisoformat(
            step["end_date"]
        ):
            chosen = step["doses"]
    ended = day > dt.date.fromisoformat(engine_output["end_date"])
    if chosen is None and ended and engine_output.get("maintenance"):
        chosen = engine_output["maintenance"]["doses"]
    return [
        {"time": dose["time"], "amount_mg": dose["amount_mg"], "role": dose["role"]}
        for dose in chosen or []
        if dose["amount_mg"]
    ]


@dataclass(frozen=True)
class Replacement:
    """What activating ``plan`` does to the plans of the same medicine already running."""

    plan: TaperPlan
    running: tuple[TaperPlan, ...]
    first_day: dt.date
    # The patient's daily dose the day before the new plan starts (the running plans'),
    # and the new plan's dose on its first day: the cut the replacement makes.
    daily_before_mg: Decimal | None
    first_day_mg: Decimal | None
    largest_cut_mg: Decimal | None
    # Every running plan gives the same drugs as the new one (milligrams comparable).
    same_medicine: bool = True

    @property
    def last_running_day(self) -> dt.date:
        return self.first_day - dt.timedelta(days=1)

    @property
    def cut_mg(self) -> Decimal | None:
        if self.daily_before_mg is None or self.first_day_mg is None:
            return None
        return self.daily_before_mg - self.first_day_mg

    @property
    def cut_too_large(self) -> bool:
        """The replacement cuts more overnight than the protocol's largest cut, or its
        milligrams cannot be compared with the running plans' (another drug: a switch to
        diazepam replaced by a diazepam plan, or the reverse): only a reviewer's approval
        lets it start."""
        if not self.same_medicine:
            return True
        cut = self.cut_mg
        return cut is not None and self.largest_cut_mg is not None and cut > self.largest_cut_mg


def plan_medicines(plan: TaperPlan) -> frozenset[str]:
    """The drugs a plan has the patient take: its own and, for a switch to diazepam
    (issue 22), the drug it switches to (the stored output's equivalence.to_product)."""
    drugs = {plan.drug}
    revision = plan.current_revision
    equivalence = (revision.engine_output or {}).get("equivalence") if revision else None
    if isinstance(equivalence, dict):
        product = taper.load_catalogue().product(str(equivalence.get("to_product", "")))
        if product is not None:
            drugs.add(product.drug)
    return frozenset(drugs)


def running_plans(plan: TaperPlan) -> list[TaperPlan]:
    """The other plans of the patient's medicine that are running (or will run until a
    newer plan starts): the ones activating ``plan`` replaces. A plan that switches to
    diazepam shares its medicine with a diazepam plan: both never run side by side."""
    medicines = plan_medicines(plan)
    return [
        other
        for other in TaperPlan.objects.filter(patient_id=plan.patient_id, status=PlanStatus.ACTIVE)
        .exclude(pk=plan.pk)
        .select_related("current_revision")
        .order_by("pk")
        if plan_medicines(other) & medicines
    ]


def replacement_for(plan: TaperPlan) -> Replacement | None:
    """What activating ``plan`` would replace, or None when nothing of its medicine runs."""
    revision = plan.current_revision
    if revision is None:
        return None
    first_day = revision.start_date
    day_before = first_day - dt.timedelta(days=1)
    # A plan already ending before then (a newer plan replaces it) is not replaced again:
    # the plan that replaces it is.
    running = [
        other
        for other in running_plans(plan)
        if other.runs_until is None or other.runs_until >= day_before
    ]
    if not running:
        return None
    before: Decimal | None = None
    for other in running:
        if other.current_revision is None:
            continue
        daily = planned_daily_mg(other.current_revision.engine_output, day_before)
        if daily is not None:
            before = (before or Decimal(0)) + daily
    output = revision.engine_output
    largest = output.get("largest_cut_mg")
    return Replacement(
        plan=plan,
        running=tuple(running),
        first_day=first_day,
        daily_before_mg=before,
        first_day_mg=planned_daily_mg(output, first_day),
        largest_cut_mg=Decimal(str(largest)) if largest is not None else None,
        same_medicine=all(plan_medicines(other) == plan_medicines(plan) for other in running),
    )


def _mg(amount: Decimal) -> str:
    return f"{amount.normalize():f} mg"


def activation_summary(plan: TaperPlan, now: dt.datetime) -> list[str]:
    """What activating the plan will do, in plain sentences, for the clinician to read
    before confirming. Empty when the plan cannot be activated as it stands."""
    revision = plan.current_revision
    if revision is None or plan.status not in (PlanStatus.DRAFT, PlanStatus.APPROVED):
        return []
    zone = plan.patient.home_timezone
    today = patient_today(zone, now)
    first = revision.start_date
    if first < today:
        return [
            f"This plan's first day, {first:%d %B %Y}, has passed: move its first day "
            "before activating it."
        ]
    lines = []
    if first == today:
        lines.append(
            "The plan starts today: doses from now on are scheduled; doses earlier today "
            "are not."
        )
    else:
        lines.append(f"The plan starts on {first:%A %d %B %Y}.")
    replacement = replacement_for(plan)
    if replacement is None:
        return lines
    for other in replacement.running:
        other_first = other.current_revision.start_date if other.current_revision else first
        if other_first >= first:
            lines.append(
                f"Plan {other.pk}, which was to start on {other_first:%d %B %Y}, is replaced "
                "before it starts."
            )
        elif first > today:
            last = replacement.last_running_day
            lines.append(
                f"The running plan {other.pk} continues unchanged until {last:%A %d %B %Y}, "
                "then ends; the patient is told when the new plan starts."
            )
        else:
            lines.append(
                f"The running plan {other.pk} ends now (doses already due today stay); "
                "the patient is told."
            )
    if not replacement.same_medicine:
        lines.append(
            "The running plan gives another drug than this one (a switch to diazepam): "
            "their milligrams cannot be compared overnight, so a reviewer must approve this "
            "plan before it replaces the running one."
        )
        return lines
    cut = replacement.cut_mg
    if cut is not None and replacement.first_day_mg is not None:
        assert replacement.daily_before_mg is not None
        lines.append(
            f"Daily dose: {_mg(replacement.daily_before_mg)} the day before, "
            f"{_mg(replacement.first_day_mg)} on the first day of this plan."
        )
        if replacement.cut_too_large:
            assert replacement.largest_cut_mg is not None
            lines.append(
                f"That cut of {_mg(cut)} is larger than the protocol's largest cut "
                f"({_mg(replacement.largest_cut_mg)} a day): a reviewer must approve this "
                "plan before it replaces the running one."
            )
    return lines


def activation_refusal(
    plan: TaperPlan, now: dt.datetime, replacement: Replacement | None
) -> str | None:
    """Why the plan may not be activated now (None when it may), beyond its status: a
    first day already past, or a replacement cutting more than the protocol's largest cut
    without a reviewer's approval. plan_activate enforces it; the plan page shows it."""
    revision = plan.current_revision
    assert revision is not None
    if revision.start_date < patient_today(plan.patient.home_timezone, now):
        return (
            f"This plan was to start on {revision.start_date:%d %B %Y}, which has passed: "
            "move its first day to today or later before activating it."
        )
    if replacement is not None and replacement.cut_too_large and plan.approved_by_id is None:
        if not replacement.same_medicine:
            return (
                "This plan replaces a running plan of another drug (a switch to diazepam): "
                "send it for review; a reviewer must approve it before it replaces the "
                "running plan."
            )
        return (
            "Starting this plan would cut the daily dose overnight by more than the "
            "protocol's largest cut: send it for review; a reviewer must approve it before "
            "it replaces the running plan."
        )
    return None


@dataclass(frozen=True)
class PlanActions:
    """The lifecycle steps a clinician may take on a plan now, for the plan page; the
    services enforce the same rules (planner.services.plan_submit, plan_activate)."""

    submit: bool
    activate: bool
    activation_summary: tuple[str, ...]
    # The oral "Revise…" (hold, step back, slow down); never on a pump plan, which
    # changes through its wean visits and recorded refills (issue 21).
    revise: bool = False
    # Record a pump refill: an active pump plan.
    record_refill: bool = False


def plan_actions(plan: TaperPlan, now: dt.datetime) -> PlanActions:
    today = patient_today(plan.patient.home_timezone, now)
    revise = plan.revisable_on(today)
    record_refill = plan.is_pump and plan.status == PlanStatus.ACTIVE
    if plan.status != PlanStatus.DRAFT and plan.status != PlanStatus.APPROVED:
        return PlanActions(
            submit=False,
            activate=False,
            activation_summary=(),
            revise=revise,
            record_refill=record_refill,
        )
    replacement = replacement_for(plan)
    needs_review = plan.requires_review or (
        replacement is not None and replacement.cut_too_large and plan.approved_by_id is None
    )
    draft = plan.status == PlanStatus.DRAFT
    startable = plan.status == PlanStatus.APPROVED or (draft and not needs_review)
    return PlanActions(
        submit=draft and needs_review,
        activate=startable and activation_refusal(plan, now, replacement) is None,
        activation_summary=tuple(activation_summary(plan, now)),
        revise=revise,
        record_refill=record_refill,
    )


# --- Patient facts that change while a plan runs --------------------------------------

# The engine-input patient facts whose change changes a taper's risk (issue #15): kidney
# function, pregnancy and breastfeeding, other CNS depressants; the age band is compared
# separately, since age itself changes every year.
RISK_FACTS = {
    "creatinine_clearance_ml_min": "creatinine clearance (mL/min)",
    "serum_creatinine_mg_dl": "serum creatinine (mg/dL)",
    "dialysis": "dialysis",
    "pregnancy_trimester": "pregnancy trimester",
    "expected_delivery_date": "expected delivery date",
    "breastfeeding": "breastfeeding",
    "cns_depressants": "other CNS depressants",
}


def _shown(value: Any) -> str:
    if value in (None, False, 0, [], ""):
        return "none"
    if value is True:
        return "yes"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def age_band(age_years: int, risks: PatientRisks) -> str:
    """The protocol's age bands: child, adolescent, adult, older adult."""
    if age_years < risks.pediatric_age_years.value:
        return "child"
    if age_years < risks.adult_age_years.value:
        return "adolescent"
    if age_years >= risks.elderly_age_years.value:
        return "older adult"
    return "adult"


def risk_facts(facts: dict[str, Any]) -> dict[str, Any]:
    return {key: facts.get(key) for key in RISK_FACTS}


def facts_changed(plan: TaperPlan, today: dt.date) -> list[str]:
    """What changed in the patient's risk facts since the plan's running version was
    approved, in plain words ("creatinine clearance (mL/min): 80 → 25"). The running plan
    is never recomputed from them; the clinician decides (a one-click replacement)."""
    revision = plan.current_revision
    if revision is None:
        return []
    then = revision.engine_input.get("patient", {})
    now_facts = patient_facts(plan.patient, today, then.get("months_on_therapy", 0))
    changes = [
        f"{label}: {_shown(then.get(key))} → {_shown(now_facts.get(key))}"
        for key, label in RISK_FACTS.items()
        if _shown(then.get(key)) != _shown(now_facts.get(key))
    ]
    catalogue = taper.load_catalogue()
    product = catalogue.product(revision.engine_input.get("product", ""))
    if product is not None and "age_years" in then:
        risks = catalogue.protocol_for(product, revision.protocol_version).risks
        before, after = age_band(then["age_years"], risks), age_band(now_facts["age_years"], risks)
        if before != after:
            changes.append(f"age band: {before} → {after}")
    return changes


def open_plans_notice(patient_id: int) -> list[str]:
    """What a new plan for this patient meets (issue #18: one active plan per patient,
    explicitly): the plans running or waiting, and what activating a new one does to
    them. For the new-plan page."""
    lines = []
    plans = (
        TaperPlan.objects.filter(
            patient_id=patient_id,
            status__in=[
                PlanStatus.ACTIVE, PlanStatus.APPROVED, PlanStatus.PENDING_REVIEW, PlanStatus.DRAFT
            ],
        )
        .select_related("current_revision")
        .order_by("pk")
    )
    for plan in plans:
        revision = plan.current_revision
        if revision is None:
            continue
        if plan.status == PlanStatus.ACTIVE and plan.replaced_by_id is not None:
            lines.append(
                f"Plan {plan.pk} is running until {plan.runs_until:%d %B %Y}, when plan "
                f"{plan.replaced_by_id} replaces it."
            )
        elif plan.status == PlanStatus.ACTIVE:
            lines.append(
                f"Plan {plan.pk} is running (since {revision.start_date:%d %B %Y}): activating "
                "a new plan replaces it from the new plan's first day, and it runs until the "
                "day before."
            )
        else:
            lines.append(
                f"Plan {plan.pk} is {plan.get_status_display().lower()} (first day "
                f"{revision.start_date:%d %B %Y}): whichever is activated later replaces the "
                "one activated first."
            )
    return lines
