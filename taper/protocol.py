"""Protocols: the versioned per-drug, per-route rule files in taper/protocols/.

Every number a plan depends on lives here with its source, so a plan can say which
protocol version built it and a flag can say where its threshold comes from. A
source is either a citation (label section, paper) or exactly "clinic default".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Generic, TypeVar

from taper.datafile import DataFileError, DataTable, read_toml

CLINIC_DEFAULT = "clinic default"
STEP_SHAPES = ("linear", "proportional")

V = TypeVar("V")


class ProtocolError(DataFileError):
    """A protocol file is missing, unreadable or malformed."""


@dataclass(frozen=True, slots=True)
class Setting(Generic[V]):
    """One protocol value and where it comes from; `note` is plain words for flag messages."""

    value: V
    source: str
    note: str | None = None

    @property
    def is_clinic_default(self) -> bool:
        return self.source == CLINIC_DEFAULT


@dataclass(frozen=True, slots=True)
class PatientRisks:
    """Label facts about patients that every route of a drug flags."""

    elderly_age_years: Setting[int]
    pediatric_age_years: Setting[int]
    renal_severe_below_ml_min: Setting[Decimal]
    renal_moderate_below_ml_min: Setting[Decimal]
    renal_mild_below_ml_min: Setting[Decimal]
    pregnancy: Setting[str]
    pregnancy_third_trimester: Setting[str]
    breastfeeding: Setting[str]
    cns_depressants: Setting[tuple[str, ...]]
    seizure_history: Setting[str]
    withdrawal_signs: Setting[tuple[str, ...]]
    dialysis: Setting[str]
    kidney_function_unknown: Setting[str]
    adult_age_years: Setting[int]
    review_every_plan_below_age_years: Setting[int]


@dataclass(frozen=True, slots=True)
class OralProtocol:
    id: str
    version: str
    drug: str
    route: str
    title: str
    hard_floor_days: Setting[int]
    standard_length_days: Setting[int]
    longer_length_days: Setting[int]
    longest_length_days: Setting[int]
    high_dose_daily_mg: Setting[Decimal]
    long_term_months: Setting[Decimal]
    slower_factor: Setting[Decimal]
    slower_below_crcl_ml_min: Setting[Decimal]
    step_interval_days: Setting[int]
    min_step_interval_days: Setting[int]
    step_shape: Setting[str]
    catch_up_fraction: Setting[Decimal]
    escalation_missed_doses: Setting[int]
    escalation_hours_without_dose: Setting[int]
    check_in_interval_days: Setting[int]
    max_daily_dose_mg: Setting[Decimal]
    implausible_daily_dose_mg: Setting[Decimal]
    implausible_single_dose_mg: Setting[Decimal]
    max_doses_per_day: Setting[int]
    max_taper_length_days: Setting[int]
    pediatric_max_mg_per_kg_day: Setting[Decimal]
    pediatric_dose_check_below_age_years: Setting[int]
    percent_per_step: Setting[Decimal]
    min_percent_per_step: Setting[Decimal]
    max_percent_per_step: Setting[Decimal]
    after_end_days: Setting[int]
    renal_mild_dose_kept: Setting[tuple[int, ...]]
    renal_moderate_dose_kept: Setting[tuple[int, ...]]
    renal_severe_dose_kept: Setting[tuple[int, ...]]
    withdrawal_progression: Setting[str]
    delivery_before_end: Setting[str]
    risks: PatientRisks


@dataclass(frozen=True, slots=True)
class IntrathecalProtocol:
    id: str
    version: str
    drug: str
    route: str
    title: str
    boxed_warning: Setting[str]
    withdrawal_progression: Setting[str]
    refill_reminder_days_before: Setting[tuple[int, ...]]
    implausible_daily_dose_mcg: Setting[Decimal]
    max_reservoir_ml: Setting[Decimal]
    max_plan_length_days: Setting[int]
    max_wean_steps: Setting[int]
    risks: PatientRisks


Protocol = OralProtocol | IntrathecalProtocol

_HEADER_KEYS = {"id", "version", "drug", "route", "title"}
_RISK_KEYS = set(PatientRisks.__dataclass_fields__)
_ORAL_KEYS = set(OralProtocol.__dataclass_fields__) - _HEADER_KEYS - {"risks"}
_INTRATHECAL_KEYS = set(IntrathecalProtocol.__dataclass_fields__) - _HEADER_KEYS - {"risks"}


def load_protocol(path: Path) -> Protocol:
    top = read_toml(path, ProtocolError)
    route = top.text("route")
    if route == "oral":
        top.only_keys(_HEADER_KEYS | _RISK_KEYS | _ORAL_KEYS)
        return _oral_protocol(top)
    if route == "intrathecal":
        top.only_keys(_HEADER_KEYS | _RISK_KEYS | _INTRATHECAL_KEYS)
        return _intrathecal_protocol(top)
    top.fail("route", 'expected "oral" or "intrathecal"')


def _setting_table(top: DataTable, key: str) -> tuple[DataTable, str, str | None]:
    table = top.table(key)
    table.only_keys({"value", "source", "note"})
    source = table.text("source")
    if CLINIC_DEFAULT in source.lower() and source != CLINIC_DEFAULT:
        table.fail("source", f'expected a citation or exactly "{CLINIC_DEFAULT}"')
    return table, source, table.optional_text("note")


def _int(top: DataTable, key: str) -> Setting[int]:
    table, source, note = _setting_table(top, key)
    return Setting(table.positive_int("value"), source, note)


def _number(top: DataTable, key: str) -> Setting[Decimal]:
    table, source, note = _setting_table(top, key)
    return Setting(table.positive_number("value"), source, note)


def _text(top: DataTable, key: str) -> Setting[str]:
    table, source, note = _setting_table(top, key)
    return Setting(table.text("value"), source, note)


def _texts(top: DataTable, key: str) -> Setting[tuple[str, ...]]:
    table, source, note = _setting_table(top, key)
    return Setting(table.text_list("value"), source, note)


def _ints(top: DataTable, key: str) -> Setting[tuple[int, ...]]:
    table, source, note = _setting_table(top, key)
    return Setting(table.positive_int_list("value"), source, note)


def _fraction(top: DataTable, key: str) -> Setting[tuple[int, ...]]:
    """[numerator, denominator] of a fraction no larger than 1 (exact thirds, not 0.667)."""
    setting = _ints(top, key)
    if len(setting.value) != 2 or setting.value[0] > setting.value[1]:
        top.fail(f"{key}.value", "expected [numerator, denominator] with numerator <= denominator")
    return setting


def _risks(top: DataTable) -> PatientRisks:
    risks = PatientRisks(
        elderly_age_years=_int(top, "elderly_age_years"),
        pediatric_age_years=_int(top, "pediatric_age_years"),
        renal_severe_below_ml_min=_number(top, "renal_severe_below_ml_min"),
        renal_moderate_below_ml_min=_number(top, "renal_moderate_below_ml_min"),
        renal_mild_below_ml_min=_number(top, "renal_mild_below_ml_min"),
        pregnancy=_text(top, "pregnancy"),
        pregnancy_third_trimester=_text(top, "pregnancy_third_trimester"),
        breastfeeding=_text(top, "breastfeeding"),
        cns_depressants=_texts(top, "cns_depressants"),
        seizure_history=_text(top, "seizure_history"),
        withdrawal_signs=_texts(top, "withdrawal_signs"),
        dialysis=_text(top, "dialysis"),
        kidney_function_unknown=_text(top, "kidney_function_unknown"),
        adult_age_years=_int(top, "adult_age_years"),
        review_every_plan_below_age_years=_int(top, "review_every_plan_below_age_years"),
    )
    if not (
        risks.renal_severe_below_ml_min.value
        < risks.renal_moderate_below_ml_min.value
        < risks.renal_mild_below_ml_min.value
    ):
        top.fail(
            "renal_moderate_below_ml_min.value",
            "renal bands must rise: severe < moderate < mild",
        )
    return risks


def _oral_protocol(top: DataTable) -> OralProtocol:
    protocol = OralProtocol(
        id=top.text("id"),
        version=top.text("version"),
        drug=top.text("drug"),
        route=top.text("route"),
        title=top.text("title"),
        hard_floor_days=_int(top, "hard_floor_days"),
        standard_length_days=_int(top, "standard_length_days"),
        longer_length_days=_int(top, "longer_length_days"),
        longest_length_days=_int(top, "longest_length_days"),
        high_dose_daily_mg=_number(top, "high_dose_daily_mg"),
        long_term_months=_number(top, "long_term_months"),
        slower_factor=_number(top, "slower_factor"),
        slower_below_crcl_ml_min=_number(top, "slower_below_crcl_ml_min"),
        step_interval_days=_int(top, "step_interval_days"),
        min_step_interval_days=_int(top, "min_step_interval_days"),
        step_shape=_text(top, "step_shape"),
        catch_up_fraction=_number(top, "catch_up_fraction"),
        escalation_missed_doses=_int(top, "escalation_missed_doses"),
        escalation_hours_without_dose=_int(top, "escalation_hours_without_dose"),
        check_in_interval_days=_int(top, "check_in_interval_days"),
        max_daily_dose_mg=_number(top, "max_daily_dose_mg"),
        implausible_daily_dose_mg=_number(top, "implausible_daily_dose_mg"),
        implausible_single_dose_mg=_number(top, "implausible_single_dose_mg"),
        max_doses_per_day=_int(top, "max_doses_per_day"),
        max_taper_length_days=_int(top, "max_taper_length_days"),
        pediatric_max_mg_per_kg_day=_number(top, "pediatric_max_mg_per_kg_day"),
        pediatric_dose_check_below_age_years=_int(top, "pediatric_dose_check_below_age_years"),
        percent_per_step=_number(top, "percent_per_step"),
        min_percent_per_step=_number(top, "min_percent_per_step"),
        max_percent_per_step=_number(top, "max_percent_per_step"),
        after_end_days=_int(top, "after_end_days"),
        renal_mild_dose_kept=_fraction(top, "renal_mild_dose_kept"),
        renal_moderate_dose_kept=_fraction(top, "renal_moderate_dose_kept"),
        renal_severe_dose_kept=_fraction(top, "renal_severe_dose_kept"),
        withdrawal_progression=_text(top, "withdrawal_progression"),
        delivery_before_end=_text(top, "delivery_before_end"),
        risks=_risks(top),
    )
    p = protocol
    if not (
        p.min_percent_per_step.value
        <= p.percent_per_step.value
        <= p.max_percent_per_step.value
        < 100
    ):
        top.fail(
            "percent_per_step.value",
            "expected min_percent_per_step <= percent_per_step <= max_percent_per_step < 100",
        )
    if not (
        p.hard_floor_days.value
        <= p.standard_length_days.value
        <= p.longer_length_days.value
        <= p.longest_length_days.value
        <= p.max_taper_length_days.value
    ):
        top.fail(
            "standard_length_days.value",
            "lengths must rise: hard_floor_days <= standard_length_days <= "
            "longer_length_days <= longest_length_days <= max_taper_length_days",
        )
    if p.min_step_interval_days.value < 2:
        # A step must last long enough to see its effect before the next one (CLINICAL.md).
        top.fail("min_step_interval_days.value", "expected at least 2")
    if p.step_interval_days.value < p.min_step_interval_days.value:
        top.fail("step_interval_days.value", "expected at least min_step_interval_days")
    if p.slower_factor.value < 1:
        top.fail("slower_factor.value", "expected a number of at least 1")
    if p.catch_up_fraction.value >= 1:
        top.fail("catch_up_fraction.value", "expected a fraction between 0 and 1")
    if p.step_shape.value not in STEP_SHAPES:
        top.fail("step_shape.value", 'expected "linear" or "proportional"')
    if p.implausible_single_dose_mg.value > p.implausible_daily_dose_mg.value:
        top.fail("implausible_single_dose_mg.value", "expected at most implausible_daily_dose_mg")
    return protocol


def _intrathecal_protocol(top: DataTable) -> IntrathecalProtocol:
    return IntrathecalProtocol(
        id=top.text("id"),
        version=top.text("version"),
        drug=top.text("drug"),
        route=top.text("route"),
        title=top.text("title"),
        boxed_warning=_text(top, "boxed_warning"),
        withdrawal_progression=_text(top, "withdrawal_progression"),
        refill_reminder_days_before=_ints(top, "refill_reminder_days_before"),
        implausible_daily_dose_mcg=_number(top, "implausible_daily_dose_mcg"),
        max_reservoir_ml=_number(top, "max_reservoir_ml"),
        max_plan_length_days=_int(top, "max_plan_length_days"),
        max_wean_steps=_int(top, "max_wean_steps"),
        risks=_risks(top),
    )
