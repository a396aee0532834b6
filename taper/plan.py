"""The taper plan: one value holding everything a clinician reviews and a patient follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from taper.flags import Flag, intrathecal_flags, oral_flags, requires_review, with_flags
from taper.kidney import CreatinineClearance, patient_creatinine_clearance
from taper.missed_dose import MissedDoseGuidance
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
    crcl = patient_creatinine_clearance(request.patient)
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
        )
        # A revision only lengthens the plan: the flags it was approved with still hold.
        steps, flags = revised.steps, with_flags(flags, list(revised.flags))
    events = dose_events(steps, request.timezone, fraction)
    supply = dispense(
        request.product, ((dose.units, step.days) for step in steps for dose in step.doses)
    )
    return TaperPlan(
        protocol_id=protocol.id,
        protocol_version=protocol.version,
        request=request,
        start_date=steps[0].start_date,
        end_date=steps[-1].end_date,
        duration_days=(steps[-1].end_date - steps[0].start_date).days + 1,
        required_length_days=pace.required_length_days,
        step_interval_days=pace.step_days,
        steps=steps,
        dose_events=events,
        dispense=supply,
        missed_dose=steps[0].missed_dose,
        flags=flags,
        requires_review=requires_review(flags),
        creatinine_clearance=crcl,
    )


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
        requires_review=requires_review(flags),
        creatinine_clearance=crcl,
        pump=pump,
        refills=refill_schedule(
            pump,
            start_date=request.start_date,
            reminder_days_before=protocol.refill_reminder_days_before.value,
        ),
        wean_steps=wean,
    )
