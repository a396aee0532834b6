"""The engine's patient-facing sentences in the active language (the patient's).

The engine (taper/, no Django) stores English sentences in a plan's JSON next to the
structured facts they are made of: each missed-dose rule's `text` next to its `time`,
`take_until` and `take_until_next_day`; each pharmacy line's `wording` next to its
strength, quantity and packs. The JSON keeps the English (docs/plan-json.md); the pages
a patient reads (the handout, the portal) write the sentence again from the facts with
gettext, so that a Spanish-speaking patient reads Spanish. The English msgids repeat the
engine's sentences word for word (tests/planner/test_patient_words.py checks it), so an
English page reads exactly as before.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from planner.display import full_date, mg
from planner.medicines import drug_label
from taper.catalogue import Product
from taper.dispensing import OrderLine, PharmacyOrder
from taper.dispensing import number_in_words as english_number_in_words
from taper.rounding import format_amount


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def missed_dose_text(
    rule: Mapping[str, Any], rules: Sequence[Mapping[str, Any]], last_day: dt.date | None = None
) -> str:
    """One missed-dose rule of a list (a step's, or the plan's), in the active language.
    The dose to take "as usual" is the list's next dose time (the first one's, the next
    day, after the last), as the engine names it (taper.missed_dose). ``last_day``: the
    rule is the last dosing day's last dose, which has no next dose."""
    time, until = rule["time"], rule["take_until"]
    values = {"time": time, "until": until}
    if last_day is not None:
        values["day"] = full_date(last_day)
        if rule.get("take_until_next_day"):
            return _(
                "If you miss the %(time)s dose on %(day)s, the last day of the plan, take it "
                "as soon as you remember, up to %(until)s the next day. After %(until)s, skip "
                "it: the plan has no more doses. Never take two doses at once."
            ) % values
        return _(
            "If you miss the %(time)s dose on %(day)s, the last day of the plan, take it as "
            "soon as you remember, up to %(until)s. After %(until)s, skip it: the plan has no "
            "more doses. Never take two doses at once."
        ) % values
    times = sorted(str(other["time"]) for other in rules) or [time]
    index = times.index(time) if time in times else len(times) - 1
    next_time = times[(index + 1) % len(times)]
    values["next"] = next_time
    if rule.get("take_until_next_day"):
        return _(
            "If you miss the %(time)s dose, take it as soon as you remember, up to %(until)s "
            "the next day. After %(until)s, skip it and take the %(next)s dose as usual. "
            "Never take two doses at once."
        ) % values
    if _minutes(next_time) <= _minutes(time):
        return _(
            "If you miss the %(time)s dose, take it as soon as you remember, up to %(until)s. "
            "After %(until)s, skip it and take the %(next)s dose the next day as usual. Never "
            "take two doses at once."
        ) % values
    return _(
        "If you miss the %(time)s dose, take it as soon as you remember, up to %(until)s. "
        "After %(until)s, skip it and take the %(next)s dose as usual. Never take two doses "
        "at once."
    ) % values


def missed_dose_rules(
    rules: Sequence[Mapping[str, Any]], last_day: dt.date | None = None
) -> list[dict[str, Any]]:
    """A list of rules with each `text` in the active language (the other keys as stored).
    With ``last_day``, the list is the last dosing day's: its last rule names no next dose."""
    ordered = sorted(rules, key=lambda rule: str(rule["time"]))
    last = ordered[-1] if ordered else None
    return [
        {
            **rule,
            "text": missed_dose_text(
                rule, rules, last_day if last_day is not None and rule is last else None
            ),
        }
        for rule in rules
    ]


def missed_dose_groups(groups: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """planner.plan_reads.missed_dose_by_step's groups, each rule's text translated."""
    return [{**group, "rules": missed_dose_rules(group["rules"])} for group in groups]


# --- the pharmacy's lines --------------------------------------------------------------

_SPANISH_ONES = (
    "cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez",
    "once", "doce", "trece", "catorce", "quince", "dieciséis", "diecisiete", "dieciocho",
    "diecinueve", "veinte", "veintiuno", "veintidós", "veintitrés", "veinticuatro",
    "veinticinco", "veintiséis", "veintisiete", "veintiocho", "veintinueve",
)
_SPANISH_TENS = (
    "", "", "", "treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa",
)
_SPANISH_HUNDREDS = (
    "", "ciento", "doscientos", "trescientos", "cuatrocientos", "quinientos", "seiscientos",
    "setecientos", "ochocientos", "novecientos",
)


def _spanish_below_thousand(n: int) -> str:
    if n == 100:
        return "cien"
    parts = []
    if n >= 100:
        parts.append(_SPANISH_HUNDREDS[n // 100])
        n %= 100
    if n >= 30:
        parts.append(_SPANISH_TENS[n // 10] + (f" y {_SPANISH_ONES[n % 10]}" if n % 10 else ""))
    elif n or not parts:
        parts.append(_SPANISH_ONES[n])
    return " ".join(parts)


def number_in_words(amount: Decimal) -> str:
    """A whole quantity in words, as a prescription writes it, in the active language:
    "ninety", "noventa"; other amounts as digits (taper.dispensing.number_in_words)."""
    if not (get_language() or "en").startswith("es"):
        return english_number_in_words(amount)
    if amount != amount.to_integral_value() or not 0 <= amount < 10000:
        return format_amount(amount)
    n = int(amount)
    thousands, rest = divmod(n, 1000)
    parts = []
    if thousands:
        parts.append("mil" if thousands == 1 else f"{_SPANISH_ONES[thousands]} mil")
    if rest or not parts:
        parts.append(_spanish_below_thousand(rest))
    return " ".join(parts)


def _packs(packs: Sequence[tuple[Decimal, int]], unit: str) -> str:
    suffix = " mL" if unit == "mL" else ""
    return " + ".join(f"{n} × {format_amount(size)}{suffix}" for size, n in packs)


_LIQUID_NAME = re.compile(r"^(?P<drug>\w+) oral (?P<kind>solution|suspension) (?P<strength>.+)$")


def liquid_name(product: Product) -> str:
    """A liquid's catalogue name ("Baclofen oral solution 5 mg/5 mL") in the active
    language, with the drug as a sentence names it; a name of another shape as it is."""
    match = _LIQUID_NAME.match(product.name)
    if match is None:
        return product.name
    values = {"drug": drug_label(product.drug), "strength": match["strength"]}
    if match["kind"] == "suspension":
        return _("%(drug)s oral suspension %(strength)s") % values
    return _("%(drug)s oral solution %(strength)s") % values


def pharmacy_line_text(product: Product, line: OrderLine, order: PharmacyOrder) -> str:
    """One line of what the pharmacy fills (taper.dispensing's `wording`), in the active
    language: the same facts, the same order."""
    quantity = format_amount(line.quantity)
    words = number_in_words(line.quantity)
    if line.strength_mg is None:
        what = capfirst(liquid_name(product))
        amount = _("%(quantity)s mL (%(words)s millilitres)") % {
            "quantity": quantity, "words": words,
        }  # fmt: skip
    else:
        values = {
            "drug": drug_label(product.drug),
            "strength": format_amount(line.strength_mg),
            "quantity": quantity,
            "words": words,
        }
        if product.form == "capsule":
            what = capfirst(_("%(drug)s %(strength)s mg capsules") % values)
            amount = _("%(quantity)s (%(words)s) capsules") % values
        else:
            what = capfirst(_("%(drug)s %(strength)s mg tablets") % values)
            amount = _("%(quantity)s (%(words)s) tablets") % values
    if line.packs:
        values = {"packs": _packs(line.packs, line.unit), "needed": format_amount(line.needed)}
        if line.unit == "mL":
            filled = _(" as %(packs)s (bottles of the catalogue; %(needed)s needed)") % values
        else:
            filled = _(" as %(packs)s (packs of the catalogue; %(needed)s needed)") % values
    else:
        filled = _(" (exact quantity: the catalogue lists no pack size)")
    return _(
        "%(what)s. Dispense %(amount)s%(filled)s. Sig: take as the attached taper schedule "
        "directs, %(from)s to %(to)s; do not stop suddenly. No refills."
    ) % {
        "what": what,
        "amount": amount,
        "filled": filled,
        "from": order.from_date.isoformat(),
        "to": order.to_date.isoformat(),
    }


# The catalogue's storage texts (taper/products/*.toml `storage`) in the patient's
# words; a text not listed here reads as the catalogue gives it.
STORAGE: dict[str, Promise] = {
    "25°C (77°F); excursions permitted to 15°C to 30°C (59°F to 86°F)": gettext_lazy(
        "25°C (77°F); excursions permitted to 15°C to 30°C (59°F to 86°F)"
    ),
    "25°C (77°F); excursions permitted between 15°C and 30°C (59°F and 86°F)": gettext_lazy(
        "25°C (77°F); excursions permitted between 15°C and 30°C (59°F and 86°F)"
    ),
    "refrigerated, 2°C to 8°C (36°F to 46°F)": gettext_lazy(
        "refrigerated, 2°C to 8°C (36°F to 46°F)"
    ),
}


def storage_text(storage: str | None) -> str:
    if not storage:
        return ""
    words = STORAGE.get(storage)
    return str(words) if words is not None else storage


def pharmacy_words(product: Product | None, order: PharmacyOrder | None) -> dict[str, Any] | None:
    """The handout's "Your medicine from the pharmacy": each line and the storage, in the
    active language."""
    if order is None or product is None:
        return None
    return {
        "lines": [
            {"line": line, "wording": pharmacy_line_text(product, line, order)}
            for line in order.lines
        ],
        "storage": storage_text(order.storage),
    }


# --- what a revision changed, for the patient's "your plan has changed" message ---------


def _days(step: Mapping[str, Any]) -> int:
    start = dt.date.fromisoformat(step["start_date"])
    return (dt.date.fromisoformat(step["end_date"]) - start).days + 1


def revision_change_facts(
    previous_output: Mapping[str, Any], output: Mapping[str, Any], engine_input: Mapping[str, Any]
) -> dict[str, Any]:
    """What the newest revision of a plan's input changed, as a code and numbers (the
    engine's REVISED flag says it in English, for the clinician): stored in the
    patient's reminder so that the message is written in the patient's language when it
    is sent. ``previous_output``: the plan as it stood before (the version in force)."""
    revisions = engine_input.get("revisions") or []
    if not revisions:
        return {}
    last = revisions[-1]
    day = dt.date.fromisoformat(last["from_date"])
    if last["kind"] == "slow_down":
        return {"change_kind": "slow_down"}
    before = previous_output.get("steps") or []
    steps = output.get("steps") or []
    if not steps:
        return {}
    if before and day > dt.date.fromisoformat(before[-1]["end_date"]):
        # After the last dosing day: the last level again, then stop (taper.revise).
        final = steps[-1]
        return {"change_kind": "after_end", "change_mg": str(final["daily_total_mg"]),
                "change_days": _days(final)}  # fmt: skip
    step = next(
        (s for s in steps
         if dt.date.fromisoformat(s["start_date"]) <= day <= dt.date.fromisoformat(s["end_date"])),
        None,
    )  # fmt: skip
    if step is None:
        return {}
    if last["kind"] == "hold":
        return {"change_kind": "hold", "change_mg": str(step["daily_total_mg"]),
                "change_days": int(last.get("days") or 0)}  # fmt: skip
    if last["kind"] == "step_back":
        return {"change_kind": "step_back", "change_mg": str(step["daily_total_mg"]),
                "change_days": _days(step)}  # fmt: skip
    return {}


def revision_change_text(facts: Mapping[str, Any]) -> str | None:
    """The change in the patient's words and language, from revision_change_facts (or
    "replacement_cancelled"); None for a reminder stored without them (its English
    `change` is used as it is)."""
    kind = facts.get("change_kind")
    days = int(facts.get("change_days") or 0)
    values = {"mg": mg(facts.get("change_mg") or 0), "days": days}
    if kind == "hold":
        return ngettext(
            "you stay on %(mg)s mg a day for %(days)s more day; the later steps move that "
            "much later",
            "you stay on %(mg)s mg a day for %(days)s more days; the later steps move that "
            "much later",
            days,
        ) % values
    if kind == "step_back":
        return ngettext(
            "you go back to %(mg)s mg a day for %(days)s day, then go on lowering your dose "
            "from there",
            "you go back to %(mg)s mg a day for %(days)s days, then go on lowering your dose "
            "from there",
            days,
        ) % values
    if kind == "after_end":
        return ngettext(
            "you take %(mg)s mg a day again for %(days)s day, then stop",
            "you take %(mg)s mg a day again for %(days)s days, then stop",
            days,
        ) % values
    if kind == "slow_down":
        return _("the rest of your plan goes more slowly, at the same doses")
    if kind == "replacement_cancelled":
        return _(
            "the new plan that was to start then is cancelled; keep taking your current "
            "plan as it is"
        )
    return None
