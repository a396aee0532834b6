"""The plan request: the value `plan` takes, and the rules that refuse one.

Field-level reading of a JSON-like dict lives in taper/intake.py; the refusals here
depend on the product and protocol and are checked again by `plan` for any request,
however it was built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Literal

from taper.catalogue import Product
from taper.equivalence import EquivalenceTable, equivalent_dose_mg, load_equivalence
from taper.protocol import IntrathecalProtocol, OralProtocol, Protocol
from taper.pump import PumpSettings
from taper.rounding import format_amount, is_whole_number_of
from taper.shelf import ProductOptions

NON_FIELD = "__all__"  # Django's key for errors that belong to no field

Errors = dict[str, list[str]]


class InvalidPlanInput(ValueError):
    """The request cannot be planned; `errors` maps input field paths to sentences."""

    def __init__(self, errors: Errors) -> None:
        self.errors = errors
        summary = "; ".join(f"{path}: {' '.join(messages)}" for path, messages in errors.items())
        super().__init__(summary)


DoseRole = Literal["morning", "midday", "evening", "bedtime", "night"]
DOSE_ROLES: tuple[DoseRole, ...] = ("morning", "midday", "evening", "bedtime", "night")


@dataclass(frozen=True, slots=True)
class CurrentDose:
    """One dose time of the regimen the patient takes today.

    `role` is what the dose is for in the patient's day; None lets the clock decide
    (taper/schedule.py `dose_roles`).
    """

    time: time
    amount_mg: Decimal
    role: DoseRole | None = None


@dataclass(frozen=True, slots=True)
class Goal:
    type: Literal["discontinue", "reduce"]
    target_daily_mg: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Patient:
    age_years: Decimal | None = None
    weight_kg: Decimal | None = None
    sex: Literal["female", "male"] | None = None
    creatinine_clearance_ml_min: Decimal | None = None
    serum_creatinine_mg_dl: Decimal | None = None
    serum_creatinine_umol_l: Decimal | None = None
    months_on_therapy: Decimal | None = None
    pregnancy_trimester: int = 0
    breastfeeding: bool = False
    seizure_history: bool = False
    cns_depressants: tuple[str, ...] = ()
    height_cm: Decimal | None = None
    dialysis: bool = False
    expected_delivery_date: date | None = None


@dataclass(frozen=True, slots=True)
class Pace:
    """A preset ("standard", "slower") or "custom" with length, step interval or shape.

    length_days 0 is "stop now" (an abrupt stop with no further doses); percent_per_step
    applies to the proportional shape only (None: the protocol's default).
    """

    name: Literal["standard", "slower", "custom"] = "standard"
    length_days: int | None = None
    step_days: int | None = None
    shape: Literal["linear", "proportional"] | None = None  # None: the protocol's shape
    percent_per_step: Decimal | None = None

    @property
    def stop_now(self) -> bool:
        return self.length_days == 0


RevisionKind = Literal["hold", "step_back", "slow_down"]
REVISION_KINDS: tuple[RevisionKind, ...] = ("hold", "step_back", "slow_down")
MAX_REVISIONS = 20
MAX_HOLD_DAYS = 60


@dataclass(frozen=True, slots=True)
class Revision:
    """A clinician's change to a running oral plan, from `from_date` on (taper/revise.py).

    hold: the dose in force on from_date goes on `days` more days. step_back: back to the
    step before for one step interval, then the step in force restarts. slow_down: the
    rest of the current step and every later step × the protocol's slower factor.
    """

    kind: RevisionKind
    from_date: date
    days: int | None = None  # hold only


@dataclass(frozen=True, slots=True)
class PlanRequest:
    product: Product
    protocol: Protocol
    start_date: date
    timezone: str
    patient: Patient
    doses: tuple[CurrentDose, ...] = ()  # oral: sorted by time
    goal: Goal | None = None  # oral only
    pace: Pace = Pace()
    pump: PumpSettings | None = None  # intrathecal only
    abrupt_stop_reason: str | None = None
    revisions: tuple[Revision, ...] = ()  # oral only, applied in order
    # Switch to this product before the taper (benzodiazepines → diazepam, taper/switch.py),
    # tapered with switch_protocol: its protocol at the same version as `protocol`.
    switch_to: Product | None = None
    switch_protocol: Protocol | None = None
    # Tablets and capsules only (taper/shelf.py): what was chosen, and the catalogue's
    # product before it was narrowed to the chosen strengths (`product` is the shelf).
    product_options: ProductOptions | None = None
    catalogue_product: Product | None = None

    @property
    def protocol_quantum_mg(self) -> Decimal:
        """The dose step of the catalogue's product: the protocol's own plan, and so its
        largest cut, never depends on which strengths the patient happens to have."""
        return (self.catalogue_product or self.product).dose_quantum_mg

    @property
    def daily_total_mg(self) -> Decimal:
        return sum((dose.amount_mg for dose in self.doses), Decimal(0))


def rule_errors(request: PlanRequest) -> Errors:
    """Refusals that depend on product and protocol; `plan` re-checks them for any request."""
    errors: Errors = {}
    protocol = request.protocol
    merge_errors(errors, schwartz_refusals(request.patient, protocol))
    if isinstance(protocol, OralProtocol):
        if request.pump is not None:
            add_error(errors, "pump", "Applies only to intrathecal products.")
        if not request.doses:
            add_error(errors, "doses", "Enter at least one dose time.")
        else:
            indexed = list(enumerate(request.doses))
            merge_errors(
                errors,
                dose_refusals(
                    [(i, dose.time) for i, dose in indexed],
                    [(i, dose.amount_mg) for i, dose in indexed],
                    request.product,
                    protocol,
                    complete=True,
                ),
            )
        roles = protocol.dose_roles
        if roles is not None:
            # Zolpidem: once a night, immediately before bedtime (label 2.1).
            for index, dose in enumerate(request.doses):
                if dose.role not in roles.value:
                    add_error(
                        errors,
                        f"doses.{index}.role",
                        f"{request.product.name} is taken only at "
                        f"{' or '.join(roles.value)}: give this dose that role.",
                    )
        if request.goal is None:
            add_error(errors, "goal", "Choose a goal: discontinue or reduce.")
        else:
            if request.doses and "doses" not in errors:
                merge_errors(errors, goal_refusals(request.goal, request.doses, request.product))
            merge_errors(
                errors,
                length_refusals(request.goal, request.pace, request.abrupt_stop_reason, protocol),
            )
        merge_errors(errors, revision_refusals(list(enumerate(request.revisions))))
        if request.switch_to is not None:
            merge_errors(errors, switch_refusals(request))
    else:
        if request.switch_to is not None:
            add_error(errors, "switch_to", SWITCH_ORAL_ONLY)
        if request.revisions:
            add_error(errors, "revisions", INTRATHECAL_REVISIONS)
        if request.pump is None:
            add_error(errors, "pump", "Enter the pump settings.")
        else:
            merge_errors(errors, pump_refusals(request.pump, request.start_date, protocol))
        if request.doses or request.goal is not None or request.abrupt_stop_reason:
            add_error(errors, "doses", "Applies only to oral products; a pump plan uses pump.")
    return errors


# --- Rule-level refusals -----------------------------------------------------------

SWITCH_ORAL_ONLY = "Switching applies only to oral benzodiazepine plans."


def switch_table(protocol: Protocol) -> EquivalenceTable | None:
    """The equivalence table a protocol version switches with, if any."""
    if not isinstance(protocol, OralProtocol) or protocol.switch_equivalence is None:
        return None
    return load_equivalence(protocol.switch_equivalence.value)


def switch_refusals(request: PlanRequest) -> Errors:
    """What makes a switch_to impossible: a drug or protocol version without a recorded
    equivalence, a target the table does not switch to, or a part of the request this
    version does not switch with (a reduce goal, revisions, an abrupt stop)."""
    errors: Errors = {}
    to, product, protocol = request.switch_to, request.product, request.protocol
    if to is None:
        return errors
    table = switch_table(protocol)
    if table is None:
        add_error(
            errors,
            "switch_to",
            f"Switching applies only to benzodiazepine plans: {product.name} is tapered with "
            f"{protocol.id} version {protocol.version}, which has no equivalence table.",
        )
        return errors
    if product.drug == table.to_drug:
        add_error(
            errors,
            "switch_to",
            f"{product.name} is already {table.to_drug}; plan it without switch_to.",
        )
        return errors
    entry = table.entry(product.drug)
    if entry is None:
        add_error(
            errors,
            "switch_to",
            f"No equivalence for {product.drug} is recorded in {table.reference}.",
        )
        return errors
    if to.id != table.to_product:
        add_error(errors, "switch_to", f'Only a switch to "{table.to_product}" is supported.')
        return errors
    switch_protocol = request.switch_protocol
    if not isinstance(switch_protocol, OralProtocol):
        add_error(errors, "switch_to", f"No oral protocol for {to.name}.")
        return errors
    if request.goal is not None and request.goal.type == "reduce":
        add_error(
            errors,
            "goal.type",
            "A switch to diazepam tapers to discontinue; a reduce goal with switch_to is not "
            "supported.",
        )
    if request.revisions:
        add_error(errors, "revisions", "A switch plan cannot be revised; plan it again.")
    if request.abrupt_stop_reason is not None:
        add_error(errors, "abrupt_stop_reason", "A switch plan is never an abrupt stop.")
    if request.product_options is not None:
        add_error(
            errors,
            "product_options",
            "A switch plan uses the catalogue's diazepam tablets; leave product_options out.",
        )
    quantum = to.dose_quantum_mg
    converted = [
        equivalent_dose_mg(dose.amount_mg, entry.factor, quantum) for dose in request.doses
    ]
    single = switch_protocol.implausible_single_dose_mg.value
    daily = switch_protocol.implausible_daily_dose_mg.value
    if any(amount > single for amount in converted) or sum(converted, Decimal(0)) > daily:
        add_error(
            errors,
            "switch_to",
            f"At {format_amount(entry.factor)} mg {table.to_drug} per mg {product.drug} these "
            f"doses ({', '.join(format_amount(a) for a in converted)} mg) exceed what "
            f"{to.name} can be planned with (at most {format_amount(single)} mg a dose, "
            f"{format_amount(daily)} mg a day).",
        )
    return errors


def schwartz_refusals(patient: Patient, protocol: Protocol) -> Errors:
    """Under adult age a serum creatinine needs the height (bedside Schwartz)."""
    errors: Errors = {}
    adult = protocol.risks.adult_age_years.value
    serum = patient.serum_creatinine_mg_dl or patient.serum_creatinine_umol_l
    child = patient.age_years is not None and patient.age_years < adult
    entered = patient.creatinine_clearance_ml_min is not None
    if child and serum is not None and not entered and patient.height_cm is None:
        add_error(errors, "patient.height_cm", schwartz_message(adult))
    return errors


def schwartz_message(adult_age_years: int) -> str:
    return (
        f"Under {adult_age_years} a serum creatinine is read with the bedside Schwartz "
        "formula, which needs the height: enter height_cm (or enter "
        "creatinine_clearance_ml_min instead)."
    )


INTRATHECAL_REVISIONS = (
    "Revisions apply only to oral plans; a pump plan changes through its wean steps."
)


def revision_refusals(revisions: list[tuple[int, Revision]]) -> Errors:
    """What can be said of (position, revision) pairs without the plan: kind, days, order.

    Whether each from_date lies within the plan as it stands is checked by
    taper.revise, which needs the steps.
    """
    errors: Errors = {}
    if len(revisions) > MAX_REVISIONS:
        add_error(errors, "revisions", f"Enter at most {MAX_REVISIONS} revisions.")
        return errors
    previous: date | None = None
    for index, revision in revisions:
        path = f"revisions.{index}"
        if revision.kind not in REVISION_KINDS:
            add_error(errors, f"{path}.kind", REVISION_KIND_MESSAGE)
        if revision.kind == "hold":
            if revision.days is None or not 1 <= revision.days <= MAX_HOLD_DAYS:
                add_error(errors, f"{path}.days", HOLD_DAYS_MESSAGE)
        elif revision.days is not None:
            add_error(errors, f"{path}.days", "Days apply only to a hold.")
        if previous is not None and revision.from_date < previous:
            add_error(
                errors,
                f"{path}.from_date",
                f"Revisions apply in order: this one cannot start before the previous one "
                f"({previous}).",
            )
        previous = revision.from_date
    return errors


REVISION_KIND_MESSAGE = 'The kind must be "hold", "step_back" or "slow_down".'
HOLD_DAYS_MESSAGE = f"A hold lasts from 1 to {MAX_HOLD_DAYS} days."


def dose_refusals(
    times: list[tuple[int, time]],
    amounts: list[tuple[int, Decimal]],
    product: Product,
    protocol: OralProtocol,
    *,
    complete: bool,
) -> Errors:
    """Problems with the regimen; `complete` when every dose was read, so totals count."""
    errors: Errors = {}
    limit = protocol.max_doses_per_day.value
    if len(times) > limit:
        add_error(errors, "doses", f"Enter at most {limit} dose times a day.")
    seen: set[time] = set()
    for index, dose_time in times:
        if dose_time in seen:
            add_error(
                errors,
                f"doses.{index}.time",
                f"{dose_time:%H:%M} is listed twice; give each dose time once.",
            )
        seen.add(dose_time)
    for index, amount in amounts:
        problem = _single_dose_problem(amount, product, protocol)
        if problem:
            add_error(errors, f"doses.{index}.amount_mg", problem)
    total = sum((amount for _, amount in amounts), Decimal(0))
    implausible = protocol.implausible_daily_dose_mg.value
    # A refused single dose already explains an absurd total.
    if complete and total > implausible and not errors:
        add_error(
            errors,
            "doses",
            f"A daily total of {format_amount(total)} mg is implausible (more than "
            f"{format_amount(implausible)} mg); check the doses.",
        )
    return errors


def _single_dose_problem(amount: Decimal, product: Product, protocol: OralProtocol) -> str | None:
    if amount <= 0:
        return "Enter a dose of more than 0 mg."
    implausible = protocol.implausible_single_dose_mg.value
    if amount > implausible:
        return (
            f"{format_amount(amount)} mg in one dose is implausible (more than "
            f"{format_amount(implausible)} mg); check the dose."
        )
    if not is_whole_number_of(amount, product.dose_quantum_mg):
        return f"{format_amount(amount)} mg {_cannot_measure(product)}."
    return None


def _cannot_measure(product: Product) -> str:
    step = format_amount(product.dose_quantum_mg)
    if product.is_solid:
        strengths = "/".join(format_amount(amount) for amount in product.strength_amounts)
        return f"cannot be given with {strengths} mg {product.form}s; use a multiple of {step} mg"
    volume = format_amount(product.smallest_measurable or Decimal(0))
    return f"cannot be measured with {product.name}; use a multiple of {step} mg ({volume} mL)"


def goal_refusals(goal: Goal, doses: tuple[CurrentDose, ...], product: Product) -> Errors:
    errors: Errors = {}
    if goal.type != "reduce" or goal.target_daily_mg is None:
        return errors
    target = goal.target_daily_mg
    total = sum((dose.amount_mg for dose in doses), Decimal(0))
    path = "goal.target_daily_mg"
    if target >= total:
        add_error(
            errors,
            path,
            f"The target ({format_amount(target)} mg a day) must be below the current "
            f"daily total ({format_amount(total)} mg).",
        )
    elif not is_whole_number_of(target, product.dose_quantum_mg):
        add_error(errors, path, f"{format_amount(target)} mg a day {_cannot_measure(product)}.")
    return errors


def length_refusals(goal: Goal, pace: Pace, reason: str | None, protocol: OralProtocol) -> Errors:
    errors: Errors = {}
    floor = protocol.hard_floor_days.value
    below_floor = (
        goal.type == "discontinue" and pace.length_days is not None and pace.length_days < floor
    )
    if below_floor and reason is None:
        add_error(
            errors,
            "pace.length_days",
            f"A taper shorter than {floor} days is an abrupt stop. Choose at least {floor} days, "
            "or record the serious adverse reaction that requires it in abrupt_stop_reason.",
        )
    if reason is not None and not below_floor:
        add_error(
            errors,
            "abrupt_stop_reason",
            f"An abrupt-stop reason applies only to a discontinue taper shorter than the "
            f"{floor}-day hard floor; remove it, or set pace.length_days below {floor}.",
        )
    if pace.percent_per_step is not None:
        low, high = protocol.min_percent_per_step.value, protocol.max_percent_per_step.value
        if pace.shape != "proportional" and not (
            pace.shape is None and protocol.step_shape.value == "proportional"
        ):
            add_error(
                errors,
                "pace.percent_per_step",
                'A percentage per step applies only to "shape": "proportional".',
            )
        elif not low <= pace.percent_per_step <= high:
            add_error(
                errors,
                "pace.percent_per_step",
                f"Choose from {format_amount(low)} to {format_amount(high)} % per step.",
            )
    if below_floor and pace.shape == "proportional":
        add_error(
            errors,
            "pace.shape",
            "An abrupt stop has no proportional steps; remove pace.shape.",
        )
    if pace.stop_now and goal.type != "discontinue":
        add_error(errors, "pace.length_days", "Stop now (0 days) applies only to discontinue.")
    if pace.step_days is not None and pace.step_days < protocol.min_step_interval_days.value:
        add_error(
            errors,
            "pace.step_days",
            f"Each step must last at least {protocol.min_step_interval_days.value} days.",
        )
    if pace.length_days is not None and pace.length_days > protocol.max_taper_length_days.value:
        add_error(
            errors,
            "pace.length_days",
            f"Choose at most {protocol.max_taper_length_days.value} days.",
        )
    return errors


def pump_refusals(pump: PumpSettings, start_date: date, protocol: IntrathecalProtocol) -> Errors:
    errors: Errors = {}
    if pump.alarm_volume_ml >= pump.reservoir_ml:
        add_error(
            errors,
            "pump.alarm_volume_ml",
            "The low-reservoir alarm volume must be less than the reservoir volume.",
        )
        return errors
    if pump.last_refill_date > start_date:
        add_error(
            errors, "pump.last_refill_date", "The last refill cannot be after the start date."
        )
        return errors
    to_alarm = pump.days_to_alarm
    if to_alarm < 1:
        add_error(
            errors,
            "pump.reservoir_ml",
            "Above the alarm volume the reservoir holds less than one day's dose; "
            "check the volumes, concentration and daily dose.",
        )
        return errors
    alarm_date = pump.last_refill_date + timedelta(days=to_alarm)
    if alarm_date < start_date:
        add_error(
            errors,
            "pump.last_refill_date",
            f"With these settings the pump reached its low-reservoir alarm on {alarm_date}, "
            "before the start date. Refill it now and enter that refill date.",
        )
    previous_dose = pump.daily_dose_mcg
    previous_date = pump.last_refill_date
    latest = start_date + timedelta(days=protocol.max_plan_length_days.value)
    for index, step in enumerate(pump.wean_steps):
        path = f"pump.wean_steps.{index}"
        if step.refilled and step.refill_volume_ml is not None:
            volume_errors = fill_volume_refusals(
                pump, step.refill_volume_ml, pump.concentration_mcg_per_ml, step.daily_dose_mcg
            )
            for message in volume_errors:
                add_error(errors, f"{path}.refill_volume_ml", message)
        if step.daily_dose_mcg >= previous_dose:
            add_error(
                errors,
                f"{path}.daily_dose_mcg",
                f"Each wean step must be below the one before ({format_amount(previous_dose)} "
                "mcg a day).",
            )
        if step.visit_date <= previous_date:
            add_error(
                errors,
                f"{path}.visit_date",
                f"Each visit must come after the one before ({previous_date}) and after the "
                "last refill.",
            )
        elif step.visit_date < start_date:
            add_error(errors, f"{path}.visit_date", "A wean visit cannot be before the start date.")
        elif step.visit_date > latest:
            add_error(
                errors,
                f"{path}.visit_date",
                f"Plan visits at most {protocol.max_plan_length_days.value} days ahead.",
            )
        previous_dose = step.daily_dose_mcg
        previous_date = step.visit_date
    return errors


def fill_volume_refusals(
    pump: PumpSettings, volume_ml: Decimal, concentration: Decimal, daily_dose_mcg: Decimal
) -> list[str]:
    """A fill must fit the reservoir and hold at least one day's dose above the alarm
    volume, or its alarm sounds the day it is filled."""
    if volume_ml > pump.reservoir_ml:
        return [f"The pump holds at most {format_amount(pump.reservoir_ml)} mL."]
    if (volume_ml - pump.alarm_volume_ml) * concentration < daily_dose_mcg:
        return [
            f"Fill more than the alarm volume ({format_amount(pump.alarm_volume_ml)} mL) "
            "and at least one day's dose above it."
        ]
    return []


# --- Error bookkeeping -------------------------------------------------------------


def add_error(errors: Errors, path: str, message: str) -> None:
    messages = errors.setdefault(path, [])
    if message not in messages:
        messages.append(message)


def merge_errors(errors: Errors, more: Errors) -> None:
    for path, messages in more.items():
        for message in messages:
            add_error(errors, path, message)
