"""How long and how fast: the protocol's taper length and step interval for this patient,
the largest cut its own plan makes, and the levels of the plan the clinician asked for.

Discontinue: 14 days; 21 when the daily dose is high or use has been long; 28 when
both. Length and step interval are stretched once (× slower_factor, rounded up) for
age, kidney function or a seizure history. A "reduce" plan takes as many steps of
the discontinue plan's size as it needs to reach the target. A custom linear pace
gets at least the steps that keep every cut within the protocol's largest cut (the
plan is lengthened), unless the clinician chose a length shorter than the protocol's
or an abrupt stop: then it is flagged (taper/flags.py STEP_TOO_LARGE).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Literal

from taper.kidney import CreatinineClearance
from taper.levels import cuts_mg, fewest_linear_steps, linear_levels, proportional_levels
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
    levels: tuple[Decimal, ...]  # the daily total of each step; () for "stop now"
    largest_cut_mg: Decimal  # the largest cut of the protocol's own plan for this patient
    percent_per_step: Decimal | None = None  # proportional only
    lengthened_from_days: int | None = None  # the length asked for, when cuts needed more

    @property
    def stop_now(self) -> bool:
        return not self.levels


def taper_pace(
    request: PlanRequest, protocol: OralProtocol, crcl: CreatinineClearance | None
) -> TaperPace:
    patient = request.patient
    daily = request.daily_total_mg
    quantum = request.product.dose_quantum_mg
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
    weak_kidneys = renal_slowed(protocol, crcl)
    slower_after = protocol.slower_after_months
    # A class protocol may also slow down for long use (benzodiazepines: a year or more).
    long_use_slower = (
        slower_after is not None
        and patient.months_on_therapy is not None
        and patient.months_on_therapy >= slower_after.value
    )
    factor = protocol.slower_factor.value
    length = base_length
    step = protocol.step_interval_days.value
    if elderly or weak_kidneys or patient.seizure_history or long_use_slower:
        # Once, however many of these apply (CLINICAL.md).
        length, step = stretch_days(length, factor), stretch_days(step, factor)
    preferred_length, preferred_step = length, step
    if request.pace.name == "slower":
        preferred_length, preferred_step = stretch_days(length, factor), stretch_days(step, factor)

    protocol_shape = _protocol_shape(protocol)
    shape: Shape = request.pace.shape or protocol_shape
    percent = request.pace.percent_per_step or protocol.percent_per_step.value
    goal = request.goal
    target = goal.target_daily_mg if goal is not None and goal.type == "reduce" else None
    if target is not None:
        steps = steps_to_target(daily, target, quantum, length // step)
        required = steps * step
        # Slower keeps the same steps and makes each one last longer.
        preferred_length = steps * preferred_step
    else:
        steps = max(1, length // step)
        required = length

    # The protocol's own plan for this patient sets the largest cut (CLINICAL.md
    # invariant 9), whatever pace or shape the clinician chooses.
    # At the catalogue product's dose step, whatever strengths the patient has.
    own_quantum = request.protocol_quantum_mg
    if protocol_shape == "linear":
        own = linear_levels(daily, own_quantum, steps, target)
    else:
        own = proportional_levels(daily, own_quantum, protocol.percent_per_step.value, target)
    largest = max(cuts_mg(daily, own, to_zero=target is None))

    chosen_length = request.pace.length_days
    if chosen_length is None:
        chosen_length = preferred_length
    chosen_step = request.pace.step_days or preferred_step
    is_discontinue = target is None
    abrupt = is_discontinue and chosen_length < protocol.hard_floor_days.value
    explicitly_shorter = (
        request.pace.length_days is not None and request.pace.length_days < required
    )
    if abrupt and request.pace.shape is None:
        # An abrupt stop keeps the length asked for; a proportional protocol (the classes
        # of #22) would otherwise stretch it back to its own length. Baclofen is linear.
        shape = "linear"
    lengthened_from: int | None = None
    levels: tuple[Decimal, ...]
    if request.pace.stop_now:
        levels = ()
    elif shape == "proportional":
        levels = proportional_levels(daily, quantum, percent, target)
        # The length follows from P and the step interval, never under the protocol's.
        chosen_length = max(len(levels) * chosen_step, required, request.pace.length_days or 0)
        explicitly_shorter = False
    else:
        count = max(1, chosen_length // chosen_step)
        fewest = fewest_linear_steps(daily, quantum, largest, target)
        if count < fewest and not (explicitly_shorter or abrupt):
            # A custom pace never turns a taper into a few big cuts: the plan gets the
            # steps it needs, each chosen_step long.
            count = fewest
            lengthened_from = chosen_length
            chosen_length = max(chosen_length, count * chosen_step)
        levels = linear_levels(daily, quantum, count, target)
    return TaperPace(
        required_length_days=required,
        protocol_step_days=step,
        length_days=chosen_length,
        step_days=chosen_step,
        shape=shape,
        faster_than_protocol=explicitly_shorter or chosen_step < step,
        abrupt_stop=abrupt,
        levels=levels,
        largest_cut_mg=largest,
        percent_per_step=percent if shape == "proportional" else None,
        lengthened_from_days=lengthened_from,
    )


def renal_slowed(protocol: OralProtocol, crcl: CreatinineClearance | None) -> bool:
    below = protocol.slower_below_crcl_ml_min
    return crcl is not None and below is not None and crcl.value_ml_min < below.value


def steps_to_target(
    daily: Decimal, target: Decimal, quantum: Decimal, discontinue_steps: int
) -> int:
    """How many steps of the discontinue plan's size (daily / (n + 1)) it takes to get
    from daily to target; whole quanta keep the division exact."""
    n = max(1, discontinue_steps)
    daily_q, target_q = int(daily / quantum), int(target / quantum)
    return max(1, -(-(daily_q - target_q) * (n + 1) // daily_q))


def stretch_days(days: int, factor: Decimal) -> int:
    return int((days * factor).to_integral_value(rounding=ROUND_CEILING))


def _protocol_shape(protocol: OralProtocol) -> Shape:
    return "proportional" if protocol.step_shape.value == "proportional" else "linear"
