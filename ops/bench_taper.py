"""Time the taper engine on a 12-week discontinue plan with four doses a day.

Run: .venv/bin/python ops/bench_taper.py   (target: well under 5 ms per plan)
"""

from __future__ import annotations

import statistics
import sys
import timeit
from collections.abc import Callable, Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import taper

TWELVE_WEEKS_FOUR_DOSES = {
    "product": "baclofen-oral-tablet",
    "doses": [
        {"time": "08:00", "amount_mg": 20},
        {"time": "12:00", "amount_mg": 20},
        {"time": "16:00", "amount_mg": 20},
        {"time": "20:00", "amount_mg": 20},
    ],
    "start_date": "2026-03-02",
    "timezone": "America/New_York",  # crosses the 2026-03-08 clock change
    "goal": {"type": "discontinue"},
    "patient": {"age_years": 50, "months_on_therapy": 24},
    "pace": {"length_days": 84},
}
RUNS = 500


def measure(label: str, work: Callable[[], object]) -> None:
    work()  # warm the catalogue and tablet caches, as a running site would be
    times_ms = sorted(t * 1000 for t in timeit.repeat(work, number=1, repeat=RUNS))
    p95 = times_ms[int(len(times_ms) * 0.95) - 1]
    print(f"{label:<38} median {statistics.median(times_ms):6.3f} ms   p95 {p95:6.3f} ms")


def measure_plan(data: Mapping[str, object]) -> None:
    """The engine alone, with parsing, and with parsing and JSON, for one plan input."""
    request = taper.parse_request(data)
    plan = taper.plan(request)
    print(
        f"{plan.duration_days}-day plan, {len(plan.steps)} steps of {plan.step_interval_days} "
        f"days, {len(plan.dose_events)} dose events, {RUNS} runs each"
    )
    measure("plan(request)", lambda: taper.plan(request))
    measure("parse_request + plan", lambda: taper.plan(taper.parse_request(data)))
    measure(
        "parse_request + plan + plan_to_json",
        lambda: taper.plan_to_json(taper.plan(taper.parse_request(data))),
    )


def main() -> None:
    measure_plan(TWELVE_WEEKS_FOUR_DOSES)


if __name__ == "__main__":
    main()
