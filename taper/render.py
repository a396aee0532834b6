"""A plan as JSON-ready data (docs/plan-json.md) and as a readable text table."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from taper.catalogue import Catalogue, Product, load_catalogue
from taper.flags import Flag
from taper.levels import cuts_mg
from taper.missed_dose import MissedDoseGuidance
from taper.plan import TaperPlan
from taper.revise import revision_json
from taper.rounding import LiquidSupply, LiquidVolume, format_amount
from taper.schedule import DoseEvent, ScheduledDose, Step

CRCL_METHOD_TEXT = {
    "entered": "entered",
    "cockcroft-gault": "Cockcroft–Gault",
    "bedside-schwartz": "bedside Schwartz",
}
DISCLAIMER = "This plan supports the clinician's judgement; it does not replace it."

# Any, not a recursive JSON type: callers index into it freely (an API view, a test).
JsonObject = dict[str, Any]


def plan_to_json(plan: TaperPlan) -> JsonObject:
    request = plan.request
    goal = request.goal
    data: JsonObject = {
        "protocol": {"id": plan.protocol_id, "version": plan.protocol_version},
        "product": request.product.id,
        "timezone": request.timezone,
        "goal": None
        if goal is None
        else (
            {"type": "reduce", "target_daily_mg": _number(goal.target_daily_mg)}
            if goal.type == "reduce" and goal.target_daily_mg is not None
            else {"type": "discontinue"}
        ),
        "start_date": plan.start_date.isoformat(),
        "end_date": plan.end_date.isoformat(),
        "duration_days": plan.duration_days,
        "required_length_days": plan.required_length_days,
        "step_interval_days": plan.step_interval_days,
        "revisions": [revision_json(revision) for revision in plan.revisions],
        "effective_from": plan.effective_from.isoformat(),
        "steps": [_step_json(step) for step in plan.steps],
        "dose_events": [_event_json(event) for event in plan.dose_events],
        "dispense": [
            _named(
                {"volume_ml": _number(supply.volume_ml)}
                if isinstance(supply, LiquidSupply)
                else {"strength_mg": _number(supply.strength_mg), "count": supply.count},
                supply.product_id,
            )
            for supply in plan.dispense
        ],
        "missed_dose": [_missed_json(guidance) for guidance in plan.missed_dose],
        "flags": [_flag_json(flag) for flag in plan.flags],
        "requires_review": plan.requires_review,
        "creatinine_clearance": None
        if plan.creatinine_clearance is None
        else {
            "value_ml_min": _number(plan.creatinine_clearance.value_ml_min),
            "method": plan.creatinine_clearance.method,
            "weight_kg": _number(plan.creatinine_clearance.weight_kg),
            "weight_basis": plan.creatinine_clearance.weight_basis,
        },
        "abrupt_stop_reason": request.abrupt_stop_reason,
        "disclaimer": DISCLAIMER,
    }
    if plan.equivalence is not None:
        equivalence = plan.equivalence
        data["switch_to"] = equivalence.to_product
        data["equivalence"] = {
            "from_product": equivalence.from_product,
            "to_product": equivalence.to_product,
            "factor": _number(equivalence.factor),
            "source": equivalence.source,
            "range": [_number(value) for value in equivalence.range],
            "range_source": equivalence.range_source,
            "factor_choice": equivalence.factor_choice,
            "table": equivalence.table,
        }
    options = request.product_options
    if options is not None:
        # Only with options, so a plan without them is byte for byte what it was.
        data["product_options"] = {
            "strengths_mg": [_number(amount) for amount in options.strengths_mg],
            "allow_halves": options.allow_halves,
            "fewest_strengths": options.fewest_strengths,
            "strengths_used_mg": [_number(s.amount) for s in request.product.strengths],
            "dose_step_mg": _number(request.product.dose_quantum_mg),
        }
    if plan.pump is None:
        maintenance = plan.maintenance
        data["largest_cut_mg"] = _number(plan.largest_cut_mg)
        data["cuts_mg"] = [_number(cut) for cut in plan_cuts(plan)]
        data["percent_per_step"] = _number(plan.percent_per_step)
        data["maintenance"] = (
            None
            if maintenance is None
            else {
                "daily_total_mg": _number(maintenance.daily_total_mg),
                "doses": [_dose_json(dose) for dose in maintenance.doses],
            }
        )
        data["last_day_missed_dose"] = [_missed_json(g) for g in plan.last_day_missed_dose]
    if plan.pump is not None:
        pump = plan.pump
        data["pump"] = {
            "concentration_mcg_per_ml": _number(pump.concentration_mcg_per_ml),
            "daily_dose_mcg": _number(pump.daily_dose_mcg),
            "reservoir_ml": _number(pump.reservoir_ml),
            "alarm_volume_ml": _number(pump.alarm_volume_ml),
            "last_refill_date": pump.last_refill_date.isoformat(),
            "days_to_alarm": pump.days_to_alarm,
            "days_to_empty": pump.days_to_empty,
        }
        data["refills"] = [
            {
                "filled_on": refill.filled_on.isoformat(),
                "daily_dose_mcg": _number(refill.daily_dose_mcg),
                "alarm_date": refill.alarm_date.isoformat(),
                "empty_date": refill.empty_date.isoformat(),
                "due_date": refill.due_date.isoformat(),
                "volume_ml": _number(refill.volume_ml),
                "concentration_mcg_per_ml": _number(refill.concentration_mcg_per_ml),
                "reminder_dates": [day.isoformat() for day in refill.reminder_dates],
            }
            for refill in plan.refills
        ]
        data["wean_steps"] = [
            {
                "visit_date": step.visit_date.isoformat(),
                "daily_dose_mcg": _number(step.daily_dose_mcg),
                "refilled": step.refilled,
                "refill_volume_ml": _number(step.refill_volume_ml),
            }
            for step in plan.wean_steps
        ]
    return data


def plan_to_text(plan: TaperPlan) -> str:
    lines = _header(plan)
    equivalence = plan.equivalence
    if equivalence is not None:
        low, high = equivalence.range
        lines.append(
            f"Switch to {equivalence.to_product} at {format_amount(equivalence.factor)} mg per "
            f"mg (recorded range {format_amount(low)}–{format_amount(high)}; table "
            f"{equivalence.table}); daily totals are in mg of the drug switched to."
        )
    if plan.pump is not None:
        lines += _pump_text(plan)
    else:
        lines += _steps_text(plan)
    lines += ["", "Flags"]
    if plan.flags:
        for flag in plan.flags:
            lines.append(f"  [{flag.severity.upper()}] {flag.code}: {flag.message}")
            lines.append(f"      Source: {flag.source}")
    else:
        lines.append("  none")
    review = "REQUIRED before the plan can start" if plan.requires_review else "not required"
    lines += ["", f"Reviewer approval: {review}.", "", DISCLAIMER]
    return "\n".join(lines) + "\n"


def catalogue_to_text(catalogue: Catalogue | None = None) -> str:
    """The products a plan can use, one line each, for `--list-products`."""
    catalogue = catalogue or load_catalogue()
    products = catalogue.products
    width = max(len(product.id) for product in products)
    return (
        "\n".join(
            f"{product.id:<{width}}  {_product_summary(product)}; protocol "
            f"{_protocol_name(catalogue, product)}"
            for product in products
        )
        + "\n"
    )


def _protocol_name(catalogue: Catalogue, product: Product) -> str:
    protocol = catalogue.protocol_for(product)
    return f"{protocol.id} version {protocol.version}"


# --- JSON pieces -------------------------------------------------------------------


def _number(value: Decimal | None) -> int | float | None:
    """Whole numbers as JSON integers, others as decimals (2.5, not 2.50 or 2.5000001)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _clock(value: time) -> str:
    return f"{value:%H:%M}"


def plan_cuts(plan: TaperPlan) -> tuple[Decimal, ...]:
    """Every cut of an oral plan in mg a day, the stop to zero included (discontinue)."""
    goal = plan.request.goal
    return cuts_mg(
        plan.starting_daily_mg,
        [step.daily_total_mg for step in plan.steps],
        to_zero=goal is None or goal.type == "discontinue",
    )


def _named(data: JsonObject, product_id: str | None) -> JsonObject:
    """A switch plan names the product of each dose, event and supply."""
    return data if product_id is None else {"product": product_id, **data}


def _dose_json(dose: ScheduledDose) -> JsonObject:
    return _named(dose_fields(dose), dose.product_id)


def dose_fields(dose: ScheduledDose) -> JsonObject:
    return {
        "time": _clock(dose.time),
        "role": dose.role,
        "amount_mg": _number(dose.amount_mg),
        "units": [
            {"volume_ml": _number(unit.volume_ml)}
            if isinstance(unit, LiquidVolume)
            else {"strength_mg": _number(unit.strength_mg), "count": _number(unit.count)}
            for unit in dose.units
        ],
        "units_text": dose.units_text,
    }


def _step_json(step: Step) -> JsonObject:
    return {
        "start_date": step.start_date.isoformat(),
        "end_date": step.end_date.isoformat(),
        "daily_total_mg": _number(step.daily_total_mg),
        "doses": [_dose_json(dose) for dose in step.doses],
        "missed_dose": [_missed_json(guidance) for guidance in step.missed_dose],
    }


def _event_json(event: DoseEvent) -> JsonObject:
    return _named(
        {
            "date": event.local_date.isoformat(),
            "time": _clock(event.local_time),
            "role": event.role,
            "amount_mg": _number(event.amount_mg),
            "step": event.step_index,
            "at": _instant(event.at),
            "catch_up_until": _instant(event.catch_up_until),
        },
        event.product_id,
    )


def _instant(value: datetime) -> str:
    return value.isoformat(timespec="minutes")


def _missed_json(guidance: MissedDoseGuidance) -> JsonObject:
    return {
        "time": _clock(guidance.time),
        "take_until": _clock(guidance.take_until),
        "take_until_next_day": guidance.take_until_next_day,
        "text": guidance.text,
    }


def _flag_json(flag: Flag) -> JsonObject:
    return {
        "code": flag.code,
        "severity": flag.severity,
        "message": flag.message,
        "source": flag.source,
    }


# --- Text pieces -------------------------------------------------------------------


def _header(plan: TaperPlan) -> list[str]:
    request = plan.request
    goal = request.goal
    if plan.pump is not None:
        title = f"{request.product.name}: refills and clinician wean visits"
    elif goal is not None and goal.type == "reduce" and goal.target_daily_mg is not None:
        title = (
            f"{request.product.name}: reduce from {format_amount(request.daily_total_mg)} to "
            f"{format_amount(goal.target_daily_mg)} mg a day over {_days(plan.duration_days)}"
        )
    elif not plan.steps:
        title = (
            f"{request.product.name}: stop {format_amount(request.daily_total_mg)} mg a day now, "
            "with no further doses (an abrupt stop)"
        )
    else:
        title = (
            f"{request.product.name}: stop from {format_amount(request.daily_total_mg)} mg a day "
            f"over {_days(plan.duration_days)}"
        )
    lines = [
        title,
        f"Protocol {plan.protocol_id} version {plan.protocol_version}. "
        f"Times are {request.timezone} wall-clock times.",
        f"From {_day(plan.start_date)} to {_day(plan.end_date)}.",
    ]
    if plan.pump is None and plan.steps:
        lines.append(
            f"Length {_days(plan.duration_days)} (protocol for this patient: at least "
            f"{plan.required_length_days}); a step every {_days(plan.step_interval_days or 0)}."
        )
    elif plan.pump is None:
        lines.append(
            f"No taper (protocol for this patient: at least {plan.required_length_days} days)."
        )
    crcl = plan.creatinine_clearance
    if crcl is not None:
        method = CRCL_METHOD_TEXT[crcl.method]
        if crcl.weight_kg is not None:
            basis = "adjusted body weight" if crcl.weight_basis == "adjusted" else "actual weight"
            method += f", {basis} {format_amount(crcl.weight_kg)} kg"
        lines.append(f"Creatinine clearance {format_amount(crcl.value_ml_min)} mL/min ({method}).")
    if plan.pump is None and plan.largest_cut_mg is not None:
        cuts = ", ".join(format_amount(cut) for cut in plan_cuts(plan))
        lines.append(
            f"Cuts (mg a day): {cuts or 'none'}; the protocol's largest cut for this patient: "
            f"{format_amount(plan.largest_cut_mg)} mg a day."
        )
    if request.abrupt_stop_reason:
        lines.append(f"Abrupt stop, reason recorded: {request.abrupt_stop_reason}")
    return lines


def _steps_text(plan: TaperPlan) -> list[str]:
    if not plan.steps:
        return ["", f"Stop now: no further doses from {_day(plan.start_date)}."]
    first = plan.steps[0].doses
    times = [dose.time for dose in first]
    request = plan.request
    drug = {p.id: f"{p.drug} " for p in (request.product, request.switch_to) if p is not None}
    header = ["Step", "Dates", "Daily", *(f"{_clock(d.time)} {d.role}" for d in first)]
    rows = [header]
    for step in plan.steps:
        by_time = {dose.time: dose for dose in step.doses}
        cells = [
            f"{drug.get(by_time[t].product_id or '', '')}"
            f"{format_amount(by_time[t].amount_mg)} mg ({by_time[t].units_text})"
            if t in by_time
            else "—"
            for t in times
        ]
        rows.append(
            [
                str(step.index + 1),
                f"{_day(step.start_date)} – {_day(step.end_date)} ({step.days} d)",
                f"{format_amount(step.daily_total_mg)} mg",
                *cells,
            ]
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [""]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    maintenance = plan.maintenance
    if maintenance is not None:
        doses = ", ".join(
            f"{_clock(d.time)} {d.role} {format_amount(d.amount_mg)} mg ({d.units_text})"
            for d in maintenance.doses
        )
        lines.append(
            f"After {_day(plan.end_date)}: stay on {format_amount(maintenance.daily_total_mg)} mg "
            f"a day ({doses}) until the clinician decides otherwise."
        )
    else:
        lines.append(f"After {_day(plan.end_date)}: no more doses.")
    lines += ["", "Missed doses"]
    seen: set[str] = set()
    for step in plan.steps:
        for guidance in step.missed_dose:
            if guidance.text not in seen:
                seen.add(guidance.text)
                note = "" if step.index == 0 else f" (from step {step.index + 1})"
                lines.append(f"  {guidance.text}{note}")
    for guidance in plan.last_day_missed_dose:
        if guidance.text not in seen:
            seen.add(guidance.text)
            lines.append(f"  {guidance.text}")
    lines += ["", "Dispense"]
    for supply in plan.dispense:
        if isinstance(supply, LiquidSupply):
            lines.append(f"  {format_amount(supply.volume_ml)} mL of {plan.request.product.name}")
        else:
            lines.append(
                f"  {supply.count} × {drug.get(supply.product_id or '', '')}"
                f"{format_amount(supply.strength_mg)} mg tablets"
            )
    return lines


def _pump_text(plan: TaperPlan) -> list[str]:
    pump = plan.pump
    assert pump is not None
    lines = [
        "",
        f"Pump: {format_amount(pump.concentration_mcg_per_ml)} mcg/mL, "
        f"{format_amount(pump.daily_dose_mcg)} mcg a day, reservoir "
        f"{format_amount(pump.reservoir_ml)} mL, "
        f"alarm at {format_amount(pump.alarm_volume_ml)} mL, "
        f"last refilled {_day(pump.last_refill_date)}.",
    ]
    if plan.wean_steps:
        lines += ["", "Wean visits (entered by the clinician)"]
        lines += [
            f"  {_day(step.visit_date)}: reprogram to "
            f"{format_amount(step.daily_dose_mcg)} mcg a day"
            + (
                f" and refill {format_amount(step.refill_volume_ml)} mL"
                if step.refilled and step.refill_volume_ml is not None
                else " (no refill)"
            )
            for step in plan.wean_steps
        ]
    lines += ["", "Refills"]
    for refill in plan.refills:
        reminders = ", ".join(_day(day) for day in refill.reminder_dates) or "none"
        lines.append(
            f"  filled {_day(refill.filled_on)} at "
            f"{format_amount(refill.daily_dose_mcg)} mcg a day: "
            f"alarm {_day(refill.alarm_date)}, empty {_day(refill.empty_date)}, "
            f"refill due {_day(refill.due_date)}; "
            f"reminders {reminders}"
        )
    return lines


def _product_summary(product: Product) -> str:
    if product.is_solid:
        strengths = ", ".join(
            format_amount(s.amount) + (" (can be halved)" if s.splittable else "")
            for s in product.strengths
        )
        return (
            f"{product.name}: {strengths} mg; smallest dose "
            f"{format_amount(product.dose_quantum_mg)} mg"
        )
    if product.is_liquid:
        return (
            f"{product.name}: {format_amount(product.concentration_mg_per_ml)} mg/mL; smallest "
            f"measurable {format_amount(product.smallest_measurable or Decimal(0))} mL "
            f"({format_amount(product.dose_quantum_mg)} mg)"
        )
    strengths = ", ".join(
        format_amount(s.amount)
        + (
            f" ({', '.join(x for x in (s.brand, s.ndc and f'NDC {s.ndc}') if x)})"
            if s.brand or s.ndc
            else ""
        )
        for s in product.strengths
    )
    return f"{product.name}: {strengths} mcg/mL"


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def _day(value: date) -> str:
    return value.isoformat()
