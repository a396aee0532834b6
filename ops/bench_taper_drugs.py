"""Time the taper engine on a long benzodiazepine taper: about a year of 2-week steps.

Issue #22: long tapers stay fast (engine under 10 ms). Diazepam 10 mg four times a day,
10 % of the current dose every 14 days down to 1 mg, then the stop: 25 steps, 350 days,
with the day-by-day 14-day window guardrail checked over the whole plan. Then the same
taper reached by a switch: alprazolam 0.5 mg four times a day switched to diazepam
(20 mg per mg: 10 mg four times a day), one dose time every 4 days, then the same taper.

Run: .venv/bin/python ops/bench_taper_drugs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops.bench_taper import measure_plan

A_YEAR_OF_TWO_WEEK_STEPS = {
    "product": "diazepam-oral-tablet",
    "doses": [
        {"time": "08:00", "amount_mg": 10},
        {"time": "12:00", "amount_mg": 10},
        {"time": "16:00", "amount_mg": 10},
        {"time": "20:00", "amount_mg": 10},
    ],
    "start_date": "2027-01-04",
    "timezone": "America/New_York",  # crosses both clock changes of 2027
    "goal": {"type": "discontinue"},
    "patient": {"age_years": 50, "months_on_therapy": 6},
}


A_YEAR_WITH_A_SWITCH = {
    **A_YEAR_OF_TWO_WEEK_STEPS,
    "product": "alprazolam-oral-tablet",
    "switch_to": "diazepam-oral-tablet",
    "doses": [
        {"time": "08:00", "amount_mg": 0.5},
        {"time": "12:00", "amount_mg": 0.5},
        {"time": "16:00", "amount_mg": 0.5},
        {"time": "20:00", "amount_mg": 0.5},
    ],
}


def main() -> None:
    measure_plan(A_YEAR_OF_TWO_WEEK_STEPS)
    print()
    measure_plan(A_YEAR_WITH_A_SWITCH)


if __name__ == "__main__":
    main()
