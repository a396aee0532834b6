"""Risk flags: decision support, never silent (CLINICAL.md "Flags").

Codes and severities are the clinical contract and live here; thresholds, label
wording and sources come from the protocol, so every flag carries the source of
the fact that raised it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from taper.kidney import CreatinineClearance
from taper.pace import TaperPace
from taper.protocol import CLINIC_DEFAULT, IntrathecalProtocol, OralProtocol, PatientRisks
from taper.request import PlanRequest
from taper.rounding import format_amount

Severity = Literal["info", "warning", "critical"]

# Table order of CLINICAL.md: flags are listed by severity, then in this order.
CODES = (
    "INTRATHECAL_BOXED_WARNING",
    "ABRUPT_STOP",
    "FASTER_THAN_PROTOCOL",
    "ABOVE_MAX_DOSE",
    "HIGH_DOSE",
    "LONG_TERM_USE",
    "RENAL_SEVERE",
    "RENAL_MODERATE",
    "RENAL_MILD",
    "ELDERLY",
    "PEDIATRIC",
    "PEDIATRIC_DOSE_ABOVE_RANGE",
    "PREGNANCY_THIRD_TRIMESTER",
    "PREGNANCY",
    "BREASTFEEDING",
    "CNS_DEPRESSANT",
    "SEIZURE_HISTORY",
    "REVISED",
)
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_CRCL_METHOD = {"entered": "entered", "cockcroft-gault": "Cockcroft–Gault estimate"}


@dataclass(frozen=True, slots=True)
class Flag:
    code: str
    severity: Severity
    message: str
    source: str


def requires_review(flags: tuple[Flag, ...]) -> bool:
    """Critical flags and any plan faster than the protocol need a reviewer's approval."""
    return any(flag.severity == "critical" or flag.code == "FASTER_THAN_PROTOCOL" for flag in flags)


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
    slowed = "The protocol lengthens the taper and each step for this."

    if pace.abrupt_stop:
        signs = ", ".join(protocol.risks.withdrawal_signs.value)
        flags.append(
            Flag(
                "ABRUPT_STOP",
                "critical",
                f"This plan stops {drug} over {pace.length_days} days, under the "
                f"{protocol.hard_floor_days.value}-day minimum: an abrupt stop, allowed only "
                f"for a serious adverse reaction (recorded: {request.abrupt_stop_reason}). "
                f"Watch closely for withdrawal: {signs}.",
                protocol.hard_floor_days.source,
            )
        )
    if pace.faster_than_protocol:
        differences = []
        if pace.length_days < pace.required_length_days:
            differences.append(
                f"{pace.length_days} days instead of at least {pace.required_length_days}"
            )
        if pace.step_days < pace.protocol_step_days:
            differences.append(
                f"a step every {pace.step_days} days instead of every {pace.protocol_step_days}"
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
                f"High daily dose ({format_amount(daily)} mg, {format_amount(high.value)} mg "
                "or more): the taper is longer.",
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
                f"{format_amount(months)} months on therapy ({format_amount(long_term.value)} "
                "or more): the taper is longer.",
                long_term.source,
            )
        )
    renal_slowed = crcl is not None and crcl.value_ml_min < protocol.slower_below_crcl_ml_min.value
    flags += _renal_flags(protocol.risks, crcl, slowed if renal_slowed else "")
    elderly = _elderly_flag(request, protocol.risks, slowed)
    if elderly:
        flags.append(elderly)
    pediatric = _pediatric_flag(request, protocol.risks, "warning")
    if pediatric:
        flags.append(pediatric)
    per_kg = protocol.pediatric_max_mg_per_kg_day
    if patient.weight_kg is not None and daily > per_kg.value * patient.weight_kg:
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
    return _ordered(flags)


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
    elderly = _elderly_flag(request, protocol.risks, "")
    if elderly:
        flags.append(elderly)
    pediatric = _pediatric_flag(request, protocol.risks, "critical")
    if pediatric:
        flags.append(pediatric)
    flags += _patient_flags(request, protocol.risks)
    return _ordered(flags)


def _renal_flags(risks: PatientRisks, crcl: CreatinineClearance | None, slowed: str) -> list[Flag]:
    if crcl is None:
        return []
    value = crcl.value_ml_min
    bands: tuple[tuple[str, Severity, Decimal, str, str | None], ...] = (
        (
            "RENAL_SEVERE",
            "critical",
            risks.renal_severe_below_ml_min.value,
            risks.renal_severe_below_ml_min.source,
            risks.renal_severe_below_ml_min.note,
        ),
        (
            "RENAL_MODERATE",
            "warning",
            risks.renal_moderate_below_ml_min.value,
            risks.renal_moderate_below_ml_min.source,
            risks.renal_moderate_below_ml_min.note,
        ),
        (
            "RENAL_MILD",
            "info",
            risks.renal_mild_below_ml_min.value,
            risks.renal_mild_below_ml_min.source,
            risks.renal_mild_below_ml_min.note,
        ),
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
        sorted(flags, key=lambda flag: (_SEVERITY_ORDER[flag.severity], CODES.index(flag.code)))
    )
