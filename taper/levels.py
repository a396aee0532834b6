"""The daily total of each step, and the cuts between them: whole dose steps only.

Every amount here is a whole number of the product's dose step q (tablets 2.5 mg,
solution 0.5 mg), so the arithmetic is done in units of q and never rounds twice.

- Linear: the reduction D − T (T = 0 to stop) is shared into equal cuts of whole units;
  the remainder goes to the first cuts, so cuts never grow (30 mg in 5 cuts of 2.5 mg
  units: 7.5, 7.5, 5, 5, 5). Discontinue has n steps and n + 1 cuts (the last one to
  zero); reduce has n steps and n cuts, the last step at the target.
- Proportional: each step cuts P % of the current daily total, rounded half up to a
  unit and at least one unit, down to one dose step (discontinue; the stop is the final
  cut to zero) or to the target. The current dose only falls, so the cuts never grow.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from taper.rounding import round_to_step

HUNDRED = Decimal(100)


def linear_levels(
    daily: Decimal, quantum: Decimal, steps: int, target: Decimal | None
) -> tuple[Decimal, ...]:
    units = int((daily - (target or 0)) / quantum)
    wanted = max(1, steps) + (1 if target is None else 0)
    count = max(1, min(wanted, units))
    base, spare = divmod(units, count)
    unit_cuts = [base + 1] * spare + [base] * (count - spare)
    if target is None:
        unit_cuts = unit_cuts[:-1]  # the last cut is the stop itself
    levels = []
    level = daily
    for cut in unit_cuts:
        level -= cut * quantum
        levels.append(level)
    # Already one dose step (discontinue): nothing smaller can be measured, so it is
    # held for the taper length and then stopped.
    return tuple(levels) or (daily,)


def proportional_levels(
    daily: Decimal, quantum: Decimal, percent: Decimal, target: Decimal | None
) -> tuple[Decimal, ...]:
    floor = target if target is not None else quantum
    levels = []
    level = daily
    while level > floor:
        cut = max(quantum, round_to_step(level * percent / HUNDRED, quantum))
        level -= min(cut, level - floor)
        levels.append(level)
    return tuple(levels) or (daily,)


def cuts_mg(daily: Decimal, levels: Sequence[Decimal], *, to_zero: bool) -> tuple[Decimal, ...]:
    """Each fall in the daily total: regimen → step 1, step to step, and (to_zero) the
    last step → 0. A rise (a step back) is no cut; the restart after it is one."""
    cuts = []
    previous = daily
    for level in levels:
        if level < previous:
            cuts.append(previous - level)
        previous = level
    if to_zero and previous > 0:
        cuts.append(previous)
    return tuple(cuts)


def fewest_linear_steps(
    daily: Decimal, quantum: Decimal, largest_cut: Decimal, target: Decimal | None
) -> int:
    """The fewest linear steps whose cuts all stay within largest_cut."""
    units = int((daily - (target or 0)) / quantum)
    per_cut = max(1, int(largest_cut / quantum))
    cuts = -(-units // per_cut)
    return max(1, cuts - (1 if target is None else 0))
