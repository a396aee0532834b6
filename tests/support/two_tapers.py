"""A patient on two tapers at once (issue #22): the baclofen plan of tests.support.plans
and a second plan of another drug, both active from ``START``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine

from planner import services
from planner.models import Patient, TaperPlan
from tests.support.clock import START
from tests.support.plans import engine_input

# 5 mg diazepam twice a day for a year: a benzodiazepine taper of 2-week-or-longer steps.
DIAZEPAM_DOSES = [{"time": "09:00", "amount_mg": 5}, {"time": "21:00", "amount_mg": 5}]
# 300 mg gabapentin three times a day: a gabapentinoid taper of short steps.
GABAPENTIN_DOSES = [
    {"time": "08:00", "amount_mg": 300},
    {"time": "14:00", "amount_mg": 300},
    {"time": "20:00", "amount_mg": 300},
]


def drug_plan(
    patient: Patient,
    clinician: Any,
    reviewer: Any,
    *,
    product: str = "diazepam-oral-tablet",
    doses: list[dict[str, Any]] | None = None,
    start: dt.date = START,
    months_on_therapy: int = 24,
    activate: bool = True,
    **overrides: Any,
) -> TaperPlan:
    """A plan of ``product`` made, reviewed when it needs it, and (by default) activated
    before it starts."""
    data = engine_input(
        patient,
        product=product,
        doses=doses or DIAZEPAM_DOSES,
        start_date=start.isoformat(),
        **overrides,
    )
    data["patient"] = {**data["patient"], "months_on_therapy": months_on_therapy}
    made_on = dt.datetime.combine(start, dt.time(12), dt.UTC) - dt.timedelta(days=9)
    with time_machine.travel(made_on):
        plan = services.plan_create(patient=patient, by=clinician, engine_input=data)
        if plan.requires_review or plan.current_revision.requires_review:
            services.plan_submit(plan=plan, by=clinician)
            services.plan_approve(plan=plan, by=reviewer)
        if activate:
            services.plan_activate(plan=plan, by=clinician)
    plan.refresh_from_db()
    return plan
