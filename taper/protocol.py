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
    # Optional: a class protocol flags only the kidney bands its source gives.
    renal_moderate_below_ml_min: Setting[Decimal] | None
    renal_mild_below_ml_min: Setting[Decimal] | None
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
class RenalBand:
    """One row of a label's kidney dosing table: the highest daily dose and how many dose
    times a day the label gives for a creatinine clearance in this band."""

    lower_ml_min: Decimal
    lower_included: bool  # ">= 60" is included, "> 30 to 59" is not
    max_daily_mg: Decimal
    doses_per_day: int
    regimen: str
    source: str
    # Below this clearance the maximum falls in proportion (gabapentin: 300 mg × CrCl/15).
    proportional_below_ml_min: Decimal | None = None

    def holds(self, crcl_ml_min: Decimal) -> bool:
        return crcl_ml_min > self.lower_ml_min or (
            self.lower_included and crcl_ml_min == self.lower_ml_min
        )

    def max_daily_for(self, crcl_ml_min: Decimal) -> Decimal:
        below = self.proportional_below_ml_min
        if below is not None and crcl_ml_min < below:
            return self.max_daily_mg * crcl_ml_min / below
        return self.max_daily_mg


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
    slower_below_crcl_ml_min: Setting[Decimal] | None
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
    # Baclofen's published kidney fractions (Vlavonou); a class protocol gives renal_bands.
    renal_mild_dose_kept: Setting[tuple[int, ...]] | None
    renal_moderate_dose_kept: Setting[tuple[int, ...]] | None
    renal_severe_dose_kept: Setting[tuple[int, ...]] | None
    withdrawal_progression: Setting[str]
    delivery_before_end: Setting[str]
    risks: PatientRisks
    # The drugs a class protocol covers (benzodiazepine-oral: diazepam, clonazepam, ...);
    # the loader makes one OralProtocol per drug, with that drug's by_drug values.
    drugs: tuple[str, ...] = ()
    # Guardrail: no window of this many days cuts the daily dose by more than this % of
    # its value at the window's start (the final step to zero excepted).
    window_days: Setting[int] | None = None
    window_max_cut_percent: Setting[Decimal] | None = None
    # Slower (× slower_factor) also after this many months of use.
    slower_after_months: Setting[Decimal] | None = None
    # CNS_DEPRESSANT is critical with these (the benzodiazepine boxed warning: opioids).
    cns_depressant_critical_with: Setting[tuple[str, ...]] | None = None
    # A warning on every plan of the class, under its own code.
    class_warning_code: str | None = None
    class_warning: Setting[str] | None = None
    # Every dose must carry one of these roles (zolpidem: bedtime only).
    dose_roles: Setting[tuple[str, ...]] | None = None
    renal_bands: tuple[RenalBand, ...] = ()
    # Switching to another drug before the taper (benzodiazepines → diazepam, version 2):
    # the equivalence table "<id>/<version>" (taper/equivalence/) and how many days each
    # dose time is given before the next one is substituted.
    switch_equivalence: Setting[str] | None = None
    switch_days_per_dose_time: Setting[int] | None = None
    # Days on the target drug alone, after the last substitution, before its taper.
    switch_hold_days: Setting[int] | None = None


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
    # How often the patient is asked about withdrawal signs (reminders' check-ins).
    check_in_interval_days: Setting[int]
    implausible_daily_dose_mcg: Setting[Decimal]
    max_reservoir_ml: Setting[Decimal]
    max_plan_length_days: Setting[int]
    max_wean_steps: Setting[int]
    risks: PatientRisks
    drugs: tuple[str, ...] = ()
    # From version 2 (issue 21); version 1 plans keep their stored output.
    # A wean visit cutting the daily dose by more than this percentage raises STEP_TOO_LARGE.
    max_wean_cut_percent: Setting[Decimal] | None = None
    # The longest interval between refills (drug stability in the reservoir).
    max_refill_interval_days: Setting[int] | None = None


Protocol = OralProtocol | IntrathecalProtocol

_HEADER_KEYS = {"id", "version", "drug", "route", "title"}
_RISK_KEYS = set(PatientRisks.__dataclass_fields__)
_ORAL_KEYS = set(OralProtocol.__dataclass_fields__) - _HEADER_KEYS - {"risks"}
_INTRATHECAL_KEYS = (
    set(IntrathecalProtocol.__dataclass_fields__) - _HEADER_KEYS - {"risks", "drugs"}
)
# What a class protocol may set per drug: [by_drug.<drug>.<key>].
_BY_DRUG_KEYS = {
    "max_daily_dose_mg",
    "high_dose_daily_mg",
    "implausible_daily_dose_mg",
    "implausible_single_dose_mg",
    "pediatric_max_mg_per_kg_day",
    "renal_bands",
    "renal_severe_below_ml_min",
    "renal_moderate_below_ml_min",
    "dialysis",
    "kidney_function_unknown",
    "withdrawal_signs",
    "withdrawal_progression",
    "class_warning",
    "cns_depressant_critical_with",
}
_BAND_KEYS = {
    "lower_ml_min",
    "lower_included",
    "max_daily_mg",
    "doses_per_day",
    "regimen",
    "source",
    "proportional_below_ml_min",
}


def load_protocol(path: Path) -> Protocol:
    """A single-drug protocol file (baclofen). A class file loads with load_protocols."""
    protocols = load_protocols(path)
    if len(protocols) != 1:
        raise ProtocolError(f"{path.name}: a class protocol; load it with load_protocols")
    return protocols[0]


def load_protocols(path: Path) -> tuple[Protocol, ...]:
    """One protocol per drug: a class file (`drugs = [...]`) gives one for each of its
    drugs, each with that drug's [by_drug.<drug>] values over the class values."""
    top = read_toml(path, ProtocolError)
    route = top.text("route")
    if route == "oral":
        if top.has("drugs"):
            top.only_keys((_HEADER_KEYS - {"drug"}) | _RISK_KEYS | _ORAL_KEYS | {"by_drug"})
            drugs = top.text_list("drugs")
            by_drug = top.table("by_drug") if top.has("by_drug") else None
            if by_drug is not None:
                for name in by_drug.data:
                    if name not in drugs:
                        by_drug.fail(name, f"not one of this protocol's drugs: {', '.join(drugs)}")
                    by_drug.table(name).only_keys(_BY_DRUG_KEYS)
            variants = []
            for drug in drugs:
                data = {k: v for k, v in top.data.items() if k not in ("drugs", "by_drug")}
                if by_drug is not None and by_drug.has(drug):
                    data.update(by_drug.table(drug).data)
                data["drug"] = drug
                merged = DataTable(top.file, top.path, data, top.error)
                variants.append(_oral_protocol(merged, drugs))
            return tuple(variants)
        top.only_keys(_HEADER_KEYS | _RISK_KEYS | (_ORAL_KEYS - {"drugs"}))
        return (_oral_protocol(top, (top.text("drug"),)),)
    if route == "intrathecal":
        top.only_keys(_HEADER_KEYS | _RISK_KEYS | _INTRATHECAL_KEYS)
        return (_intrathecal_protocol(top),)
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


def _optional_number(top: DataTable, key: str) -> Setting[Decimal] | None:
    return _number(top, key) if top.has(key) else None


def _optional_int(top: DataTable, key: str) -> Setting[int] | None:
    return _int(top, key) if top.has(key) else None


def _optional_texts(top: DataTable, key: str) -> Setting[tuple[str, ...]] | None:
    return _texts(top, key) if top.has(key) else None


def _optional_fraction(top: DataTable, key: str) -> Setting[tuple[int, ...]] | None:
    return _fraction(top, key) if top.has(key) else None


def _renal_bands(top: DataTable) -> tuple[RenalBand, ...]:
    if not top.has("renal_bands"):
        return ()
    bands = []
    for table in top.tables("renal_bands"):
        table.only_keys(_BAND_KEYS)
        below = (
            table.positive_number("proportional_below_ml_min")
            if table.has("proportional_below_ml_min")
            else None
        )
        lower = table.raw("lower_ml_min")
        if isinstance(lower, bool) or not isinstance(lower, (int, Decimal)) or lower < 0:
            table.fail("lower_ml_min", "expected a number of at least 0")
        bands.append(
            RenalBand(
                lower_ml_min=Decimal(lower),
                lower_included=table.boolean("lower_included"),
                max_daily_mg=table.positive_number("max_daily_mg"),
                doses_per_day=table.positive_int("doses_per_day"),
                regimen=table.text("regimen"),
                source=table.text("source"),
                proportional_below_ml_min=below,
            )
        )
    ordered = sorted(bands, key=lambda band: band.lower_ml_min, reverse=True)
    if ordered != bands or ordered[-1].lower_ml_min != 0:
        top.fail("renal_bands", "expected bands from the highest clearance down to 0 mL/min")
    return tuple(ordered)


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
        renal_moderate_below_ml_min=_optional_number(top, "renal_moderate_below_ml_min"),
        renal_mild_below_ml_min=_optional_number(top, "renal_mild_below_ml_min"),
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
    thresholds = [
        setting.value
        for setting in (
            risks.renal_severe_below_ml_min,
            risks.renal_moderate_below_ml_min,
            risks.renal_mild_below_ml_min,
        )
        if setting is not None
    ]
    if thresholds != sorted(set(thresholds)):
        top.fail(
            "renal_moderate_below_ml_min.value",
            "renal bands must rise: severe < moderate < mild",
        )
    return risks


def _oral_protocol(top: DataTable, drugs: tuple[str, ...]) -> OralProtocol:
    has_code = top.has("class_warning_code")
    if has_code != top.has("class_warning"):
        top.fail("class_warning", "class_warning and class_warning_code go together")
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
        slower_below_crcl_ml_min=_optional_number(top, "slower_below_crcl_ml_min"),
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
        renal_mild_dose_kept=_optional_fraction(top, "renal_mild_dose_kept"),
        renal_moderate_dose_kept=_optional_fraction(top, "renal_moderate_dose_kept"),
        renal_severe_dose_kept=_optional_fraction(top, "renal_severe_dose_kept"),
        withdrawal_progression=_text(top, "withdrawal_progression"),
        delivery_before_end=_text(top, "delivery_before_end"),
        risks=_risks(top),
        drugs=drugs,
        window_days=_optional_int(top, "window_days"),
        window_max_cut_percent=_optional_number(top, "window_max_cut_percent"),
        slower_after_months=_optional_number(top, "slower_after_months"),
        cns_depressant_critical_with=_optional_texts(top, "cns_depressant_critical_with"),
        class_warning_code=top.text("class_warning_code") if has_code else None,
        class_warning=_text(top, "class_warning") if has_code else None,
        dose_roles=_optional_texts(top, "dose_roles"),
        renal_bands=_renal_bands(top),
        switch_equivalence=_text(top, "switch_equivalence")
        if top.has("switch_equivalence")
        else None,
        switch_days_per_dose_time=_optional_int(top, "switch_days_per_dose_time"),
        switch_hold_days=_optional_int(top, "switch_hold_days"),
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
    if (
        not (p.switch_equivalence is None)
        == (p.switch_days_per_dose_time is None)
        == (p.switch_hold_days is None)
    ):
        top.fail(
            "switch_equivalence",
            "switch_equivalence, switch_days_per_dose_time and switch_hold_days go together",
        )
    if (p.window_days is None) != (p.window_max_cut_percent is None):
        top.fail("window_days", "window_days and window_max_cut_percent go together")
    if p.window_max_cut_percent is not None and p.window_max_cut_percent.value >= 100:
        top.fail("window_max_cut_percent.value", "expected a percentage under 100")
    return protocol


def _intrathecal_protocol(top: DataTable) -> IntrathecalProtocol:
    protocol = IntrathecalProtocol(
        id=top.text("id"),
        version=top.text("version"),
        drug=top.text("drug"),
        route=top.text("route"),
        title=top.text("title"),
        boxed_warning=_text(top, "boxed_warning"),
        withdrawal_progression=_text(top, "withdrawal_progression"),
        refill_reminder_days_before=_ints(top, "refill_reminder_days_before"),
        check_in_interval_days=_int(top, "check_in_interval_days"),
        implausible_daily_dose_mcg=_number(top, "implausible_daily_dose_mcg"),
        max_reservoir_ml=_number(top, "max_reservoir_ml"),
        max_plan_length_days=_int(top, "max_plan_length_days"),
        max_wean_steps=_int(top, "max_wean_steps"),
        risks=_risks(top),
        drugs=(top.text("drug"),),
        max_wean_cut_percent=_optional_number(top, "max_wean_cut_percent"),
        max_refill_interval_days=_optional_int(top, "max_refill_interval_days"),
    )
    cut = protocol.max_wean_cut_percent
    if cut is not None and cut.value >= 100:
        top.fail("max_wean_cut_percent.value", "expected a percentage under 100")
    return protocol
