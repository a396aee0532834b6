"""Operations code (the fault drill, the benchmarks, the load test) lives in ops/, which
the project's package does not install (issue #16)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = ("planner", "taper", "reminders", "portal", "api", "clinic")


def test_the_installed_packages_hold_no_operations_code() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    top_level = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    installed = {name for name in top_level if any(fnmatch.fnmatch(name, p) for p in include)}
    assert installed == set(INSTALLED)
    assert "ops" in top_level
    assert (ROOT / "ops" / "drill.py").exists()
    for package in INSTALLED:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            for needle in ("from ops", "import ops"):
                assert needle not in text, path
            for word in ("drill", "bench"):
                assert word not in path.name, path


def test_completing_plans_is_planners_own_beat_task() -> None:
    """Plans are completed and superseded by planner, not by the reminder dispatcher,
    which writes no plan rows (issue #15)."""
    from planner import tasks
    from planner.celery import app

    app.loader.import_default_modules()
    assert tasks.complete_plans.name == "planner.tasks.complete_plans"
    assert app.conf.beat_schedule["complete-plans"]["task"] == "planner.tasks.complete_plans"
    assert "planner.tasks.complete_plans" in app.tasks
    dispatch_source = (ROOT / "reminders" / "dispatch.py").read_text()
    assert "plans_complete" not in dispatch_source
