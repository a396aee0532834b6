"""Translation between the clinician's forms and the taper engine's input names
(docs/plan-json.md): one place, used by the form, the services and the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import taper
from planner.models import Patient
from taper.rounding import format_amount

PATIENT_FACT_LABELS = {
    "age_years": "age (from the date of birth)",
    "weight_kg": "weight",
    "sex": "sex",
    "creatinine_clearance_ml_min": "creatinine clearance",
    "serum_creatinine_mg_dl": "serum creatinine",
    "pregnancy_trimester": "pregnancy",
    "cns_depressants": "other CNS depressants",
    "height_cm": "height",
    "dialysis": "dialysis",
    "expected_delivery_date": "expected delivery date",
}


# Wean-visit rows of the plan form (planner.forms.WEAN_ROWS).
WEAN_FORM_ROWS = 12


def tablet_strength_choices(product_id: object = None) -> list[tuple[str, str]]:
    """The strengths of a tablet or capsule product, smallest first (none for a liquid or
    a pump); without a product, every strength of the catalogue's solid products."""
    product = taper.load_catalogue().product(product_id) if isinstance(product_id, str) else None
    products = [product] if product is not None else list(taper.list_products())
    amounts = sorted({s.amount for p in products if p.is_solid for s in p.strengths})
    return [(format_amount(amount), f"{format_amount(amount)} mg") for amount in amounts]


def product_options(cleaned: dict[str, Any]) -> dict[str, Any] | None:
    """The engine's `product_options` for the form's strengths and splitting, or None when
    the clinician left them as they are (every strength, halves allowed): such a plan's
    input and output stay exactly what they were before the choice existed."""
    chosen = cleaned.get("tablet_strengths") or []
    whole = bool(cleaned.get("whole_tablets_only"))
    fewest = bool(cleaned.get("fewest_strengths"))
    if not chosen and not whole and not fewest:
        return None
    product = taper.load_catalogue().product(cleaned["product"])
    every = [s.amount for s in product.strengths] if product is not None else []
    amounts = [Decimal(value) for value in chosen] or every
    return {
        "strengths_mg": [_number(amount) for amount in sorted(amounts)],
        "allow_halves": not whole,
        "fewest_strengths": fewest,
    }


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _number(value: Decimal | int | None) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return int(value) if value == value.to_integral_value() else float(value)


def patient_facts(patient: Patient, on: dt.date, months_on_therapy: int) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "age_years": age_on(patient.date_of_birth, on),
        "sex": patient.sex,
        "months_on_therapy": months_on_therapy,
        "pregnancy_trimester": patient.pregnancy_trimester,
        "breastfeeding": patient.breastfeeding,
        "seizure_history": patient.seizure_history,
        "cns_depressants": list(patient.cns_depressants),
    }
    if patient.weight_kg is not None:
        facts["weight_kg"] = _number(patient.weight_kg)
    if patient.height_cm is not None:
        facts["height_cm"] = _number(patient.height_cm)
    if patient.dialysis:
        facts["dialysis"] = True
    if patient.expected_delivery_date is not None:
        facts["expected_delivery_date"] = patient.expected_delivery_date.isoformat()
    if patient.creatinine_clearance_ml_min is not None:
        facts["creatinine_clearance_ml_min"] = _number(patient.creatinine_clearance_ml_min)
    elif patient.serum_creatinine_mg_dl is not None:
        facts["serum_creatinine_mg_dl"] = _number(patient.serum_creatinine_mg_dl)
    return facts


def from_plan_form(
    patient: Patient, cleaned: dict[str, Any], dose_rows: int
) -> tuple[dict[str, Any], list[int]]:
    """The engine input for a plan form, and which form row each engine dose came from."""
    start: dt.date = cleaned["start_date"]
    data: dict[str, Any] = {
        "product": cleaned["product"],
        "start_date": start.isoformat(),
        "timezone": patient.home_timezone,
        "patient": patient_facts(patient, start, cleaned["months_on_therapy"]),
    }
    rows: list[int] = []
    if cleaned["product"] == "baclofen-intrathecal":
        pump: dict[str, Any] = {
            "concentration_mcg_per_ml": _number(cleaned.get("pump_concentration_mcg_per_ml")),
            "daily_dose_mcg": _number(cleaned.get("pump_daily_dose_mcg")),
            "reservoir_ml": _number(cleaned.get("pump_reservoir_ml")),
            "alarm_volume_ml": _number(cleaned.get("pump_alarm_volume_ml")),
            "last_refill_date": (
                cleaned["pump_last_refill_date"].isoformat()
                if cleaned.get("pump_last_refill_date")
                else None
            ),
        }
        visits = []
        for row in range(1, WEAN_FORM_ROWS + 1):
            day = cleaned.get(f"wean_date_{row}")
            new_dose = cleaned.get(f"wean_dose_{row}")
            volume = cleaned.get(f"wean_volume_{row}")
            if day is None and new_dose is None and volume is None:
                continue  # an empty row is no visit
            rows.append(row)
            visit: dict[str, Any] = {
                "visit_date": day.isoformat() if day else None,
                "daily_dose_mcg": _number(new_dose),
            }
            if cleaned.get(f"wean_refilled_{row}"):
                visit["refilled"] = True
                visit["refill_volume_ml"] = _number(volume)
            elif volume is not None:
                visit["refill_volume_ml"] = _number(volume)
            visits.append(visit)
        if visits:
            pump["wean_steps"] = visits
        data["pump"] = pump
    else:
        doses = []
        for row in range(1, dose_rows + 1):
            time = cleaned.get(f"dose_time_{row}")
            amount = cleaned.get(f"dose_amount_{row}")
            # A row the clinician emptied or ticked "remove" is gone, whatever else it
            # still holds (a role, a stale amount copied from an earlier plan).
            if (time is None and amount is None) or cleaned.get(f"dose_remove_{row}"):
                continue
            rows.append(row)
            dose: dict[str, Any] = {
                "time": time.strftime("%H:%M") if time else None,
                "amount_mg": _number(amount),
            }
            if cleaned.get(f"dose_role_{row}"):
                dose["role"] = cleaned[f"dose_role_{row}"]
            doses.append(dose)
        data["doses"] = doses
        if cleaned.get("switch_to"):
            data["switch_to"] = cleaned["switch_to"]
        if cleaned["goal"] == "reduce":
            data["goal"] = {
                "type": "reduce",
                "target_daily_mg": _number(cleaned.get("target_daily_mg")),
            }
        else:
            data["goal"] = {"type": "discontinue"}
        options = product_options(cleaned)
        if options is not None:
            data["product_options"] = options
        if cleaned["pace"] == "custom":
            pace: dict[str, Any] = {}
            if cleaned.get("length_days") is not None:
                pace["length_days"] = cleaned["length_days"]
            if cleaned.get("step_days") is not None:
                pace["step_days"] = cleaned["step_days"]
            if cleaned.get("shape"):
                pace["shape"] = cleaned["shape"]
            if cleaned.get("percent_per_step") is not None:
                pace["percent_per_step"] = _number(cleaned["percent_per_step"])
            data["pace"] = pace
        else:
            data["pace"] = cleaned["pace"]
    if cleaned.get("abrupt_stop_reason"):
        data["abrupt_stop_reason"] = cleaned["abrupt_stop_reason"]
    return data, rows


def form_field_for(key: str, rows: list[int]) -> str | None:
    """The plan-form field that an engine error key ("doses.1.time") belongs to."""
    parts = key.split(".")
    head = parts[0]
    if head == "doses":
        if len(parts) >= 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
            row = rows[int(parts[1])]
            field = {"time": "dose_time", "role": "dose_role"}.get(parts[2], "dose_amount")
            return f"{field}_{row}"
        return "dose_time_1"
    if head == "goal":
        return "target_daily_mg" if key == "goal.target_daily_mg" else "goal"
    if head == "pace":
        return {
            "pace.length_days": "length_days",
            "pace.step_days": "step_days",
            "pace.shape": "shape",
            "pace.percent_per_step": "percent_per_step",
        }.get(key, "pace")
    if head == "product_options":
        return "whole_tablets_only" if key.endswith("allow_halves") else "tablet_strengths"
    if head == "pump" and len(parts) == 2:
        return f"pump_{parts[1]}"
    if key.startswith("pump.wean_steps.") and len(parts) >= 4 and parts[2].isdigit():
        # rows lists the form row of each visit, in order, for a pump plan.
        index = int(parts[2])
        row = rows[index] if index < len(rows) else index + 1
        part = {"visit_date": "date", "daily_dose_mcg": "dose", "refilled": "refilled"}
        return f"wean_{part.get(parts[3], 'volume')}_{row}"
    if key.startswith("pump.wean_steps"):
        return "wean_date_1"
    if head in {"product", "start_date", "abrupt_stop_reason", "switch_to"}:
        return head
    # Patient facts and the time zone live on the patient record: a form-wide message.
    return None


def plan_form_initial(engine_input: dict[str, Any]) -> dict[str, Any]:
    """The plan form's initial values for a stored engine input (editing a draft)."""
    initial: dict[str, Any] = {
        "product": engine_input["product"],
        "start_date": dt.date.fromisoformat(engine_input["start_date"]),
        "months_on_therapy": engine_input.get("patient", {}).get("months_on_therapy", 0),
        "abrupt_stop_reason": engine_input.get("abrupt_stop_reason") or "",
        "switch_to": engine_input.get("switch_to") or "",
    }
    for row, dose in enumerate(engine_input.get("doses") or [], start=1):
        initial[f"dose_time_{row}"] = dt.time.fromisoformat(dose["time"])
        initial[f"dose_amount_{row}"] = Decimal(str(dose["amount_mg"]))
        initial[f"dose_role_{row}"] = dose.get("role", "")
    goal = engine_input.get("goal") or {"type": "discontinue"}
    initial["goal"] = goal["type"]
    if goal["type"] == "reduce":
        initial["target_daily_mg"] = Decimal(str(goal["target_daily_mg"]))
    pace = engine_input.get("pace", "standard")
    if isinstance(pace, dict):
        keys = ("length_days", "step_days", "shape", "percent_per_step")
        initial.update(pace="custom", **{k: pace[k] for k in keys if k in pace})
    else:
        initial["pace"] = pace
    options = engine_input.get("product_options")
    if options:
        initial["tablet_strengths"] = [
            format_amount(Decimal(str(mg))) for mg in options.get("strengths_mg") or []
        ]
        initial["whole_tablets_only"] = not options.get("allow_halves", True)
        initial["fewest_strengths"] = bool(options.get("fewest_strengths"))
    pump = engine_input.get("pump")
    if pump:
        for key, value in pump.items():
            if key == "last_refill_date" and value:
                initial["pump_last_refill_date"] = dt.date.fromisoformat(value)
            elif key != "wean_steps" and value is not None:
                initial[f"pump_{key}"] = Decimal(str(value))
        for row, visit in enumerate(pump.get("wean_steps") or [], start=1):
            initial[f"wean_date_{row}"] = dt.date.fromisoformat(visit["visit_date"])
            initial[f"wean_dose_{row}"] = Decimal(str(visit["daily_dose_mcg"]))
            initial[f"wean_refilled_{row}"] = bool(visit.get("refilled"))
            if visit.get("refill_volume_ml") is not None:
                initial[f"wean_volume_{row}"] = Decimal(str(visit["refill_volume_ml"]))
    return initial
