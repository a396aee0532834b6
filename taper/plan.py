"""The taper plan: one value holding everything a clinician reviews and a patient follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from taper.flags import (
    Flag,
    delivery_flag,
    intrathecal_flags,
    is_child,
    oral_flags,
    requires_review,
    step_too_large_flag,
    window_flag,
    with_flags,
)
from taper.kidney import CreatinineClearance, patient_creatinine_clearance
from taper.missed_dose import MissedDoseGuidance, last_day_guidance
from taper.pace import taper_pace
from taper.protocol import IntrathecalProtocol, OralProtocol
from taper.pump import PumpSettings, RefillDue, WeanStep, refill_schedule
from taper.request import InvalidPlanInput, PlanRequest, Revision, rule_errors
from taper.revise import revise_steps
from taper.rounding import Supply, dispense
from taper.schedule import DoseEvent, Step, build_steps, dose_events


@dataclass(frozen=True, slots=True)
class TaperPlan:
    protocol_id: str
    protocol_version: str
    request: PlanRequest
    start_date: date
    # Oral: last dosing day. Intrathecal: last wean visit (the start date without a wean).
    end_date: date
    # Oral: days from start to the last dosing day, both counted. Intrathecal: days from
    # the start to the last wean visit (0 without a wean).
    duration_days: int
    required_length_days: int  # oral: what the protocol requires; intrathecal: 0
    step_interval_days: int | None
    steps: tuple[Step, ...]
    dose_events: tuple[DoseEvent, ...]
    dispense: tuple[Supply, ...]
    missed_dose: tuple[MissedDoseGuidance, ...]  # for the first step's dose times
    flags: tuple[Flag, ...]
    requires_review: bool
    creatinine_clearance: CreatinineClearance | None
    pump: PumpSettings | None = None
    refills: tuple[RefillDue, ...] = ()
    wean_steps: tuple[WeanStep, ...] = ()
    largest_cut_mg: Decimal | None = None  # oral: the protocol's largest cut for this patient
    percent_per_step: Decimal | None = None  # oral, proportional shape
    # Oral discontinue: guidance for the last dosing day, whose last dose has no next one.
    last_day_missed_dose: tuple[MissedDoseGuidance, ...] = ()

    @property
    def maintenance(self) -> Step | None:
        """A reduce plan's target: the last step's doses, taken on after end_date."""
        goal = self.request.goal
        if goal is None or goal.type != "reduce" or not self.steps:
            return None
        return self.steps[-1]

    @property
    def revisions(self) -> tuple[Revision, ...]:
        """The clinician's revisions the plan was rebuilt with, in order (oral only)."""
        return self.request.revisions

    @property
    def effective_from(self) -> date:
        """The first day this version of the plan changes: the last revision's from_date."""
        return self.revisions[-1].from_date if self.revisions else self.start_date


def plan(request: PlanRequest) -> TaperPlan:
    """Build the plan, or raise InvalidPlanInput when a rule refuses the request."""
    errors = rule_errors(request)
    if errors:
        raise InvalidPlanInput(errors)
    crcl = patient_creatinine_clearance(
        request.patient, request.protocol.risks.adult_age_years.value
    )
    protocol = request.protocol
    if isinstance(protocol, IntrathecalProtocol):
        return _intrathecal_plan(request, protocol, crcl)
    return _oral_plan(request, protocol, crcl)


def _oral_plan(
    request: PlanRequest, protocol: OralProtocol, crcl: CreatinineClearance | None
) -> TaperPlan:
    pace = taper_pace(request, protocol, crcl)
    fraction = protocol.catch_up_fraction.value
    steps = build_steps(request, pace, fraction)
    flags = oral_flags(request, protocol, pace, crcl)
    if request.revisions:
        revised = revise_steps(
            request,
            steps,
            step_days=pace.step_days,
            slower_factor=protocol.slower_factor.value,
            catch_up_fraction=fraction,
            after_end_days=protocol.after_end_days.value,
        )
        # A revision only lengthens the plan: the flags it was approved with still hold.
        steps, flags = revised.steps, with_flags(flags, list(revised.flags))
    start_date = steps[0].start_date if steps else request.start_date
    end_date = steps[-1].end_date if steps else request.start_date
    # The cuts of the plan as built, revisions included (CLINICAL.md invariant 9).
    stop_date = end_date + timedelta(days=1) if steps else request.start_date
    more = [
        step_too_large_flag(
            request,
            protocol,
            pace.largest_cut_mg,
            [(step.start_date, step.daily_total_mg) for step in steps],
            stop_date,
        ),
        delivery_flag(request, protocol, end_date),
    ]
    window = window_flag(
        request, protocol, [(step.start_date, step.daily_total_mg) for step in steps]
    )
    if window is not None:
        # One STEP_TOO_LARGE per plan: the window guardrail joins the largest-cut one.
        cut = more[0]
        more[0] = window if cut is None else _joined(cut, window)
    flags = with_flags(flags, [flag for flag in more if flag is not None])
    events = dose_events(steps, request.timezone, fraction)
    supply = dispense(
        request.product, ((dose.units, step.days) for step in steps for dose in step.doses)
    )
    return TaperPlan(
        protocol_id=protocol.id,
        protocol_version=protocol.version,
        request=request,
        start_date=start_date,
        end_date=end_date,
        duration_days=(end_date - start_date).days + 1 if steps else 0,
        required_length_days=pace.required_length_days,
        step_interval_days=pace.step_days,
        steps=steps,
        dose_events=events,
        dispense=supply,
        missed_dose=steps[0].missed_dose if steps else (),
        flags=flags,
        requires_review=requires_review(flags, child=is_child(request, protocol.risks)),
        creatinine_clearance=crcl,
        largest_cut_mg=pace.largest_cut_mg,
        percent_per_step=pace.percent_per_step,
        last_day_missed_dose=_last_day_guidance(request, steps, fraction),
    )


def _joined(first: Flag, second: Flag) -> Flag:
    return Flag(
        first.code,
        first.severity,
        f"{first.message} {second.message}",
        f"{first.source}; {second.source}",
    )


def _last_day_guidance(
    request: PlanRequest, steps: tuple[Step, ...], catch_up_fraction: Decimal
) -> tuple[MissedDoseGuidance, ...]:
    """The last dosing day of a discontinue plan: no "next dose as usual" after the last
    dose, because there is none (a reduce plan goes on at the target)."""
    goal = request.goal
    if not steps or (goal is not None and goal.type == "reduce"):
        return ()
    times = tuple(dose.time for dose in steps[-1].doses)
    return last_day_guidance(times, catch_up_fraction, steps[-1].end_date)


def _intrathecal_plan(
    request: PlanRequest, protocol: IntrathecalProtocol, crcl: CreatinineClearance | None
) -> TaperPlan:
    pump = request.pump
    assert pump is not None  # rule_errors refuses an intrathecal request without one
    wean = pump.wean_steps
    end_date = wean[-1].visit_date if wean else request.start_date
    flags = intrathecal_flags(request, protocol, crcl)
    return TaperPlan(
        protocol_id=protocol.id,
        protocol_version=protocol.version,
        request=request,
        start_date=request.start_date,
        end_date=end_date,
        duration_days=(end_date - request.start_date).days,
        required_length_days=0,
        step_interval_days=None,
        steps=(),
        dose_events=(),
        dispense=(),
        missed_dose=(),
        flags=flags,
        requires_review=requires_review(flags, child=is_child(request, protocol.risks)),
        creatinine_clearance=crcl,
        pump=pump,
        refills=refill_schedule(
            pump,
            start_date=request.start_date,
            reminder_days_before=protocol.refill_reminder_days_before.value,
            max_interval_days=refill_interval_days(protocol),
        ),
        wean_steps=wean,
    )


def refill_interval_days(protocol: IntrathecalProtocol) -> int | None:
    """The protocol's longest interval between refills (None before version 2)."""
    setting = protocol.max_refill_interval_days
    return setting.value if setting is not None else None
