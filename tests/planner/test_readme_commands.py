"""The README's commands work as written (issue #16): the taper_plan lines run without
DEBUG, a secret key or a database, and the production variables it exports pass
`check --deploy`. The commands are read out of README.md itself."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# DJANGO_ALLOW_ASYNC_UNSAFE: the browser tests set it in this process (Playwright's loop);
# a new checkout's shell has none of these.
SITE_VARIABLES = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "SITE_URL",
                  "EMAIL_BACKEND", "FHIR_IDENTIFIER_SYSTEM", "DJANGO_SETTINGS_MODULE",
                  "DJANGO_ALLOW_ASYNC_UNSAFE")


def shell_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    return [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]


def taper_plan_commands() -> list[list[str]]:
    """Each README taper_plan line, with `[--format a|b|c]` spelled out once per choice."""
    commands: list[list[str]] = []
    for line in shell_lines():
        if "manage.py taper_plan" not in line:
            continue
        optional = re.search(r"\[--format ([\w|]+)\]", line)
        base = re.sub(r"\s*\[.*?\]", "", line).split()
        choices = optional.group(1).split("|") if optional else [None]
        for choice in choices:
            commands.append([*base, *(["--format", choice] if choice else [])])
    return commands


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A new checkout's environment: none of the site's variables, nothing in var/."""
    env = {k: v for k, v in os.environ.items() if k not in SITE_VARIABLES}
    return {**env, "VAR_DIR": str(tmp_path / "var"), **extra}


def test_the_readme_names_the_taper_plan_commands() -> None:
    assert len(taper_plan_commands()) == 4  # table, json, ics and --list-products


@pytest.mark.parametrize("command", taper_plan_commands(), ids=" ".join)
def test_taper_plan_runs_as_written_without_debug_or_secrets(
    tmp_path: Path, command: list[str]
) -> None:
    assert command[0] == ".venv/bin/python"
    done = subprocess.run(
        [sys.executable, *command[1:]], cwd=ROOT, env=clean_env(tmp_path),
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    if "--format" in command and command[-1] == "json":
        assert json.loads(done.stdout)["product"] == "baclofen-oral-tablet"
    if "--format" in command and command[-1] == "ics":
        assert done.stdout.startswith("BEGIN:VCALENDAR")


def test_the_example_file_is_example_1_of_the_plan_json_doc() -> None:
    doc = (ROOT / "docs" / "plan-json.md").read_text(encoding="utf-8")
    first = doc.split("### 1.", 1)[1]
    example = re.search(r"```json\n(.*?)```", first, re.S)
    assert example is not None
    shipped = json.loads((ROOT / "docs" / "plan-example.json").read_text(encoding="utf-8"))
    assert shipped == json.loads(example.group(1))


def test_the_readmes_production_variables_pass_the_deploy_check(tmp_path: Path) -> None:
    exported: dict[str, str] = {}
    for line in shell_lines():
        if line.startswith("export "):
            for pair in line.removeprefix("export ").split():
                name, _, value = pair.partition("=")
                exported[name] = value
    assert {"DEBUG", "SECRET_KEY", "SITE_URL", "EMAIL_BACKEND", "FHIR_IDENTIFIER_SYSTEM"} <= set(
        exported
    )
    # The README elides secrets and hosts with "..."; fill those in as an operator would.
    exported["SECRET_KEY"] = "k3y-for-the-readme-check-" + "Zq8w" * 12
    exported["DATABASE_URL"] = "postgres://taper@127.0.0.1:5432/taper"
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=clean_env(tmp_path, **exported),
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
