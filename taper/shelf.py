"""The strengths a plan may use: those the patient has at home or the pharmacy stocks,
whether tablets may be halved, and the fewest strengths that give the same doses.

`product_options` narrows a catalogue product to a shelf: the chosen strengths, halves
only of strengths that are splittable and only if halves are allowed. The shelf's dose
step is its smallest piece (the smallest whole strength, or half the smallest splittable
one): every whole number of that piece can be made from the shelf with at most one half,
so every dose the engine rounds to it can be measured. For each catalogue product the
smallest piece of its full shelf is its own `smallest_measurable`, so choosing every
strength with halves allowed plans exactly as without options.

"Fewest strengths" never changes a dose: it keeps the plan's doses and looks for the
smallest set of the chosen strengths that makes every one of them (then the fewest
tablets to handle over the plan, then the larger strengths).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import combinations

from taper.catalogue import Product, Strength
from taper.rounding import TabletUnits, can_build, dose_units

HALF = Decimal("0.5")


@dataclass(frozen=True, slots=True)
class ProductOptions:
    """What the clinician chose for this plan: strengths (mg, as in the catalogue),
    whether tablets may be halved, and whether to use the fewest strengths."""

    strengths_mg: tuple[Decimal, ...]
    allow_halves: bool = True
    fewest_strengths: bool = False


def on_the_shelf(product: Product, options: ProductOptions) -> Product:
    """The product narrowed to the chosen strengths, its dose step their smallest piece."""
    chosen = set(options.strengths_mg)
    strengths = tuple(
        replace(strength, splittable=strength.splittable and options.allow_halves)
        for strength in product.strengths
        if strength.amount in chosen
    )
    return _with_strengths(product, strengths, smallest_piece(strengths))


def smallest_piece(strengths: tuple[Strength, ...]) -> Decimal:
    return min(s.amount * HALF if s.splittable else s.amount for s in strengths)


def keep_strengths(product: Product, kept: tuple[Decimal, ...]) -> Product:
    """The shelf with only `kept`, its dose step unchanged (the doses stay the same)."""
    strengths = tuple(strength for strength in product.strengths if strength.amount in kept)
    assert product.smallest_measurable is not None
    return _with_strengths(product, strengths, product.smallest_measurable)


def _with_strengths(product: Product, strengths: tuple[Strength, ...], step: Decimal) -> Product:
    return replace(
        product,
        strengths=strengths,
        smallest_measurable=step,
        smallest_measurable_source=(
            "the strengths chosen for this plan (product_options): their smallest piece"
        ),
    )


def fewest_strengths(product: Product, doses: Mapping[Decimal, int]) -> tuple[Decimal, ...]:
    """The smallest set of the shelf's strengths that makes every dose (amount → times
    taken); among sets of that size the one with the fewest pieces to handle, then the
    larger strengths. The whole shelf when nothing smaller does."""
    shelf = tuple((strength.amount, strength.splittable) for strength in product.strengths)
    amounts = sorted(doses)
    for size in range(1, len(shelf)):
        best: tuple[tuple[Decimal, Decimal], tuple[Decimal, ...]] | None = None
        for subset in combinations(shelf, size):
            if not all(can_build(subset, amount) for amount in amounts):
                continue
            narrowed = keep_strengths(product, tuple(amount for amount, _ in subset))
            pieces = sum(
                (_pieces(narrowed, amount) * times for amount, times in doses.items()), Decimal(0)
            )
            key = (pieces, -sum((amount for amount, _ in subset), Decimal(0)))
            if best is None or key < best[0]:
                best = (key, tuple(amount for amount, _ in subset))
        if best is not None:
            return best[1]
    return tuple(amount for amount, _ in shelf)


def _pieces(product: Product, amount: Decimal) -> Decimal:
    """Tablets to handle for one dose; a half counts as one piece."""
    return sum(
        (
            Decimal(-(-unit.count // 1))
            for unit in dose_units(product, amount)
            if isinstance(unit, TabletUnits)
        ),
        Decimal(0),
    )
