"""What a pharmacy can fill: from a given day on (today, for a running plan), each
strength's tablets or capsules, or the liquid's millilitres, rounded up to the pack and
bottle sizes of the product catalogue (taper/products/*.toml `packs`), with the wording
of a prescription and the product's storage.

`rounding.dispense` counts what the doses need (a half left over is used at the next
dose); this module only decides which packs hold it: the smallest total that covers the
need, then the fewest packs. Pack texts the catalogue gives in another shape ("16 fluid
ounce bottle", unit-dose cups) are not used for rounding; without a usable pack size the
exact quantity is dispensed and the order says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Any

from taper.catalogue import Product
from taper.rounding import (
    DoseUnit,
    LiquidSupply,
    LiquidVolume,
    TabletUnits,
    dispense,
    format_amount,
)

# "30 tablets in 1 bottle", "100 capsules in 1 bottle", "473 mL in 1 bottle".
_PACK = re.compile(r"^(\d+(?:\.\d+)?) (tablets|capsules|mL) in 1 (bottle|carton)$")
_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


@dataclass(frozen=True, slots=True)
class OrderLine:
    strength_mg: Decimal | None  # None: the liquid
    needed: Decimal  # whole tablets or capsules, or mL
    unit: str  # "tablets", "capsules" or "mL"
    packs: tuple[tuple[Decimal, int], ...]  # (pack size, how many), largest first
    quantity: Decimal  # what is dispensed: the packs' total, or `needed` without packs
    wording: str

    @property
    def strength_text(self) -> str:
        return "" if self.strength_mg is None else f"{format_amount(self.strength_mg)} mg"

    @property
    def needed_text(self) -> str:
        return f"{format_amount(self.needed)} {self.unit}"

    @property
    def quantity_text(self) -> str:
        """ "60 tablets (2 × 30)", "946 mL (2 × 473 mL)", "45 tablets"."""
        text = f"{format_amount(self.quantity)} {self.unit}"
        return f"{text} ({_packs_text(self.packs, self.unit)})" if self.packs else text


def _packs_text(packs: tuple[tuple[Decimal, int], ...], unit: str) -> str:
    suffix = " mL" if unit == "mL" else ""
    return " + ".join(f"{n} × {format_amount(size)}{suffix}" for size, n in packs)


@dataclass(frozen=True, slots=True)
class PharmacyOrder:
    from_date: date
    to_date: date
    lines: tuple[OrderLine, ...]
    storage: str | None
    packs_source: str | None


def pack_sizes(product: Product) -> tuple[Decimal, ...]:
    """The catalogue's pack sizes in the product's own unit, smallest first."""
    unit = "mL" if product.is_liquid else f"{product.form}s"
    sizes = {
        Decimal(match.group(1))
        for text in product.packs
        if (match := _PACK.match(text)) is not None and match.group(2) == unit
    }
    return tuple(sorted(sizes))


def fewest_packs(needed: Decimal, sizes: tuple[Decimal, ...]) -> tuple[tuple[Decimal, int], ...]:
    """Packs covering `needed`: the smallest total, then the fewest packs."""
    if not sizes or needed <= 0:
        return ()
    whole = [int(size) for size in sizes]
    target = int(needed.to_integral_value(rounding=ROUND_CEILING))
    ceiling = target + max(whole)
    # fewest[t]: the fewest packs totalling exactly t (None: no such total).
    fewest: list[int | None] = [0] + [None] * ceiling
    last: list[int] = [0] * (ceiling + 1)
    for total in range(1, ceiling + 1):
        for size in whole:
            before = fewest[total - size] if size <= total else None
            current = fewest[total]
            if before is not None and (current is None or before + 1 < current):
                fewest[total] = before + 1
                last[total] = size
    total = next(t for t in range(target, ceiling + 1) if fewest[t] is not None)
    counts: dict[int, int] = {}
    while total:
        counts[last[total]] = counts.get(last[total], 0) + 1
        total -= last[total]
    return tuple((Decimal(size), n) for size, n in sorted(counts.items(), reverse=True))


def pharmacy_order(
    product: Product,
    doses: Iterable[tuple[tuple[DoseUnit, ...], int]],
    *,
    from_date: date,
    to_date: date,
) -> PharmacyOrder:
    """The order for doses (units, times taken) from `from_date` to `to_date`."""
    sizes = pack_sizes(product)
    lines = []
    for supply in dispense(product, doses):
        if isinstance(supply, LiquidSupply):
            strength, needed, unit = None, supply.volume_ml, "mL"
        else:
            strength, needed, unit = supply.strength_mg, Decimal(supply.count), f"{product.form}s"
        packs = fewest_packs(needed, sizes)
        quantity = sum((size * n for size, n in packs), Decimal(0)) if packs else needed
        lines.append(
            OrderLine(
                strength_mg=strength,
                needed=needed,
                unit=unit,
                packs=packs,
                quantity=quantity,
                wording=_wording(product, strength, unit, needed, packs, quantity,
                                 from_date, to_date),
            )
        )
    return PharmacyOrder(
        from_date=from_date,
        to_date=to_date,
        lines=tuple(lines),
        storage=product.storage,
        packs_source=product.packs_source if sizes else None,
    )


def _wording(
    product: Product,
    strength: Decimal | None,
    unit: str,
    needed: Decimal,
    packs: tuple[tuple[Decimal, int], ...],
    quantity: Decimal,
    from_date: date,
    to_date: date,
) -> str:
    drug = product.drug.capitalize()
    if strength is None:
        what = f"{product.name}"
        amount = f"{format_amount(quantity)} mL ({number_in_words(quantity)} millilitres)"
    else:
        what = f"{drug} {format_amount(strength)} mg {product.form}s"
        amount = f"{format_amount(quantity)} ({number_in_words(quantity)}) {unit}"
    if packs:
        container = "bottles" if unit == "mL" else "packs"
        held = _packs_text(packs, unit)
        filled = f" as {held} ({container} of the catalogue; {format_amount(needed)} needed)"
    else:
        filled = " (exact quantity: the catalogue lists no pack size)"
    return (
        f"{what}. Dispense {amount}{filled}. Sig: take as the attached taper schedule "
        f"directs, {from_date.isoformat()} to {to_date.isoformat()}; do not stop suddenly. "
        "No refills."
    )


def number_in_words(amount: Decimal) -> str:
    """Whole quantities in words, as prescriptions write them ("ninety"); others as digits."""
    if amount != amount.to_integral_value() or not 0 <= amount < 10000:
        return format_amount(amount)
    n = int(amount)
    parts = []
    if n >= 1000:
        parts.append(f"{_ONES[n // 1000]} thousand")
        n %= 1000
    if n >= 100:
        parts.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        parts.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not parts:
        parts.append(_ONES[n])
    return " ".join(parts)


def pharmacy_order_from_plan_json(
    product: Product, output: Mapping[str, Any], *, today: date
) -> PharmacyOrder | None:
    """The order for a stored plan (its JSON, docs/plan-json.md) from today, or from its
    first day if that is later; None when no dose is left (or it is a pump plan)."""
    steps = output.get("steps") or []
    if not steps:
        return None
    start = max(today, date.fromisoformat(steps[0]["start_date"]))
    end = date.fromisoformat(steps[-1]["end_date"])
    if start > end:
        return None
    doses = []
    for step in steps:
        first = max(start, date.fromisoformat(step["start_date"]))
        days = (date.fromisoformat(step["end_date"]) - first).days + 1
        if days <= 0:
            continue
        for dose in step["doses"]:
            doses.append((tuple(_unit(unit) for unit in dose["units"]), days))
    return pharmacy_order(product, doses, from_date=start, to_date=end)


def _unit(data: Mapping[str, Any]) -> DoseUnit:
    if "volume_ml" in data:
        return LiquidVolume(volume_ml=Decimal(str(data["volume_ml"])))
    return TabletUnits(
        strength_mg=Decimal(str(data["strength_mg"])), count=Decimal(str(data["count"]))
    )
