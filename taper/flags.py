"""Risk flags: decision support, never silent (CLINICAL.md "Flags").

Codes and severities are the clinical contract and live here; thresholds, label
wording and sources come from the protocol, so every flag carries the source of
the fact that raised it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from taper.kidney import CreatinineClearance
from taper.pace import TaperPace, renal_slowed
from taper.protocol import (
    CLINIC_DEFAULT,
    IntrathecalProtocol,
    OralProtocol,
    PatientRisks,
    RenalBand,
    Setting,
)
from taper.pump import PumpSettings
from taper.request import PlanRequest
from taper.rounding import format_amount

Severity = Literal["info", "warning", "critical"]
HUNDRED = Decimal(100)

# Table order of CLINICAL.md: flags are listed by severity, then in this order.
CODES = (
    "INTRATHECAL_BOXED_WARNING",
    "ABRUPT_STOP",
    "DIALYSIS",
    "DELIVERY_BEFORE_END",
    "FASTER_THAN_PROTOCOL",
    "STEP_TOO_LARGE",
    "ABOVE_RENAL_DOSE",
    "ABOVE_MAX_DOSE",
    "HIGH_DOSE",
    "LONG_TERM_USE",
    "RENAL_SEVERE",
    "RENAL_MODERATE",
    "RENAL_MILD",
    "KIDNEY_FUNCTION_UNKNOWN",
    "ELDERLY",
    "PEDIATRIC",
    "PEDIATRIC_DOSE_ABOVE_RANGE",
    "PREGNANCY_THIRD_TRIMESTER",
    "PREGNANCY",
    "BREASTFEEDING",
    "CNS_DEPRESSANT",
    "SEIZURE_HISTORY",
    "LENGTHENED_TO_FIT",
    "REVISED",
)
# Codes only the drug classes of issue #22 raise (a baclofen plan never does); shared
# facts (CNS_DEPRESSANT, ELDERLY, ABOVE_RENAL_DOSE, STEP_TOO_LARGE, ...) keep the codes above.
CLASS_CODES = (
    "RENAL_DOSE_TIMES",  # more dose times a day than the label's kidney band gives
    "BENZODIAZEPINE_BOXED_WARNING",
    "COMPLEX_SLEEP_BEHAVIOR",  # the zolpidem boxed warning
    "EQUIVALENCE_SWITCH",  # a switch to diazepam by a recorded equivalence (taper/switch.py)
)
_ORDER = {code: index for index, code in enumerate((*CODES, *CLASS_CODES))}
# Warnings that still need a reviewer: the plan is faster or steeper than the protocol.
# A switch's equivalence is a table's estimate: the clinician confirms it.
REVIEW_CODES = frozenset({"FASTER_THAN_PROTOCOL", "STEP_TOO_LARGE", "EQUIVALENCE_SWITCH"})
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_CRCL_METHOD = {
    "entered": "entered",
    "cockcroft-gault": "Cockcroft–Gault estimate",
    "bedside-schwartz": "bedside Schwartz estimate",
}


@dataclass(frozen=True, slots=True)
class Flag:
    code: str
    severity: Severity
    message: str
    source: str


def requires_review(flags: tuple[Flag, ...], *, child: bool = False) -> bool:
    """Critical flags, any plan faster or steeper than the protocol, and every plan for a
    child (protocol risks.review_every_plan_below_age_years) need a reviewer's approval."""
    return child or any(flag.severity == "critical" or flag.code in REVIEW_CODES for flag in flags)


def is_child(request: PlanRequest, risks: PatientRisks) -> bool:
    age = request.patient.age_years
    return age is not None and age < risks.review_every_plan_below_age_years.value


def withdrawal_text(protocol: OralProtocol | IntrathecalProtocol) -> str:
    """The label's withdrawal signs, in full, with the rare progression."""
    signs = protocol.risks.withdrawal_signs.value
    listed = ", ".join(signs[:-1]) + f" and {signs[-1]}" if len(signs) > 1 else signs[0]
    progression = protocol.withdrawal_progression.value
    if isinstance(protocol, IntrathecalProtocol):
        # A sentence of its own in the pump protocol ("Untreated intrathecal withdrawal …").
        return f"{listed}; {progression[0].lower()}{progression[1:].rstrip('.')}"
    return f"{listed}, {progression}"


def withdrawal_source(protocol: OralProtocol | IntrathecalProtocol) -> str:
    return f"{protocol.risks.withdrawal_signs.source}; {protocol.withdrawal_progression.source}"


def oral_flags(
    request: PlanRequest,
    protocol: OralProtocol,
    pace: TaperPace,
    crcl: CreatinineClearance | None,
) -> tuple[Flag, ...]:
    flags: list[Flag] = []
    daily = request.daily_total_mg
    patient = request.patient
    drug = request.product.drug
    abrupt = pace.abrupt_stop
    slowed = (
        "The protocol would lengthen the taper and each step for this; this plan is an abrupt stop."
        if abrupt
        else "The protocol lengthens the taper and each step for this."
    )
    if protocol.slower_factor.value == 1:
        slowed = ""  # a protocol with one pace for everyone (z-drugs)
        if protocol.longest_length_days.value == protocol.standard_length_days.value:
            longer = "the protocol keeps one pace for everyone."
    longer = (
        "the protocol's taper would be longer; this plan is an abrupt stop."
        if abrupt
        else "the taper is longer."
    )
    withdrawal = withdrawal_text(protocol)

    if abrupt:
        floor = protocol.hard_floor_days.value
        if pace.stop_now:
            how = f"This plan stops {drug} now, with no further doses"
        else:
            how = (
                f"This plan stops {drug} after {_days(pace.length_days)} at a reduced dose, "
                f"under the {floor}-day minimum"
            )
        flags.append(
            Flag(
                "ABRUPT_STOP",
                "critical",
                f"{how}: an abrupt stop, allowed only for a serious adverse reaction "
                f"(recorded: {request.abrupt_stop_reason}). Watch closely for withdrawal: "
                f"{withdrawal}.",
                f"{protocol.hard_floor_days.source}; {withdrawal_source(protocol)}",
            )
        )
    if pace.faster_than_protocol:
        differences = []
        if pace.stop_now:
            differences.append(
                f"no taper (stop now) instead of at least {_days(pace.required_length_days)}"
            )
        elif pace.length_days < pace.required_length_days:
            differences.append(
                f"{_days(pace.length_days)} instead of at least {_days(pace.required_length_days)}"
            )
        if pace.step_days < pace.protocol_step_days and not pace.stop_now:
            differences.append(
                f"a step every {_days(pace.step_days)} instead of every "
                f"{_days(pace.protocol_step_days)}"
            )
        flags.append(
            Flag(
                "FASTER_THAN_PROTOCOL",
                "warning",
                f"Faster than the protocol for this patient: {'; '.join(differences)}. "
                "A reviewer must approve it before it starts.",
                f"{protocol.id} protocol version {protocol.version} (clinic default)",
            )
        )
    if pace.lengthened_from_days is not None:
        flags.append(
            Flag(
                "LENGTHENED_TO_FIT",
                "info",
                f"The plan lasts {_days(pace.length_days)}, not {_days(pace.lengthened_from_days)}:"
                f" at a step every {_days(pace.step_days)} it takes {len(pace.levels)} steps to "
                f"keep every cut within the protocol's largest cut for this patient "
                f"({format_amount(pace.largest_cut_mg)} mg a day).",
                f"{protocol.id} protocol version {protocol.version} (clinic default)",
            )
        )
    maximum = protocol.max_daily_dose_mg
    if daily > maximum.value:
        flags.append(
            Flag(
                "ABOVE_MAX_DOSE",
                "warning",
                f"The daily dose ({format_amount(daily)} mg) is above the usual maximum of "
                f"{format_amount(maximum.value)} mg; higher doses need strict supervision.",
                maximum.source,
            )
        )
    high = protocol.high_dose_daily_mg
    if daily >= high.value:
        flags.append(
            Flag(
                "HIGH_DOSE",
                "info",
                f"High daily dose: {format_amount(daily)} mg a day (the protocol's threshold "
                f"is {format_amount(high.value)} mg): {longer}",
                high.source,
            )
        )
    long_term = protocol.long_term_months
    months = patient.months_on_therapy
    if months is not None and months >= long_term.value:
        flags.append(
            Flag(
                "LONG_TERM_USE",
                "info",
                f"{format_amount(months)} months on therapy (the protocol's threshold is "
                f"{_months(long_term.value)}): {longer}",
                long_term.source,
            )
        )
    slowed_by_kidneys = renal_slowed(protocol, crcl)
    flags += _renal_flags(protocol.risks, crcl, slowed if slowed_by_kidneys else "")
    if protocol.renal_bands:
        flags += _renal_band_flags(request, protocol, crcl)
    else:
        above_renal = _above_renal_dose_flag(daily, protocol, crcl)
        if above_renal:
            flags.append(above_renal)
    flags += _kidney_facts_flags(request, protocol.risks, crcl)
    elderly = _elderly_flag(request, protocol.risks, slowed)
    if elderly:
        flags.append(elderly)
    pediatric = _pediatric_flag(request, protocol.risks, "warning")
    if pediatric:
        flags.append(pediatric)
    per_kg = protocol.pediatric_max_mg_per_kg_day
    under = protocol.pediatric_dose_check_below_age_years.value
    young = patient.age_years is not None and patient.age_years < under
    if young and patient.weight_kg is not None and daily > per_kg.value * patient.weight_kg:
        dose_per_kg = (daily / patient.weight_kg).quantize(Decimal("0.01"))
        flags.append(
            Flag(
                "PEDIATRIC_DOSE_ABOVE_RANGE",
                "warning",
                f"The daily dose ({format_amount(daily)} mg) is {format_amount(dose_per_kg)} "
                f"mg/kg for {format_amount(patient.weight_kg)} kg, above "
                f"{format_amount(per_kg.value)} mg/kg a day.",
                per_kg.source,
            )
        )
    flags += _patient_flags(request, protocol.risks)
    critical = protocol.cns_depressant_critical_with
    with_critical = [n for n in patient.cns_depressants if critical and n in critical.value]
    if critical is not None and with_critical:
        flags = [flag for flag in flags if flag.code != "CNS_DEPRESSANT"]
        names = ", ".join(name.replace("_", " ") for name in patient.cns_depressants)
        flags.append(
            Flag(
                "CNS_DEPRESSANT",
                "critical",
                _sentences(f"Also taking: {names}.", critical.note),
                critical.source,
            )
        )
    if protocol.class_warning_code is not None and protocol.class_warning is not None:
        warning = protocol.class_warning
        flags.append(Flag(protocol.class_warning_code, "warning", warning.value, warning.source))
    return _ordered(flags)


def _renal_band_flags(
    request: PlanRequest, protocol: OralProtocol, crcl: CreatinineClearance | None
) -> list[Flag]:
    """The label's kidney table: ABOVE_RENAL_DOSE when the current daily dose is above the
    band's maximum (critical in the severe band, else warning), RENAL_DOSE_TIMES when the
    regimen has more dose times a day than the band's regimen."""
    if crcl is None:
        return []
    value = crcl.value_ml_min
    band: RenalBand | None = next((b for b in protocol.renal_bands if b.holds(value)), None)
    if band is None:
        return []
    flags = []
    daily = request.daily_total_mg
    ceiling = band.max_daily_for(value)
    method = _CRCL_METHOD[crcl.method]
    severe = value < protocol.risks.renal_severe_below_ml_min.value
    if daily > ceiling:
        shown = ceiling.quantize(Decimal("0.1"))
        scaled = (
            f" (in proportion below {format_amount(band.proportional_below_ml_min)} mL/min)"
            if band.proportional_below_ml_min is not None and value < band.proportional_below_ml_min
            else ""
        )
        flags.append(
            Flag(
                "ABOVE_RENAL_DOSE",
                "critical" if severe else "warning",
                f"The daily dose ({format_amount(daily)} mg) is above the label's maximum of "
                f"{format_amount(shown)} mg a day{scaled} for a creatinine clearance of "
                f"{format_amount(value)} mL/min ({method}); the label's regimen there is "
                f"{band.regimen}. Assess the patient for {request.product.drug} toxicity "
                "(drowsiness, dizziness, unsteadiness, confusion) and plan the taper from a "
                "kidney-adjusted dose.",
                band.source,
            )
        )
    times = len(request.doses)
    if times > band.doses_per_day:
        flags.append(
            Flag(
                "RENAL_DOSE_TIMES",
                "warning",
                f"{times} dose times a day; at a creatinine clearance of {format_amount(value)} "
                f"mL/min the label gives {band.doses_per_day} ({band.regimen}). The plan keeps "
                "the patient's dose times and cuts them in the usual order; consider fewer "
                "dose times.",
                band.source,
            )
        )
    return flags


def window_flag(
    request: PlanRequest,
    protocol: OralProtocol,
    steps: Sequence[tuple[date, Decimal]],
    *,
    before_mg: Decimal | None = None,
) -> Flag | None:
    """No window of window_days days cuts the daily dose by more than window_max_cut_percent
    of its value on the window's first day (benzodiazepines: 25 % in 14 days). The final
    step to zero, from the product's smallest practical dose, is not counted (it is 100 %
    by nature). Levels are compared day by day: a year of steps is 365 comparisons."""
    days, limit = protocol.window_days, protocol.window_max_cut_percent
    if days is None or limit is None or not steps:
        return None
    # The daily dose on each day from the day before the plan to its last dosing day.
    start = steps[0][0]
    # before_mg: the day before in the steps' unit (a switch plan: the diazepam equivalent).
    levels = [request.daily_total_mg if before_mg is None else before_mg]
    for (day, level), following in zip(steps, [*steps[1:], None], strict=True):
        end = following[0] if following is not None else day + timedelta(days=1)
        levels += [level] * (end - day).days
    span = days.value - 1  # a window's first and last day, both counted
    problems: list[str] = []
    seen: set[tuple[Decimal, Decimal]] = set()
    for first in range(len(levels) - 1):
        last = min(first + span, len(levels) - 1)
        before, after = levels[first], levels[last]
        too_much = before > 0 and (before - after) * HUNDRED > limit.value * before
        if too_much and (before, after) not in seen:
            # Each fall once, with the first window that shows it (index 0 is the day
            # before the plan, on the starting regimen).
            seen.add((before, after))
            shown = start + timedelta(days=first - 1)
            problems.append(
                f"{format_amount(before)} → {format_amount(after)} mg a day in the "
                f"{days.value} days from {shown}"
            )
    if not problems:
        return None
    return _too_large_flag(
        f"More than {format_amount(limit.value)} % of the daily dose cut within "
        f"{days.value} days",
        problems,
        ", or choose a product with a smaller dose step",
        protocol,
        limit.source,
    )


def wean_step_flag(pump: PumpSettings, protocol: IntrathecalProtocol) -> Flag | None:
    """No wean visit cuts the pump's daily dose by more than the protocol's
    max_wean_cut_percent of the dose before it (protocol version 2 on)."""
    limit = protocol.max_wean_cut_percent
    if limit is None:
        return None
    problems = []
    previous = pump.daily_dose_mcg
    for step in pump.wean_steps:
        cut = previous - step.daily_dose_mcg
        if cut * HUNDRED > limit.value * previous:
            percent = (cut * HUNDRED / previous).quantize(Decimal("0.1"))
            problems.append(
                f"{format_amount(previous)} → {format_amount(step.daily_dose_mcg)} mcg a day "
                f"on {step.visit_date} ({format_amount(percent)} %)"
            )
        previous = step.daily_dose_mcg
    if not problems:
        return None
    return _too_large_flag(
        f"{'A wean visit cuts' if len(problems) == 1 else 'Wean visits cut'} more than "
        f"{format_amount(limit.value)} % of the pump's daily dose",
        problems,
        "",
        protocol,
        f"{protocol.id} protocol version {protocol.version}, max_wean_cut_percent "
        f"({limit.source})",
    )


def _too_large_flag(
    lead: str,
    problems: list[str],
    advice: str,
    protocol: OralProtocol | IntrathecalProtocol,
    source: str,
) -> Flag:
    """STEP_TOO_LARGE, whichever rule found the cuts (oral largest cut, oral window,
    pump wean visit): the cuts, the review it needs, and the withdrawal signs to watch."""
    return Flag(
        "STEP_TOO_LARGE",
        "warning",
        f"{lead}: {'; '.join(problems)}. A reviewer must approve it before it "
        f"starts{advice}. Watch for withdrawal: {withdrawal_text(protocol)}.",
        f"{source}; {withdrawal_source(protocol)}",
    )


def intrathecal_flags(
    request: PlanRequest, protocol: IntrathecalProtocol, crcl: CreatinineClearance | None
) -> tuple[Flag, ...]:
    boxed = protocol.boxed_warning
    progression = protocol.withdrawal_progression
    flags = [
        Flag(
            "INTRATHECAL_BOXED_WARNING",
            "critical",
            f"{boxed.value} {progression.value}",
            f"{boxed.source}; {progression.source}",
        )
    ]
    flags += _renal_flags(protocol.risks, crcl, "")
    flags += _kidney_facts_flags(request, protocol.risks, crcl)
    elderly = _elderly_flag(request, protocol.risks, "")
    if elderly:
        flags.append(elderly)
    pediatric = _pediatric_flag(request, protocol.risks, "critical")
    if pediatric:
        flags.append(pediatric)
    flags += _patient_flags(request, protocol.risks)
    if request.pump is not None:
        too_large = wean_step_flag(request.pump, protocol)
        if too_large:
            flags.append(too_large)
    return _ordered(flags)


def _renal_flags(risks: PatientRisks, crcl: CreatinineClearance | None, slowed: str) -> list[Flag]:
    if crcl is None:
        return []
    value = crcl.value_ml_min
    named: tuple[tuple[str, Severity, Setting[Decimal] | None], ...] = (
        ("RENAL_SEVERE", "critical", risks.renal_severe_below_ml_min),
        ("RENAL_MODERATE", "warning", risks.renal_moderate_below_ml_min),
        ("RENAL_MILD", "info", risks.renal_mild_below_ml_min),
    )
    bands = tuple(
        (code, severity, band.value, band.source, band.note)
        for code, severity, band in named
        if band is not None
    )
    # Bands are half-open: 30.0 is moderate, 50.0 mild, 80.0 no flag.
    for code, severity, below, source, note in bands:
        if value < below:
            method = _CRCL_METHOD[crcl.method]
            message = (
                f"Creatinine clearance {format_amount(value)} mL/min ({method}) is below "
                f"{format_amount(below)} mL/min."
            )
            return [Flag(code, severity, _sentences(message, note, slowed), source)]
    return []


def _above_renal_dose_flag(
    daily: Decimal, protocol: OralProtocol, crcl: CreatinineClearance | None
) -> Flag | None:
    """Above the kidney-adjusted maximum: the label maximum × the Vlavonou fraction kept."""
    if crcl is None:
        return None
    risks = protocol.risks
    value = crcl.value_ml_min
    named: tuple[tuple[Setting[Decimal] | None, Setting[tuple[int, ...]] | None, Severity], ...] = (
        (risks.renal_severe_below_ml_min, protocol.renal_severe_dose_kept, "critical"),
        (risks.renal_moderate_below_ml_min, protocol.renal_moderate_dose_kept, "warning"),
        (risks.renal_mild_below_ml_min, protocol.renal_mild_dose_kept, "warning"),
    )
    for threshold, kept, severity in named:
        if threshold is None or kept is None:
            continue
        if value < threshold.value:
            numerator, denominator = kept.value
            ceiling = protocol.max_daily_dose_mg.value * numerator / denominator
            if daily <= ceiling:
                return None
            shown = ceiling.quantize(Decimal("0.1"))
            return Flag(
                "ABOVE_RENAL_DOSE",
                severity,
                f"The daily dose ({format_amount(daily)} mg) is above the kidney-adjusted "
                f"maximum for a creatinine clearance of {format_amount(value)} mL/min: "
                f"{format_amount(protocol.max_daily_dose_mg.value)} mg × {numerator}/"
                f"{denominator} = {format_amount(shown)} mg a day. Assess the patient for "
                f"{protocol.drug} toxicity (confusion, drowsiness, coma) before tapering.",
                f"{kept.source}; {protocol.max_daily_dose_mg.source}",
            )
    return None


def _kidney_facts_flags(
    request: PlanRequest, risks: PatientRisks, crcl: CreatinineClearance | None
) -> list[Flag]:
    patient = request.patient
    flags = []
    if patient.dialysis:
        flags.append(Flag("DIALYSIS", "critical", risks.dialysis.value, risks.dialysis.source))
    age = patient.age_years
    elderly = age is not None and age >= risks.elderly_age_years.value
    if elderly and crcl is None and not patient.dialysis:
        unknown = risks.kidney_function_unknown
        flags.append(Flag("KIDNEY_FUNCTION_UNKNOWN", "warning", unknown.value, unknown.source))
    return flags


def step_too_large_flag(
    request: PlanRequest,
    protocol: OralProtocol,
    largest_cut_mg: Decimal,
    steps: Sequence[tuple[date, Decimal]],
    stop_date: date,
) -> Flag | None:
    """Every cut of the plan as built (revisions included) against the protocol's largest
    cut for this patient: (start date, daily total) per step, then the stop on stop_date
    (a reduce plan has no stop: it stays on the target)."""
    goal = request.goal
    to_zero = goal is None or goal.type == "discontinue"
    too_large = []
    previous = request.daily_total_mg
    moments = [*steps, (stop_date, Decimal(0))] if to_zero else list(steps)
    for day, level in moments:
        cut = previous - level
        if cut > largest_cut_mg:
            stop = ", the stop" if level == 0 else ""
            too_large.append(
                f"{format_amount(cut)} mg a day on {day} ({format_amount(previous)} → "
                f"{format_amount(level)} mg{stop})"
            )
        previous = level
    if not too_large:
        return None
    return _too_large_flag(
        f"{'A cut' if len(too_large) == 1 else 'Cuts'} larger than the protocol's largest cut "
        f"for this patient ({format_amount(largest_cut_mg)} mg a day)",
        too_large,
        "",
        protocol,
        f"{protocol.id} protocol version {protocol.version} (clinic default: the largest cut "
        f"of the protocol's own plan)",
    )


def delivery_flag(request: PlanRequest, protocol: OralProtocol, end_date: date) -> Flag | None:
    delivery = request.patient.expected_delivery_date
    if delivery is None or end_date < delivery:
        return None
    label = protocol.delivery_before_end
    return Flag(
        "DELIVERY_BEFORE_END",
        "critical",
        f"The plan's last dosing day ({end_date}) is on or after the expected delivery date "
        f"({delivery}): the baby would be born while the mother still takes "
        f"{request.product.drug}. "
        f'Label: "{label.value}" Plan the birth and the taper with the obstetric team.',
        label.source,
    )


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def _elderly_flag(request: PlanRequest, risks: PatientRisks, slowed: str) -> Flag | None:
    age = request.patient.age_years
    threshold = risks.elderly_age_years
    if age is None or age < threshold.value:
        return None
    message = f"Age {format_amount(age)} ({threshold.value} or over)."
    return Flag("ELDERLY", "warning", _sentences(message, threshold.note, slowed), threshold.source)


def _pediatric_flag(request: PlanRequest, risks: PatientRisks, severity: Severity) -> Flag | None:
    age = request.patient.age_years
    threshold = risks.pediatric_age_years
    if age is None or age >= threshold.value:
        return None
    message = f"Age {format_amount(age)}, under {threshold.value}."
    return Flag("PEDIATRIC", severity, _sentences(message, threshold.note), threshold.source)


def _patient_flags(request: PlanRequest, risks: PatientRisks) -> list[Flag]:
    patient = request.patient
    flags = []
    if patient.pregnancy_trimester == 3:
        third = risks.pregnancy_third_trimester
        flags.append(
            Flag(
                "PREGNANCY_THIRD_TRIMESTER",
                "critical",
                f"Third trimester. {third.value}",
                third.source,
            )
        )
    elif patient.pregnancy_trimester in (1, 2):
        pregnancy = risks.pregnancy
        flags.append(
            Flag(
                "PREGNANCY",
                "warning",
                f"Pregnant, trimester {patient.pregnancy_trimester}. {pregnancy.value}",
                pregnancy.source,
            )
        )
    if patient.breastfeeding:
        flags.append(
            Flag("BREASTFEEDING", "info", risks.breastfeeding.value, risks.breastfeeding.source)
        )
    if patient.cns_depressants:
        names = ", ".join(name.replace("_", " ") for name in patient.cns_depressants)
        depressants = risks.cns_depressants
        flags.append(
            Flag(
                "CNS_DEPRESSANT",
                "warning",
                _sentences(f"Also taking: {names}.", depressants.note),
                depressants.source,
            )
        )
    if patient.seizure_history:
        seizures = risks.seizure_history
        flags.append(
            Flag(
                "SEIZURE_HISTORY",
                "warning",
                f"History of seizures. {seizures.value}",
                seizures.source,
            )
        )
    return flags


def revised_flag(from_date: date, description: str) -> Flag:
    """Info only: a revision keeps the plan's own flags and never makes it faster."""
    return Flag("REVISED", "info", f"Revised from {from_date}: {description}", CLINIC_DEFAULT)


def with_flags(flags: tuple[Flag, ...], more: list[Flag]) -> tuple[Flag, ...]:
    """The flags in the plan's order (by severity, then code; stable within a code)."""
    return _ordered([*flags, *more])


def _sentences(*parts: str | None) -> str:
    return " ".join(part.strip() for part in parts if part)


def _ordered(flags: list[Flag]) -> tuple[Flag, ...]:
    return tuple(
        sorted(flags, key=lambda flag: (_SEVERITY_ORDER[flag.severity], _ORDER[flag.code]))
    )


def _months(count: Decimal) -> str:
    return f"{format_amount(count)} month{'' if count == 1 else 's'}"
