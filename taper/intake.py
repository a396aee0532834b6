"""Reading what the clinician typed: a JSON-like dict in, a PlanRequest out.

`parse_request` is the one gate between the outside world (form, CLI, API) and the
planner. It never lets anything but `InvalidPlanInput` escape, and it reports every
problem at once, keyed by the dotted path of the input field ("doses.1.time").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal
from functools import lru_cache
from typing import Literal, cast
from zoneinfo import available_timezones

from taper import limits
from taper.catalogue import Catalogue, Product, UnknownProtocolVersion, load_catalogue
from taper.protocol import IntrathecalProtocol, OralProtocol, Protocol
from taper.pump import PumpSettings, WeanStep
from taper.request import (
    DOSE_ROLES,
    HOLD_DAYS_MESSAGE,
    INTRATHECAL_REVISIONS,
    MAX_HOLD_DAYS,
    MAX_REVISIONS,
    NON_FIELD,
    REVISION_KIND_MESSAGE,
    REVISION_KINDS,
    CurrentDose,
    DoseRole,
    Errors,
    Goal,
    InvalidPlanInput,
    Pace,
    Patient,
    PlanRequest,
    Revision,
    RevisionKind,
    add_error,
    dose_refusals,
    goal_refusals,
    length_refusals,
    merge_errors,
    pump_refusals,
    revision_refusals,
    schwartz_message,
    switch_refusals,
)
from taper.revise import from_date_refusals
from taper.rounding import format_amount
from taper.shelf import ProductOptions, on_the_shelf

# Parsing limits that keep hostile input cheap; clinical limits live in the protocols.
MAX_TEXT_CHARS = 200
MAX_REASON_CHARS = 1000
MAX_LIST_ITEMS = 50
HUGE_INTEGER = 10**12  # beyond this, skip converting to Decimal (str() of a huge int is slow)
MICRO = Decimal("0.000001")
# Dates stay well inside what date arithmetic and time zone rules can handle.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)

_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)", re.ASCII)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)

TOP_LEVEL_FIELDS = (
    "product",
    "doses",
    "pump",
    "start_date",
    "timezone",
    "goal",
    "patient",
    "pace",
    "abrupt_stop_reason",
    "revisions",
    "protocol_version",
    "switch_to",
    "product_options",
)
REVISION_FIELDS = ("kind", "from_date", "days")
PATIENT_FIELDS = (
    "age_years",
    "weight_kg",
    "sex",
    "creatinine_clearance_ml_min",
    "serum_creatinine_mg_dl",
    "serum_creatinine_umol_l",
    "months_on_therapy",
    "pregnancy_trimester",
    "breastfeeding",
    "seizure_history",
    "cns_depressants",
    "height_cm",
    "dialysis",
    "expected_delivery_date",
)
# Under this age serum creatinine is read with the bedside Schwartz formula (needs the
# height); Cockcroft–Gault is for adults (protocol risks.adult_age_years has the source).
CREATININE_FIELDS = (
    "creatinine_clearance_ml_min",
    "serum_creatinine_mg_dl",
    "serum_creatinine_umol_l",
)
WEAN_STEP_FIELDS = ("visit_date", "daily_dose_mcg", "refilled", "refill_volume_ml")
PUMP_FIELDS = (
    "concentration_mcg_per_ml",
    "daily_dose_mcg",
    "reservoir_ml",
    "alarm_volume_ml",
    "last_refill_date",
    "wean_steps",
)
ORAL_ONLY_FIELDS = ("doses", "goal", "pace", "abrupt_stop_reason", "product_options")
PRODUCT_OPTION_FIELDS = ("strengths_mg", "allow_halves", "fewest_strengths")


def parse_request(data: Mapping[str, object], *, catalogue: Catalogue | None = None) -> PlanRequest:
    """Check a JSON-like dict and build a PlanRequest, or raise InvalidPlanInput."""
    if not isinstance(data, Mapping):
        raise InvalidPlanInput({NON_FIELD: ["The plan request must be a JSON object."]})
    errors: Errors = {}
    _reject_unknown_fields(errors, "", data, TOP_LEVEL_FIELDS)
    catalogue = catalogue if catalogue is not None else load_catalogue()

    product = _read_product(errors, data.get("product"), catalogue)
    protocol = _read_protocol(errors, data.get("protocol_version"), product, catalogue)
    start_date = _read_date(errors, "start_date", data.get("start_date"), required=True)
    timezone = _read_timezone(errors, data.get("timezone"))
    patient = _read_patient(
        errors,
        data.get("patient"),
        protocol,
        needs_months_on_therapy=isinstance(protocol, OralProtocol),
    )

    doses: tuple[CurrentDose, ...] = ()
    goal: Goal | None = None
    pace = Pace()
    pump: PumpSettings | None = None
    reason: str | None = None
    revisions: tuple[Revision, ...] = ()
    # With an unknown product the route is unknown too: check whatever was sent.
    oral = product is not None and not product.is_intrathecal
    intrathecal = product is not None and product.is_intrathecal
    catalogue_product = product
    options: ProductOptions | None = None
    if oral and "product_options" in data:
        assert product is not None
        options = _read_product_options(errors, data.get("product_options"), product)
        if options is not None:
            # From here on the product is the shelf: doses and target must be measurable
            # with the chosen strengths (taper/shelf.py).
            product = on_the_shelf(product, options)
    if intrathecal:
        for field in ORAL_ONLY_FIELDS:
            if field in data:
                add_error(errors, field, "Applies only to oral products; a pump plan uses pump.")
        if "revisions" in data:
            add_error(errors, "revisions", INTRATHECAL_REVISIONS)
    elif oral and "pump" in data:
        add_error(errors, "pump", "Applies only to intrathecal products.")
    if not intrathecal:
        oral_protocol = protocol if isinstance(protocol, OralProtocol) else None
        if oral or "doses" in data:
            doses = _read_doses(errors, data.get("doses"), product, oral_protocol)
        if oral or "goal" in data:
            goal = _read_goal(errors, data.get("goal"))
        pace = _read_pace(errors, data.get("pace"), oral_protocol)
        reason = _read_text(errors, "abrupt_stop_reason", data.get("abrupt_stop_reason"))
        revisions = _read_revisions(errors, data.get("revisions"))
        if product is not None and oral_protocol is not None:
            if goal is not None and doses and not _has_errors_under(errors, "goal"):
                merge_errors(errors, goal_refusals(goal, doses, product))
            if goal is not None and not _has_errors_under(errors, "pace"):
                merge_errors(errors, length_refusals(goal, pace, reason, oral_protocol))
    switch_to, switch_protocol = _read_switch_to(errors, data, protocol, catalogue)
    if not oral and (intrathecal or "pump" in data):
        it_protocol = protocol if isinstance(protocol, IntrathecalProtocol) else None
        pump = _read_pump(errors, data.get("pump"), product, it_protocol)
        if pump is not None and start_date is not None and it_protocol is not None:
            merge_errors(errors, pump_refusals(pump, start_date, it_protocol))

    if errors:
        raise InvalidPlanInput(errors)
    # No errors means every required part was read.
    assert product is not None
    assert protocol is not None
    assert start_date is not None
    assert timezone is not None
    assert patient is not None
    request = PlanRequest(
        product=product,
        protocol=protocol,
        start_date=start_date,
        timezone=timezone,
        patient=patient,
        doses=doses,
        goal=goal,
        pace=pace,
        pump=pump,
        abrupt_stop_reason=reason,
        revisions=revisions,
        switch_to=switch_to,
        switch_protocol=switch_protocol,
        product_options=options,
        catalogue_product=catalogue_product if options is not None else None,
    )
    if switch_to is not None:
        refused = switch_refusals(request)
        if refused:
            raise InvalidPlanInput(refused)
    if revisions:
        # Whether each from_date lies within the plan as it stands needs the plan itself.
        refused = from_date_refusals(request)
        if refused:
            raise InvalidPlanInput(refused)
    return request


# --- Sections ----------------------------------------------------------------------


def _read_product(errors: Errors, value: object, catalogue: Catalogue) -> Product | None:
    if value is None:
        add_error(errors, "product", "Choose a product.")
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        add_error(errors, "product", "The product must be a catalogue id such as the ones listed.")
        return None
    product = catalogue.product(value)
    if product is None:
        known = ", ".join(product.id for product in catalogue.products)
        add_error(errors, "product", f'Unknown product "{value}"; choose one of: {known}.')
    return product


def _read_protocol(
    errors: Errors, version: object, product: Product | None, catalogue: Catalogue
) -> Protocol | None:
    """The product's protocol: the newest, or the version a stored plan recorded."""
    if product is None:
        return None
    if version is None:
        return catalogue.protocol_for(product)
    if not isinstance(version, str) or len(version) > MAX_TEXT_CHARS:
        add_error(errors, "protocol_version", 'The protocol version must be text such as "2".')
        return None
    try:
        return catalogue.protocol_for(product, version)
    except UnknownProtocolVersion as unknown:
        add_error(errors, "protocol_version", f"{unknown}.")
        return None


def _read_switch_to(
    errors: Errors, data: Mapping[str, object], protocol: Protocol | None, catalogue: Catalogue
) -> tuple[Product | None, Protocol | None]:
    """The product to switch to, and its protocol at the version of the plan's protocol."""
    if "switch_to" not in data:
        return None, None
    value = data["switch_to"]
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        add_error(
            errors, "switch_to", 'switch_to must be a product id such as "diazepam-oral-tablet".'
        )
        return None, None
    product = catalogue.product(value)
    if product is None:
        add_error(errors, "switch_to", f'Unknown product "{value}" to switch to.')
        return None, None
    if protocol is None or product.is_intrathecal:
        return product, None
    try:
        return product, catalogue.protocol_for(product, protocol.version)
    except UnknownProtocolVersion:
        return product, None


def _read_timezone(errors: Errors, value: object) -> str | None:
    if value is None:
        add_error(errors, "timezone", "Enter the patient's time zone, for example Europe/London.")
        return None
    if not isinstance(value, str) or value not in _known_timezones():
        add_error(
            errors,
            "timezone",
            "Unknown time zone; use an IANA name such as Europe/London or America/New_York.",
        )
        return None
    return value


@lru_cache(maxsize=1)
def _known_timezones() -> frozenset[str]:
    # Checking membership first means a hostile string never reaches the file system.
    return frozenset(available_timezones())


def _read_doses(
    errors: Errors, value: object, product: Product | None, protocol: OralProtocol | None
) -> tuple[CurrentDose, ...]:
    if value is None:
        add_error(errors, "doses", "Enter the current doses: a list of {time, amount_mg}.")
        return ()
    if not isinstance(value, list | tuple):
        add_error(errors, "doses", "Doses must be a list of {time, amount_mg}.")
        return ()
    if not value:
        add_error(errors, "doses", "Enter at least one dose time.")
        return ()
    limit = protocol.max_doses_per_day.value if protocol else MAX_LIST_ITEMS
    if len(value) > min(limit, MAX_LIST_ITEMS):
        add_error(errors, "doses", f"Enter at most {min(limit, MAX_LIST_ITEMS)} dose times a day.")
        return ()
    times: list[tuple[int, time]] = []
    amounts: list[tuple[int, Decimal]] = []
    roles: list[DoseRole | None] = []
    for index, item in enumerate(value):
        path = f"doses.{index}"
        if not isinstance(item, Mapping):
            add_error(errors, path, "Each dose must be an object with time and amount_mg.")
            continue
        _reject_unknown_fields(errors, path, item, ("time", "amount_mg", "role"))
        at = _read_clock_time(errors, f"{path}.time", item.get("time"))
        role = item.get("role")
        if role is not None and role not in DOSE_ROLES:
            add_error(errors, f"{path}.role", ROLE_MESSAGE)
        roles.append(cast(DoseRole | None, role if role in DOSE_ROLES else None))
        amount = _read_number(
            errors, f"{path}.amount_mg", item.get("amount_mg"), "dose", "mg", required=True
        )
        if at is not None:
            times.append((index, at))
        if amount is not None:
            amounts.append((index, amount))
    complete = len(times) == len(amounts) == len(roles) == len(value)
    if product is not None and protocol is not None:
        # Reported against the positions the clinician typed, even when some doses failed.
        merge_errors(errors, dose_refusals(times, amounts, product, protocol, complete=complete))
    if not complete:
        return ()
    doses = (
        CurrentDose(time=t, amount_mg=a, role=r)
        for (_, t), (_, a), r in zip(times, amounts, roles, strict=True)
    )
    return tuple(sorted(doses, key=lambda dose: dose.time))


ROLE_MESSAGE = "The role must be one of: " + ", ".join(DOSE_ROLES) + "."


def _read_product_options(
    errors: Errors, value: object, product: Product
) -> ProductOptions | None:
    path = "product_options"
    if not product.is_solid:
        add_error(errors, path, f"Applies only to tablets and capsules, not {product.name}.")
        return None
    if not isinstance(value, Mapping):
        add_error(
            errors, path, 'Must be an object such as {"strengths_mg": [10], "allow_halves": true}.'
        )
        return None
    _reject_unknown_fields(errors, path, value, PRODUCT_OPTION_FIELDS)
    known = product.strength_amounts
    listed = ", ".join(format_amount(amount) for amount in known)
    raw = value.get("strengths_mg")
    strengths: list[Decimal] = []
    if raw is None:
        strengths = list(known)  # every strength of the product
    elif not isinstance(raw, list) or not raw:
        add_error(errors, f"{path}.strengths_mg", f"Choose at least one strength: {listed} mg.")
        return None
    else:
        for index, item in enumerate(raw[:MAX_LIST_ITEMS]):
            where = f"{path}.strengths_mg.{index}"
            amount = _read_number(errors, where, item, "strength", "mg", required=True)
            if amount is None:
                continue
            if amount not in known:
                add_error(
                    errors,
                    where,
                    f"{format_amount(amount)} mg is not a strength of {product.name}; "
                    f"choose from {listed} mg.",
                )
            elif amount in strengths:
                add_error(errors, where, f"{format_amount(amount)} mg is listed twice.")
            else:
                strengths.append(amount)
    halves = _read_boolean(errors, f"{path}.allow_halves", value.get("allow_halves"))
    fewest = _read_boolean(errors, f"{path}.fewest_strengths", value.get("fewest_strengths"))
    if _has_errors_under(errors, path):
        return None
    return ProductOptions(
        strengths_mg=tuple(sorted(strengths)),
        allow_halves=True if halves is None else halves,
        fewest_strengths=bool(fewest),
    )


def _read_goal(errors: Errors, value: object) -> Goal | None:
    if value is None:
        add_error(errors, "goal", 'Choose a goal: {"type": "discontinue"} or {"type": "reduce"}.')
        return None
    if not isinstance(value, Mapping):
        add_error(errors, "goal", 'The goal must be an object such as {"type": "discontinue"}.')
        return None
    _reject_unknown_fields(errors, "goal", value, ("type", "target_daily_mg"))
    kind = value.get("type")
    if kind == "discontinue":
        if "target_daily_mg" in value:
            add_error(errors, "goal.target_daily_mg", "A target applies only to a reduce goal.")
        return Goal(type="discontinue")
    if kind == "reduce":
        target = _read_number(
            errors,
            "goal.target_daily_mg",
            value.get("target_daily_mg"),
            "target daily dose",
            "mg",
            required=True,
        )
        return Goal(type="reduce", target_daily_mg=target) if target is not None else None
    add_error(errors, "goal.type", 'The goal type must be "discontinue" or "reduce".')
    return None


def _read_revisions(errors: Errors, value: object) -> tuple[Revision, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        add_error(errors, "revisions", "Revisions must be a list of {kind, from_date, days}.")
        return ()
    if len(value) > MAX_REVISIONS:
        add_error(errors, "revisions", f"Enter at most {MAX_REVISIONS} revisions.")
        return ()
    read: list[tuple[int, Revision]] = []
    for index, item in enumerate(value):
        path = f"revisions.{index}"
        if not isinstance(item, Mapping):
            add_error(errors, path, "Each revision must be an object with kind and from_date.")
            continue
        _reject_unknown_fields(errors, path, item, REVISION_FIELDS)
        before = _count(errors)
        kind = item.get("kind")
        if kind not in REVISION_KINDS:
            add_error(errors, f"{path}.kind", REVISION_KIND_MESSAGE)
        from_date = _read_date(errors, f"{path}.from_date", item.get("from_date"), required=True)
        days: int | None = None
        if kind == "hold":
            if item.get("days") is None:
                add_error(errors, f"{path}.days", f"Enter the days to hold. {HOLD_DAYS_MESSAGE}")
            days = _read_integer(
                errors, f"{path}.days", item.get("days"), "hold length", 1, MAX_HOLD_DAYS, "days"
            )
        elif "days" in item and kind in REVISION_KINDS:
            add_error(errors, f"{path}.days", "Days apply only to a hold.")
        if _count(errors) == before and from_date is not None:
            read.append(
                (index, Revision(kind=cast(RevisionKind, kind), from_date=from_date, days=days))
            )
    merge_errors(errors, revision_refusals(read))
    return tuple(revision for _, revision in read) if len(read) == len(value) else ()


def _read_pace(errors: Errors, value: object, protocol: OralProtocol | None) -> Pace:
    if value is None or value == "standard":
        return Pace()
    if value == "slower":
        return Pace(name="slower")
    if not isinstance(value, Mapping):
        add_error(
            errors,
            "pace",
            'The pace must be "standard", "slower" or an object with length_days, '
            "step_days or shape.",
        )
        return Pace()
    _reject_unknown_fields(
        errors, "pace", value, ("length_days", "step_days", "shape", "percent_per_step")
    )
    max_days = protocol.max_taper_length_days.value if protocol else 365
    min_step = protocol.min_step_interval_days.value if protocol else 2
    # 0 days is "stop now": an abrupt stop with no further doses (length_refusals).
    length = _read_integer(
        errors, "pace.length_days", value.get("length_days"), "taper length", 0, max_days, "days"
    )
    percent = _read_number(
        errors,
        "pace.percent_per_step",
        value.get("percent_per_step"),
        "percentage per step",
        "%",
        low=Decimal(0),
        high=Decimal(100),
    )
    step = _read_integer(
        errors,
        "pace.step_days",
        value.get("step_days"),
        "step interval",
        min_step,
        max_days,
        "days",
    )
    shape = value.get("shape")
    if shape is not None and shape not in ("linear", "proportional"):
        add_error(errors, "pace.shape", 'The shape must be "linear" or "proportional".')
        shape = None
    return Pace(
        name="custom",
        length_days=length,
        step_days=step,
        shape=cast(Literal["linear", "proportional"] | None, shape),
        percent_per_step=percent,
    )


def _read_patient(
    errors: Errors, value: object, protocol: Protocol | None, *, needs_months_on_therapy: bool
) -> Patient | None:
    if value is None:
        add_error(errors, "patient", "Enter the patient's details (at least age_years).")
        return None
    if not isinstance(value, Mapping):
        add_error(errors, "patient", 'The patient must be an object such as {"age_years": 54}.')
        return None
    _reject_unknown_fields(errors, "patient", value, PATIENT_FIELDS)
    before = _count(errors)

    def number(field: str, fact: limits.FactRange) -> Decimal | None:
        return _read_number(
            errors,
            f"patient.{field}",
            value.get(field),
            fact.what,
            fact.unit,
            low=fact.low,
            high=fact.high,
        )

    age = number("age_years", limits.AGE_YEARS)
    if value.get("age_years") is None:
        add_error(errors, "patient.age_years", "Enter the patient's age in years.")
    weight = number("weight_kg", limits.WEIGHT_KG)
    sex = value.get("sex")
    if sex is not None and sex not in ("female", "male"):
        add_error(
            errors, "patient.sex", 'Sex must be "female" or "male" (used for Cockcroft–Gault).'
        )
        sex = None
    crcl = number("creatinine_clearance_ml_min", limits.CREATININE_CLEARANCE_ML_MIN)
    scr_mg = number("serum_creatinine_mg_dl", limits.SERUM_CREATININE_MG_DL)
    scr_umol = number("serum_creatinine_umol_l", limits.SERUM_CREATININE_UMOL_L)
    months = number("months_on_therapy", limits.MONTHS_ON_THERAPY)
    if needs_months_on_therapy and value.get("months_on_therapy") is None:
        add_error(
            errors,
            "patient.months_on_therapy",
            "Enter how many months the patient has taken this medicine: "
            "long use needs a longer taper.",
        )
    trimester = _read_integer(
        errors,
        "patient.pregnancy_trimester",
        value.get("pregnancy_trimester"),
        "pregnancy trimester (0 for not pregnant)",
        0,
        3,
        "",
    )
    for refusal in limits.pregnancy_refusals(trimester=trimester, sex=sex, age_years=age):
        add_error(errors, "patient.pregnancy_trimester", refusal)
    breastfeeding = _read_boolean(errors, "patient.breastfeeding", value.get("breastfeeding"))
    seizures = _read_boolean(errors, "patient.seizure_history", value.get("seizure_history"))
    depressants = _read_depressants(errors, value.get("cns_depressants"), protocol)
    height = number("height_cm", limits.HEIGHT_CM)
    dialysis = _read_boolean(errors, "patient.dialysis", value.get("dialysis"))
    delivery = _read_date(
        errors,
        "patient.expected_delivery_date",
        value.get("expected_delivery_date"),
        required=False,
    )

    given = [field for field in CREATININE_FIELDS if value.get(field) is not None]
    for field in given[1:]:
        add_error(
            errors,
            f"patient.{field}",
            "Give only one of creatinine_clearance_ml_min, serum_creatinine_mg_dl and "
            "serum_creatinine_umol_l.",
        )
    adult_age = protocol.risks.adult_age_years.value if protocol else 18
    child = age is not None and age < adult_age
    if len(given) == 1 and given[0] != "creatinine_clearance_ml_min" and child:
        if height is None:
            add_error(errors, "patient.height_cm", schwartz_message(adult_age))
    elif len(given) == 1 and given[0] != "creatinine_clearance_ml_min":
        missing = [
            name
            for name, known in (("age_years", age), ("weight_kg", weight), ("sex", sex))
            if known is None
        ]
        if missing:
            add_error(
                errors,
                f"patient.{given[0]}",
                "Cockcroft–Gault needs the patient's age, weight and sex; enter "
                f"{', '.join(missing)}.",
            )
    if _count(errors) != before:
        return None
    return Patient(
        age_years=age,
        weight_kg=weight,
        sex=cast(Literal["female", "male"] | None, sex),
        creatinine_clearance_ml_min=crcl,
        serum_creatinine_mg_dl=scr_mg,
        serum_creatinine_umol_l=scr_umol,
        months_on_therapy=months,
        pregnancy_trimester=trimester or 0,
        breastfeeding=bool(breastfeeding),
        seizure_history=bool(seizures),
        cns_depressants=depressants,
        height_cm=height,
        dialysis=bool(dialysis),
        expected_delivery_date=delivery,
    )


def _read_depressants(errors: Errors, value: object, protocol: Protocol | None) -> tuple[str, ...]:
    path = "patient.cns_depressants"
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or len(value) > MAX_LIST_ITEMS:
        add_error(errors, path, 'CNS depressants must be a list such as ["opioid", "alcohol"].')
        return ()
    known = protocol.risks.cns_depressants.value if protocol else None
    found: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or (known is not None and item not in known):
            choices = ", ".join(known) if known else "the protocol's list"
            add_error(errors, f"{path}.{index}", f"Unknown CNS depressant; choose from {choices}.")
        elif item not in found:
            found.append(item)
    return tuple(found)


def _read_pump(
    errors: Errors, value: object, product: Product | None, protocol: IntrathecalProtocol | None
) -> PumpSettings | None:
    if value is None:
        add_error(errors, "pump", "Enter the pump settings.")
        return None
    if not isinstance(value, Mapping):
        add_error(errors, "pump", "The pump settings must be an object.")
        return None
    _reject_unknown_fields(errors, "pump", value, PUMP_FIELDS)
    before = _count(errors)
    huge = Decimal(HUGE_INTEGER)
    concentration = _read_number(
        errors,
        "pump.concentration_mcg_per_ml",
        value.get("concentration_mcg_per_ml"),
        "concentration",
        "mcg/mL",
        required=True,
    )
    known = product.strength_amounts if product is not None else None
    if concentration is not None and known is not None and concentration not in known:
        choices = ", ".join(format_amount(amount) for amount in known)
        add_error(
            errors,
            "pump.concentration_mcg_per_ml",
            f"{format_amount(concentration)} mcg/mL is not a concentration of "
            f"{product.name if product else 'this product'}; choose {choices} mcg/mL.",
        )
    max_dose = protocol.implausible_daily_dose_mcg.value if protocol else huge
    max_volume = protocol.max_reservoir_ml.value if protocol else huge
    dose = _read_number(
        errors,
        "pump.daily_dose_mcg",
        value.get("daily_dose_mcg"),
        "daily dose",
        "mcg",
        required=True,
        high=max_dose,
    )
    reservoir = _read_number(
        errors,
        "pump.reservoir_ml",
        value.get("reservoir_ml"),
        "reservoir volume",
        "mL",
        required=True,
        high=max_volume,
    )
    alarm = _read_number(
        errors,
        "pump.alarm_volume_ml",
        value.get("alarm_volume_ml"),
        "alarm volume",
        "mL",
        required=True,
        high=max_volume,
    )
    refilled = _read_date(
        errors, "pump.last_refill_date", value.get("last_refill_date"), required=True
    )
    wean_steps = _read_wean_steps(
        errors, value.get("wean_steps"), protocol, max_dose, max_volume
    )
    if _count(errors) != before:
        return None
    assert concentration is not None
    assert dose is not None
    assert reservoir is not None
    assert alarm is not None
    assert refilled is not None
    return PumpSettings(
        concentration_mcg_per_ml=concentration,
        daily_dose_mcg=dose,
        reservoir_ml=reservoir,
        alarm_volume_ml=alarm,
        last_refill_date=refilled,
        wean_steps=wean_steps,
    )


def _read_wean_steps(
    errors: Errors,
    value: object,
    protocol: IntrathecalProtocol | None,
    max_dose: Decimal,
    max_volume: Decimal,
) -> tuple[WeanStep, ...]:
    path = "pump.wean_steps"
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        add_error(
            errors,
            path,
            "Wean steps must be a list of {visit_date, daily_dose_mcg, refilled, "
            "refill_volume_ml}.",
        )
        return ()
    limit = min(protocol.max_wean_steps.value if protocol else MAX_LIST_ITEMS, MAX_LIST_ITEMS)
    if len(value) > limit:
        add_error(errors, path, f"Enter at most {limit} wean steps.")
        return ()
    steps = []
    for index, item in enumerate(value):
        item_path = f"{path}.{index}"
        if not isinstance(item, Mapping):
            add_error(
                errors,
                item_path,
                "Each wean step must be an object with visit_date and daily_dose_mcg.",
            )
            continue
        _reject_unknown_fields(errors, item_path, item, WEAN_STEP_FIELDS)
        visit = _read_date(errors, f"{item_path}.visit_date", item.get("visit_date"), required=True)
        dose = _read_number(
            errors,
            f"{item_path}.daily_dose_mcg",
            item.get("daily_dose_mcg"),
            "daily dose",
            "mcg",
            required=True,
            high=max_dose,
        )
        refilled = item.get("refilled", False)
        if not isinstance(refilled, bool):
            add_error(errors, f"{item_path}.refilled", "Refilled must be true or false.")
            refilled = False
        volume = _read_number(
            errors,
            f"{item_path}.refill_volume_ml",
            item.get("refill_volume_ml"),
            "refill volume",
            "mL",
            required=refilled,
            high=max_volume,
        )
        if volume is not None and not refilled:
            add_error(
                errors,
                f"{item_path}.refill_volume_ml",
                "A refill volume goes with refilled: true; this visit only reprograms the pump.",
            )
        if visit is not None and dose is not None:
            steps.append(
                WeanStep(
                    visit_date=visit,
                    daily_dose_mcg=dose,
                    refilled=refilled,
                    refill_volume_ml=volume if refilled else None,
                )
            )
    return tuple(steps)


# --- Values ------------------------------------------------------------------------


def _read_number(
    errors: Errors,
    path: str,
    value: object,
    what: str,
    unit: str,
    *,
    required: bool = False,
    low: Decimal | None = None,
    high: Decimal | None = None,
) -> Decimal | None:
    """A finite JSON number (bool is not a number). Without `low`, it must be above 0."""
    if value is None:
        if required:
            add_error(errors, path, f"Enter the {what}.")
        return None
    number = _as_decimal(value)
    if number is None:
        add_error(errors, path, f"The {what} must be a number.")
        return None
    unit_text = f" {unit}" if unit else ""
    if abs(number) > HUGE_INTEGER:
        # _as_decimal caps such numbers; quoting the cap back would name a number
        # the user never typed.
        add_error(errors, path, f"The {what} is far too large to be real; check it.")
        return None
    if low is None and number <= 0:
        add_error(errors, path, f"The {what} must be more than 0{unit_text}.")
        return None
    if (low is not None and number < low) or (high is not None and number > high):
        if low is not None and high is not None:
            bounds = f"from {format_amount(low)} to {format_amount(high)}{unit_text}"
        elif high is not None:
            bounds = f"at most {format_amount(high)}{unit_text}"
        else:
            bounds = f"at least {format_amount(low or Decimal(0))}{unit_text}"
        add_error(errors, path, f"The {what} must be {bounds}.")
        return None
    return number


def _as_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) > HUGE_INTEGER:
            return Decimal(HUGE_INTEGER + 1) * (1 if value > 0 else -1)
        return Decimal(value)
    if isinstance(value, float):
        # repr() gives the shortest decimal that round-trips: 0.1 stays 0.1, not 0.1000…0555.
        return _as_decimal(Decimal(repr(value))) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if abs(value) > HUGE_INTEGER:
            return Decimal(HUGE_INTEGER + 1) * (1 if value > 0 else -1)
        # A millionth of a unit is finer than anything measurable; it also keeps a
        # hostile 1E-999999 from turning into a million-digit error message.
        rounded = value.quantize(MICRO)
        return rounded if rounded != value else value
    return None


def _read_integer(
    errors: Errors, path: str, value: object, what: str, low: int, high: int, unit: str
) -> int | None:
    if value is None:
        return None
    number = _as_decimal(value)
    unit_text = f" {unit}" if unit else ""
    if number is None or number != number.to_integral_value():
        add_error(errors, path, f"The {what} must be a whole number.")
        return None
    if not low <= number <= high:
        add_error(errors, path, f"The {what} must be from {low} to {high}{unit_text}.")
        return None
    return int(number)


def _read_boolean(errors: Errors, path: str, value: object) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        add_error(errors, path, "Must be true or false.")
        return None
    return value


def _read_text(errors: Errors, path: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        add_error(errors, path, "Must be a short text describing the reason.")
        return None
    if len(value) > MAX_REASON_CHARS:
        add_error(errors, path, f"Keep it under {MAX_REASON_CHARS} characters.")
        return None
    return value.strip()


def _read_date(errors: Errors, path: str, value: object, *, required: bool) -> date | None:
    if value is None:
        if required:
            add_error(errors, path, "Enter a date as YYYY-MM-DD.")
        return None
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        add_error(errors, path, "Enter a date as YYYY-MM-DD.")
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        add_error(errors, path, f"{value} is not a real date.")
        return None
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        add_error(errors, path, f"Enter a date between {EARLIEST_DATE} and {LATEST_DATE}.")
        return None
    return parsed


def _read_clock_time(errors: Errors, path: str, value: object) -> time | None:
    if value is None:
        add_error(errors, path, "Enter the dose time as HH:MM, for example 08:00.")
        return None
    match = _HH_MM.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        add_error(
            errors, path, "Enter the dose time as HH:MM on a 24-hour clock, for example 08:00."
        )
        return None
    return time(int(match.group(1)), int(match.group(2)))


# --- Error bookkeeping -------------------------------------------------------------


def _count(errors: Errors) -> int:
    return sum(len(messages) for messages in errors.values())


def _has_errors_under(errors: Errors, prefix: str) -> bool:
    return any(path == prefix or path.startswith(prefix + ".") for path in errors)


def _reject_unknown_fields(
    errors: Errors, prefix: str, data: Mapping[str, object], known: tuple[str, ...]
) -> None:
    for key in data:
        if key in known:
            continue
        name = key if isinstance(key, str) else repr(key)
        if len(name) > 40:
            name = name[:40] + "…"
        path = f"{prefix}.{name}" if prefix else name
        add_error(errors, path, f'Unknown field "{name}".')
