"""How long and how fast: the protocol's taper length and step interval for this patient.

Discontinue: 14 days; 21 when the daily dose is high or use has been long; 28 when
both. Length and step interval are stretched once (× slower_factor, rounded up) for
age, kidney function or a seizure history. A "reduce" plan takes as many steps of
the discontinue plan's size as it needs to reach the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Literal

from taper.kidney import CreatinineClearance
from taper.protocol import OralProtocol
from taper.request import PlanRequest

Shape = Literal["linear", "proportional"]


@dataclass(frozen=True, slots=True)
class TaperPace:
    required_length_days: int  # what the protocol requires for this patient and goal
    protocol_step_days: int  # the protocol's step interval for this patient
    length_days: int  # what the plan uses (a clinician may choose longer, or shorter)
    step_days: int
    shape: Shape
    faster_than_protocol: bool
    abrupt_stop: bool


def taper_pace(
    request: PlanRequest, protocol: OralProtocol, crcl: CreatinineClearance | None
) -> TaperPace:
    patient = request.patient
    daily = request.daily_total_mg
    high_dose = daily >= protocol.high_dose_daily_mg.value
    long_use = (
        patient.months_on_therapy is not None
        and patient.months_on_therapy >= protocol.long_term_months.value
    )
    if high_dose and long_use:
        base_length = protocol.longest_length_days.value
    elif high_dose or long_use:
        base_length = protocol.longer_length_days.value
    else:
        base_length = protocol.standard_length_days.value

    elderly = (
        patient.age_years is not None
        and patient.age_years >= protocol.risks.elderly_age_years.value
    )
    weak_kidneys = crcl is not None and crcl.value_ml_min < protocol.slower_below_crcl_ml_min.value
    factor = protocol.slower_factor.value
    length = base_length
    step = protocol.step_interval_days.value
    if elderly or weak_kidneys or patient.seizure_history:
        # Once, however many of these apply (CLINICAL.md).
        length, step = stretch_days(length, factor), stretch_days(step, factor)
    preferred_length, preferred_step = length, step
    if request.pace.name == "slower":
        preferred_length, preferred_step = stretch_days(length, factor), stretch_days(step, factor)

    shape: Shape = request.pace.shape or _protocol_shape(protocol)
    goal = request.goal
    if goal is not None and goal.type == "reduce" and goal.target_daily_mg is not None:
        quantum = request.product.dose_quantum_mg
        steps = steps_to_target(daily, goal.target_daily_mg, quantum, length // step, shape)
        required = steps * step
        # Slower keeps the same steps and makes each one last longer.
        preferred_length = steps * preferred_step
    else:
        required = length

    chosen_length = request.pace.length_days or preferred_length
    chosen_step = request.pace.step_days or preferred_step
    is_discontinue = goal is None or goal.type == "discontinue"
    return TaperPace(
        required_length_days=required,
        protocol_step_days=step,
        length_days=chosen_length,
        step_days=chosen_step,
        shape=shape,
        faster_than_protocol=chosen_length < required or chosen_step < step,
        abrupt_stop=is_discontinue and chosen_length < protocol.hard_floor_days.value,
    )


def steps_to_target(
    daily: Decimal, target: Decimal, quantum: Decimal, discontinue_steps: int, shape: Shape
) -> int:
    """How many steps of the discontinue plan's size it takes to get from daily to target."""
    n = max(1, discontinue_steps)
    if shape == "linear":
        # Step size daily / (n + 1); whole quanta keep the division exact.
        daily_q, target_q = int(daily / quantum), int(target / quantum)
        return max(1, -(-(daily_q - target_q) * (n + 1) // daily_q))
    # Proportional: each step keeps (quantum / daily) ** (1 / n) of the dose before it.
    steps = n * math.log(daily / target) / math.log(daily / quantum)
    return max(1, math.ceil(round(steps, 9)))


def stretch_days(days: int, factor: Decimal) -> int:
    return int((days * factor).to_integral_value(rounding=ROUND_CEILING))


def _protocol_shape(protocol: OralProtocol) -> Shape:
    return "proportional" if protocol.step_shape.value == "proportional" else "linear"
