"""Two CNS depressants reduced in the same week (issue #22): the one rule, read by the
plan page, the review page and the dashboard.

A patient may taper two drugs at once (baclofen and a benzodiazepine, a benzodiazepine
and gabapentin). Each plan's own guardrails know nothing of the other. When both cut in
the same week, withdrawal from one adds to withdrawal from the other, and a reaction can
no longer be put down to either cut: the clinician is warned, and decides (stagger the
cuts, or accept them). The rule only warns; it changes no plan.

Why these drugs count: benzodiazepines, Z-drugs, gabapentinoids and baclofen all depress
the central nervous system, and their effects add up (FDA Drug Safety Communication,
31 August 2016: boxed warning on opioids with benzodiazepines and other CNS depressants;
FDA Drug Safety Communication, 19 December 2019: serious breathing difficulties with
gabapentin and pregabalin taken with other CNS depressants; baclofen label, Warnings:
additive CNS effects with other CNS depressants). "The same week" is a clinic default:
two reductions less than 7 days apart, whichever calendar week they fall in (a Sunday
and the following Monday are one day apart).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q

from planner.models import PlanRevision, PlanStatus, TaperPlan

# The drugs of the catalogue that depress the central nervous system; a test checks that
# every drug of the catalogue is classified, so a new drug forces the decision.
CNS_DEPRESSANTS = frozenset(
    {
        "baclofen",
        "alprazolam",
        "clonazepam",
        "diazepam",
        "lorazepam",
        "zolpidem",
        "gabapentin",
        "pregabalin",
    }
)
NOT_CNS_DEPRESSANTS: frozenset[str] = frozenset()
SAME_WEEK_DAYS = 7  # clinic default (module docstring)
# The plans whose reductions will happen: started or about to start.
COMPARED_STATUSES = (PlanStatus.ACTIVE, PlanStatus.APPROVED, PlanStatus.PENDING_REVIEW)


@dataclass(frozen=True, slots=True)
class Reduction:
    day: dt.date
    from_mg: Decimal
    to_mg: Decimal


@dataclass(frozen=True, slots=True)
class Overlap:
    """A reduction of this plan less than a week from one of ``other_plan``'s."""

    drug: str
    day: dt.date
    other_plan_id: int
    other_drug: str
    other_day: dt.date
    other_status: str


def reductions(engine_input: dict[str, Any], engine_output: dict[str, Any]) -> list[Reduction]:
    """The days the daily dose goes down: the first step when it is below the regimen the
    patient was on, every later step below the one before, the day after the last step
    of a plan that stops, and a pump's wean visits."""
    found: list[Reduction] = []
    previous: Decimal | None = sum(
        (Decimal(str(dose["amount_mg"])) for dose in engine_input.get("doses") or []),
        Decimal(0),
    ) or None
    steps = engine_output.get("steps") or []
    for step in steps:
        total = Decimal(str(step["daily_total_mg"]))
        if previous is not None and total < previous:
            found.append(Reduction(dt.date.fromisoformat(step["start_date"]), previous, total))
        previous = total
    if steps and not engine_output.get("maintenance") and previous:
        after = dt.date.fromisoformat(steps[-1]["end_date"]) + dt.timedelta(days=1)
        found.append(Reduction(after, previous, Decimal(0)))
    pump = engine_output.get("pump") or {}
    level = pump.get("daily_dose_mcg")
    for visit in engine_output.get("wean_steps") or []:
        dose = Decimal(str(visit["daily_dose_mcg"]))
        if level is not None and dose < Decimal(str(level)):
            found.append(Reduction(dt.date.fromisoformat(visit["visit_date"]), Decimal(0), dose))
        level = dose
    return found


def same_week(
    ours: Sequence[Reduction], theirs: Sequence[Reduction], until: dt.date | None = None
) -> list[tuple[Reduction, Reduction]]:
    """Pairs of reductions less than SAME_WEEK_DAYS apart; ``until`` is the last day the
    other plan runs (a replaced plan stops before its later cuts). Both lists are sorted
    by day, so this is one pass over each, not a product of the two."""
    pairs: list[tuple[Reduction, Reduction]] = []
    theirs = [r for r in theirs if until is None or r.day <= until]
    start = 0
    for reduction in ours:
        while start < len(theirs) and (reduction.day - theirs[start].day).days >= SAME_WEEK_DAYS:
            start += 1
        index = start
        while index < len(theirs) and (theirs[index].day - reduction.day).days < SAME_WEEK_DAYS:
            pairs.append((reduction, theirs[index]))
            index += 1
    return pairs


def _others(patient_id: int, drug: str, plan_id: int | None) -> Iterable[TaperPlan]:
    return (
        TaperPlan.objects.filter(
            patient_id=patient_id,
            status__in=COMPARED_STATUSES,
            drug__in=CNS_DEPRESSANTS,
        )
        .exclude(Q(pk=plan_id) | Q(drug=drug))  # a plan of the same drug replaces it
        .select_related("current_revision")
        .order_by("pk")
    )


def overlaps_with_others(
    *, patient_id: int, drug: str, ours: Sequence[Reduction], plan_id: int | None = None
) -> list[Overlap]:
    """The reductions ``ours`` of a ``drug`` plan (``plan_id``, or a plan not saved yet)
    that fall within a week of a reduction of another CNS depressant plan of the patient
    that is running, approved or waiting for review. One query, however long the plans."""
    if drug not in CNS_DEPRESSANTS:
        return []
    found: list[Overlap] = []
    for other in _others(patient_id, drug, plan_id):
        theirs_revision = other.current_revision
        if theirs_revision is None:
            continue
        theirs = reductions(theirs_revision.engine_input, theirs_revision.engine_output)
        for mine, their in same_week(ours, theirs, until=other.runs_until):
            found.append(
                Overlap(
                    drug=drug,
                    day=mine.day,
                    other_plan_id=other.pk,
                    other_drug=other.drug,
                    other_day=their.day,
                    other_status=other.get_status_display(),
                )
            )
    return found


def plan_overlaps(plan: TaperPlan, revision: PlanRevision | None = None) -> list[Overlap]:
    """The overlaps of ``revision`` (the plan's current one by default: the review page
    passes the version under review) with the patient's other plans."""
    revision = revision or plan.current_revision
    if revision is None:
        return []
    if plan.status in (PlanStatus.CANCELLED, PlanStatus.COMPLETED, PlanStatus.SUPERSEDED):
        return []
    return overlaps_with_others(
        patient_id=plan.patient_id,
        drug=plan.drug,
        ours=reductions(revision.engine_input, revision.engine_output),
        plan_id=plan.pk,
    )
