"""Operations code (the fault drill, the benchmarks, the load test) lives in ops/, which
the project's package does not install (issue #16)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = ("planner", "taper", "reminders", "portal", "api")


def test_the_installed_packages_hold_no_operations_code() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(where=str(ROOT), include=include)
    assert {name.split(".")[0] for name in packages} == set(INSTALLED)
    assert (ROOT / "ops" / "drill.py").exists()
    for package in INSTALLED:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            for needle in ("from ops", "import ops"):
                assert needle not in text, path
            for word in ("drill", "bench"):
                assert word not in path.name, path
