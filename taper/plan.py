"""The taper plan: one value holding everything a clinician reviews and a patient follows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
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
from taper.levels import cuts_mg
from taper.missed_dose import MissedDoseGuidance, last_day_guidance
from taper.pace import TaperPace, taper_pace
from taper.protocol import IntrathecalProtocol, OralProtocol
from taper.pump import PumpSettings, RefillDue, WeanStep, refill_schedule
from taper.request import InvalidPlanInput, PlanRequest, Revision, rule_errors
from taper.revise import revise_steps
from taper.rounding import DoseUnit, Supply, dispense, format_amount
from taper.schedule import DoseEvent, Step, build_steps, dose_events
from taper.shelf import fewest_strengths, keep_strengths
from taper.switch import (
    Equivalence,
    equivalence_flag,
    equivalent_mg,
    substitution_steps,
    switch_of,
    target_doses,
)


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
    # A switch plan (taper/switch.py): steps' daily totals are in mg of the target drug.
    equivalence: Equivalence | None = None

    @property
    def starting_daily_mg(self) -> Decimal:
        """The day before the plan in the steps' unit (a switch: the target-drug equivalent)."""
        factor = self.equivalence.factor if self.equivalence is not None else Decimal(1)
        return self.request.daily_total_mg * factor

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
    if request.switch_to is not None:
        return _switch_plan(request, protocol, crcl)
    built = _oral_plan(request, protocol, crcl)
    options = request.product_options
    if options is None or not options.fewest_strengths or not built.steps:
        return built
    # The same doses from fewer strengths: only which tablets make them changes.
    taken: Counter[Decimal] = Counter()
    for step in built.steps:
        for dose in step.doses:
            taken[dose.amount_mg] += step.days
    kept = fewest_strengths(request.product, taken)
    if len(kept) == len(request.product.strengths):
        return built
    return _oral_plan(
        replace(request, product=keep_strengths(request.product, kept)), protocol, crcl
    )


def _switch_plan(
    request: PlanRequest, protocol: OralProtocol, crcl: CreatinineClearance | None
) -> TaperPlan:
    """Substitute the target drug one dose time at a time, then taper it (taper/switch.py)."""
    switch = switch_of(request)
    fraction = protocol.catch_up_fraction.value
    substitution = substitution_steps(request, switch, fraction)
    taper_start = substitution[-1].end_date + timedelta(days=1)
    target = _oral_plan(
        replace(
            request,
            product=switch.to,
            protocol=switch.protocol,
            start_date=taper_start,
            doses=target_doses(request, switch),
            switch_to=None,
            switch_protocol=None,
        ),
        switch.protocol,
        crcl,
        with_events=False,
    )
    count = len(substitution)
    steps = substitution + tuple(
        replace(
            step,
            index=step.index + count,
            doses=tuple(replace(dose, product_id=switch.to.id) for dose in step.doses),
        )
        for step in target.steps
    )
    flags = with_flags(target.flags, [equivalence_flag(request, switch)])
    # The substitution never cuts (doses are rounded up); checked all the same, from the
    # day before the plan into the taper's first step.
    window = window_flag(
        request,
        switch.protocol,
        [(step.start_date, step.daily_total_mg) for step in steps[: count + 1]],
        before_mg=equivalent_mg(request, switch),
    )
    if window is not None:
        flags = _with_step_too_large(flags, window)
    supply = tuple(
        replace(supply, product_id=product.id)
        for product, segment in ((request.product, substitution), (switch.to, steps))
        for supply in dispense(product, _doses_of(segment, product.id))
    )
    return replace(
        target,
        protocol_id=protocol.id,
        protocol_version=protocol.version,
        request=request,
        start_date=request.start_date,
        duration_days=(target.end_date - request.start_date).days + 1,
        required_length_days=(taper_start - request.start_date).days + target.required_length_days,
        steps=steps,
        dose_events=dose_events(steps, request.timezone, fraction),
        dispense=supply,
        missed_dose=steps[0].missed_dose,
        flags=flags,
        requires_review=requires_review(flags, child=is_child(request, protocol.risks)),
        equivalence=switch.equivalence(request.product),
    )


def _oral_plan(
    request: PlanRequest,
    protocol: OralProtocol,
    crcl: CreatinineClearance | None,
    *,
    with_events: bool = True,
) -> TaperPlan:
    """with_events False: no dose events (a switch plan makes them once, for all its steps)."""
    pace = taper_pace(request, protocol, crcl)
    if request.product_options is not None:
        _refuse_cuts_the_shelf_forces(request, pace)
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
    events = dose_events(steps, request.timezone, fraction) if with_events else ()
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


def _doses_of(
    steps: tuple[Step, ...], product_id: str
) -> Iterator[tuple[tuple[DoseUnit, ...], int]]:
    """(units, days taken) of one product's doses in a switch plan's steps."""
    return (
        (dose.units, step.days)
        for step in steps
        for dose in step.doses
        if dose.product_id == product_id
    )


def _with_step_too_large(flags: tuple[Flag, ...], flag: Flag) -> tuple[Flag, ...]:
    """One STEP_TOO_LARGE per plan: a second finding joins the first."""
    for index, existing in enumerate(flags):
        if existing.code == flag.code:
            return (*flags[:index], _joined(existing, flag), *flags[index + 1 :])
    return with_flags(flags, [flag])


def _refuse_cuts_the_shelf_forces(request: PlanRequest, pace: TaperPace) -> None:
    """Chosen strengths that cannot make the protocol's steps are refused, not flagged:
    no cut may be larger than the protocol's largest cut because of the tablets at hand.
    A length the clinician chose shorter than the protocol's, or an abrupt stop, keeps
    its own flag (STEP_TOO_LARGE), as without product_options."""
    goal = request.goal
    to_zero = goal is None or goal.type != "reduce"
    if pace.stop_now or pace.abrupt_stop or pace.faster_than_protocol:
        return
    cuts = cuts_mg(request.daily_total_mg, pace.levels, to_zero=to_zero)
    if not cuts or max(cuts) <= pace.largest_cut_mg:
        return
    product = request.product
    shelf = ", ".join(
        format_amount(s.amount) + (" (halves allowed)" if s.splittable else "")
        for s in product.strengths
    )
    raise InvalidPlanInput(
        {
            "product_options.strengths_mg": [
                f"With {shelf} mg {product.form}s the smallest dose step is "
                f"{format_amount(product.dose_quantum_mg)} mg, and this plan would cut "
                f"{format_amount(max(cuts))} mg at once: more than the protocol's largest "
                f"cut for this patient ({format_amount(pace.largest_cut_mg)} mg). Choose a "
                "smaller strength or allow halves."
            ]
        }
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
