"""The daily-dose chart of a plan, as geometry for a server-rendered SVG.

Plain SVG from the server prints well, needs no JavaScript and shows the same
picture to the clinician, the reviewer and on the patient's handout.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from planner.display import short_day

WIDTH = 640
HEIGHT = 240
LEFT = 48
RIGHT = 16
TOP = 16
BOTTOM = 40


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class DoseChart:
    width: int
    height: int
    path: str
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    plot_left: int
    plot_bottom: int
    plot_right: int
    plot_top: int
    description: str
    # A running plan's today, as the middle of today's column (None: not running).
    today_x: float | None = None


def _nice_max(value: float) -> float:
    for candidate in (5, 10, 20, 25, 40, 50, 60, 80, 100, 120, 160, 200, 240, 320, 400):
        if value <= candidate:
            return float(candidate)
    return float(value)


def dose_chart(output: dict[str, Any]) -> DoseChart | None:
    """A step line of the daily total from the day before the plan (the current dose)
    to the day after its end (zero, or the target)."""
    steps = output.get("steps") or []
    if not steps:
        return None
    start = dt.date.fromisoformat(steps[0]["start_date"])
    end = dt.date.fromisoformat(steps[-1]["end_date"])
    current = float(output.get("current_daily_mg") or steps[0]["daily_total_mg"])
    after = float(output.get("final_daily_mg") or 0)
    days = (end - start).days + 3  # one day before, the plan, one day after
    y_max = _nice_max(max(current, *(float(s["daily_total_mg"]) for s in steps)))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(day: float) -> float:
        return round(LEFT + plot_w * day / days, 1)

    def y(mg: float) -> float:
        return round(TOP + plot_h * (1 - mg / y_max), 1)

    points: list[tuple[float, float]] = [(x(0), y(current)), (x(1), y(current))]
    for step in steps:
        first = (dt.date.fromisoformat(step["start_date"]) - start).days + 1
        last = (dt.date.fromisoformat(step["end_date"]) - start).days + 2
        mg = float(step["daily_total_mg"])
        points += [(x(first), y(mg)), (x(last), y(mg))]
    points += [(points[-1][0], y(after)), (x(days), y(after))]
    path = "M " + " L ".join(f"{px} {py}" for px, py in points)
    y_ticks = tuple(Tick(LEFT, y(y_max * i / 4), f"{y_max * i / 4:g}") for i in range(5))
    every = max(1, days // 8)
    x_ticks = tuple(
        Tick(x(d), HEIGHT - BOTTOM, short_day(start + dt.timedelta(days=d - 1)))
        for d in range(1, days, every)
    )
    description = (
        f"Daily dose from {current:g} mg on {start - dt.timedelta(days=1):%d %b} "
        f"to {after:g} mg after {end:%d %b %Y}, in {len(steps)} "
        f"step{'' if len(steps) == 1 else 's'}."
    )
    today_x = None
    if output.get("today"):
        today = dt.date.fromisoformat(str(output["today"]))
        index = (today - start).days + 1
        if 0 <= index < days:
            today_x = x(index + 0.5)
    return DoseChart(
        today_x=today_x,
        width=WIDTH,
        height=HEIGHT,
        path=path,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        plot_left=LEFT,
        plot_bottom=HEIGHT - BOTTOM,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        description=description,
    )


def schedule_days(output: dict[str, Any]) -> list[dict[str, Any]]:
    """The day-by-day table: each day of the plan with its doses."""
    days = []
    for number, step in enumerate(output.get("steps") or [], start=1):
        day = dt.date.fromisoformat(step["start_date"])
        last = dt.date.fromisoformat(step["end_date"])
        while day <= last:
            days.append(
                {
                    "date": day,
                    "step": number,
                    "doses": step["doses"],
                    "daily_total_mg": step["daily_total_mg"],
                }
            )
            day += dt.timedelta(days=1)
    return days
