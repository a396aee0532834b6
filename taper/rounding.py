"""Turning mg into what the patient actually takes: tablets (and halves) or mL of liquid.

Every single dose is a whole number of the product's smallest measurable amount
(CLINICAL.md "rounding"); this module is the only place that knows how to build
such a dose from tablets or measure it as a volume, and how much to dispense.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache, reduce
from math import gcd

from taper.catalogue import Product

HALF = Decimal("0.5")


@dataclass(frozen=True, slots=True)
class TabletUnits:
    strength_mg: Decimal
    count: Decimal  # in halves: 0.5, 1, 1.5, ...


@dataclass(frozen=True, slots=True)
class LiquidVolume:
    volume_ml: Decimal


DoseUnit = TabletUnits | LiquidVolume


@dataclass(frozen=True, slots=True)
class TabletSupply:
    strength_mg: Decimal
    count: int  # whole tablets
    product_id: str | None = None  # a switch plan names each supply's product


@dataclass(frozen=True, slots=True)
class LiquidSupply:
    volume_ml: Decimal
    product_id: str | None = None


Supply = TabletSupply | LiquidSupply


def format_amount(amount: Decimal) -> str:
    """2.50 → "2.5", 100 → "100": never scientific notation in front of a patient."""
    text = f"{amount.normalize():f}"
    return "0" if text in ("-0", "0.0") else text


def round_to_step(amount: Decimal, step: Decimal) -> Decimal:
    # Half-up keeps a little more drug on a tie: the gentler side of a taper.
    return (amount / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


def is_whole_number_of(amount: Decimal, step: Decimal) -> bool:
    return amount % step == 0


def dose_units(product: Product, amount_mg: Decimal) -> tuple[DoseUnit, ...]:
    """The tablets (fewest pieces, at most one half) or the volume for one dose."""
    if product.is_liquid:
        return (LiquidVolume(volume_ml=amount_mg / product.concentration_mg_per_ml),)
    shelf = tuple((strength.amount, strength.splittable) for strength in product.strengths)
    return _fewest_tablets(shelf, amount_mg)


@lru_cache(maxsize=4096)
def units_text(units: tuple[DoseUnit, ...]) -> str:
    """ "1 × 10 mg + ½ × 5 mg", "1½ × 5 mg" or "2.5 mL"."""
    parts = []
    for unit in units:
        if isinstance(unit, LiquidVolume):
            parts.append(f"{format_amount(unit.volume_ml)} mL")
        else:
            parts.append(f"{count_text(unit.count)} × {format_amount(unit.strength_mg)} mg")
    return " + ".join(parts)


def dispense(
    product: Product, doses: Iterable[tuple[tuple[DoseUnit, ...], int]]
) -> tuple[Supply, ...]:
    """Enough of each strength (or enough mL) for every dose: (units, times taken) pairs."""
    if product.is_liquid:
        total = Decimal(0)
        for units, times in doses:
            for unit in units:
                if isinstance(unit, LiquidVolume):
                    total += unit.volume_ml * times
        return (LiquidSupply(volume_ml=total),) if total else ()
    halves: dict[Decimal, Decimal] = {}
    for units, times in doses:
        for unit in units:
            if isinstance(unit, TabletUnits):
                halves[unit.strength_mg] = (
                    halves.get(unit.strength_mg, Decimal(0)) + unit.count * 2 * times
                )
    # A half left over from one dose is used at the next, so round up only once per strength.
    return tuple(
        TabletSupply(strength_mg=strength, count=-(-int(count) // 2))
        for strength, count in sorted(halves.items(), reverse=True)
    )


def count_text(count: Decimal) -> str:
    """Tablets as a patient counts them: "2", "1½", "½"."""
    whole = int(count)
    if count == whole:
        return str(whole)
    return f"{whole}½" if whole else "½"


def can_build(shelf: tuple[tuple[Decimal, bool], ...], amount_mg: Decimal) -> bool:
    """Whether one dose of amount_mg can be made from whole units and at most one half."""
    try:
        _fewest_tablets(shelf, amount_mg)
    except ValueError:
        return False
    return True


def _common_unit(strengths: tuple[Decimal, ...]) -> Decimal:
    """The largest amount every strength is a whole number of (the smallest strength when
    they are all its multiples, as for baclofen 5, 10, 20 mg; 200 mg for 600 and 800 mg)."""
    scale = 1000
    return Decimal(reduce(gcd, (int(s * scale) for s in strengths))) / scale


@lru_cache(maxsize=4096)
def _fewest_tablets(
    shelf: tuple[tuple[Decimal, bool], ...], amount_mg: Decimal
) -> tuple[TabletUnits, ...]:
    smallest = _common_unit(tuple(strength for strength, _ in shelf))
    halves_allowed: list[Decimal | None] = [None]
    halves_allowed += [strength for strength, splittable in shelf if splittable]
    best: tuple[tuple[int, int, tuple[int, ...]], dict[Decimal, Decimal]] | None = None
    for half_of in halves_allowed:
        remainder = amount_mg - (half_of / 2 if half_of is not None else 0)
        if remainder < 0 or remainder % smallest != 0:
            continue
        wholes = _fewest_whole_tablets(tuple(s for s, _ in shelf), remainder)
        if wholes is None:
            continue
        counts = {strength: Decimal(n) for strength, n in wholes.items() if n}
        if half_of is not None:
            counts[half_of] = counts.get(half_of, Decimal(0)) + HALF
        # Fewest pieces to handle, then no cutting if avoidable, then bigger tablets.
        pieces = sum(wholes.values()) + (1 if half_of is not None else 0)
        key = (
            pieces,
            0 if half_of is None else 1,
            tuple(-wholes.get(s, 0) for s in sorted(wholes, reverse=True)),
        )
        if best is None or key < best[0]:
            best = (key, counts)
    if best is None:
        raise ValueError(f"{amount_mg} mg cannot be made from tablets {shelf}")
    return tuple(
        TabletUnits(strength_mg=strength, count=count)
        for strength, count in sorted(best[1].items(), reverse=True)
    )


def _fewest_whole_tablets(
    strengths: tuple[Decimal, ...], amount_mg: Decimal
) -> dict[Decimal, int] | None:
    """Coin change in units of the strengths' common unit; small numbers, so a plain table."""
    smallest = _common_unit(strengths)
    target = int(amount_mg / smallest)
    coins = sorted((int(strength / smallest), strength) for strength in strengths)
    unreachable = target + 1  # more pieces than any real answer needs
    fewest = [0] + [unreachable] * target
    last_coin = [0] * (target + 1)
    for total in range(1, target + 1):
        for size, _ in coins:
            if size <= total and fewest[total - size] + 1 <= fewest[total]:
                # "<=" with ascending coins prefers the largest tablet on ties.
                fewest[total] = fewest[total - size] + 1
                last_coin[total] = size
    if fewest[target] == unreachable:
        return None
    by_size = {size: strength for size, strength in coins}
    counts: dict[Decimal, int] = {}
    total = target
    while total:
        size = last_coin[total]
        counts[by_size[size]] = counts.get(by_size[size], 0) + 1
        total -= size
    return counts
