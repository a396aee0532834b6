"""Plan inputs as the clinician's form and the API send them, and the plans most tests
start from: oral baclofen 10 mg at 08:00, 14:00 and 20:00 in New York from ``START``."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import time_machine

from planner import services
from planner.engine_input import patient_facts
from planner.models import Patient, TaperPlan
from reminders.models import Dose
from tests.support.clock import START


def plan_post(**overrides: Any) -> dict[str, Any]:
    """The new-plan form as a clinician fills it in; ``None`` leaves a field out."""
    data = {
        "product": "baclofen-oral-tablet",
        "months_on_therapy": "3",
        "start_date": START.isoformat(),
        "goal": "discontinue",
        "pace": "standard",
        "shape": "linear",
        "dose_time_1": "08:00",
        "dose_amount_1": "10",
        "dose_time_2": "14:00",
        "dose_amount_2": "10",
        "dose_time_3": "20:00",
        "dose_amount_3": "10",
        "submission_key": "k-1",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def engine_input(patient: Patient, **overrides: Any) -> dict[str, Any]:
    """The engine input the form above produces for ``patient``."""
    data: dict[str, Any] = {
        "product": "baclofen-oral-tablet",
        "doses": [
            {"time": "08:00", "amount_mg": 10},
            {"time": "14:00", "amount_mg": 10},
            {"time": "20:00", "amount_mg": 10},
        ],
        "start_date": START.isoformat(),
        "timezone": patient.home_timezone,
        "goal": {"type": "discontinue"},
        "patient": patient_facts(patient, START, months_on_therapy=3),
    }
    data.update(overrides)
    return data


def pump_engine_input(patient: Patient) -> dict[str, Any]:
    """A 500 mcg/mL pump at 250 mcg a day, filled on ``START``: alarm 36 days later."""
    return {
        "product": "baclofen-intrathecal",
        "pump": {
            "concentration_mcg_per_ml": 500,
            "daily_dose_mcg": 250,
            "reservoir_ml": 20,
            "alarm_volume_ml": 2,
            "last_refill_date": START.isoformat(),
        },
        "start_date": START.isoformat(),
        "timezone": patient.home_timezone,
        "patient": patient_facts(patient, START, months_on_therapy=24),
    }


def active_plan(patient: Patient, clinician: Any) -> TaperPlan:
    """The oral plan above, created and activated before it starts."""
    with time_machine.travel(START - dt.timedelta(days=9)):
        plan = services.plan_create(
            patient=patient, by=clinician, engine_input=engine_input(patient)
        )
        services.plan_activate(plan=plan, by=clinician)
    plan.refresh_from_db()
    return plan


def dose_at(plan: TaperPlan, day: str, time: str) -> Dose:
    return Dose.objects.get(plan=plan, local_date=day, local_time=time)


def at_new_york(day: str, time: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=ZoneInfo("America/New_York"))


def review_post(plan: Any, decision: str, comment: str = "") -> dict[str, Any]:
    """The review page's form as a reviewer sends it: for the version waiting now."""
    from clinic.reviews import under_review

    revision = under_review(type(plan).objects.get(pk=plan.pk))
    assert revision is not None, "nothing of this plan waits for review"
    return {"decision": decision, "comment": comment, "revision": revision.pk}


def active_pump_plan(patient: Patient, clinician: Any, reviewer: Any) -> TaperPlan:
    """The pump plan above, submitted, approved by ``reviewer`` (its boxed warning needs
    review) and activated before it starts."""
    plan = services.plan_create(
        patient=patient, by=clinician, engine_input=pump_engine_input(patient)
    )
    services.plan_submit(plan=plan, by=clinician)
    services.plan_approve(plan=plan, by=reviewer)
    return services.plan_activate(plan=plan, by=clinician)


def supply_dispensed(plan: TaperPlan, by: Any, ten: int = 8, five: int = 9) -> None:
    """Tablets of the plan above recorded as dispensed on ``START``, straight in the table
    (no reminder armed). 8 × 10 mg run out on 6 March; 9 × 5 mg last the plan."""
    from decimal import Decimal

    from planner.models import SupplyDispensed

    for strength, quantity in ((10, ten), (5, five)):
        SupplyDispensed.objects.create(
            plan=plan, product="baclofen-oral-tablet", strength_mg=Decimal(strength),
            quantity=quantity, dispensed_on=START, recorded_by=by,
        )  # fmt: skip
