"""Configuration: the environment switches, the deployment check and the UTC rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from planner.checks import server_time_is_utc
from planner.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]

SITE_VARIABLES = {
    "DEBUG", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE",
}
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3y-for-the-deploy-check-" + "x7Q9" * 12,
    "ALLOWED_HOSTS": "taper.example.org",
    "SITE_URL": "https://taper.example.org",
    "DATABASE_URL": "postgres://taper@127.0.0.1:5432/taper",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "FHIR_IDENTIFIER_SYSTEM": "https://fhir.example.org/taper",
}


def run_manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # The site's own variables come from `env` alone, whatever the test run has set.
    base = {k: v for k, v in os.environ.items() if k not in SITE_VARIABLES}
    base.update(env)
    base["VAR_DIR"] = str(tmp_path)
    base["DJANGO_SETTINGS_MODULE"] = "planner.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_reports_no_warnings_with_production_settings(tmp_path: Path) -> None:
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path: Path) -> None:
    env = dict(PRODUCTION_ENV)
    del env["SECRET_KEY"]
    result = run_manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_it_uses_a_development_key_only_with_debug_on(tmp_path: Path) -> None:
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        env={"DEBUG": "1"},
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "development-only" in result.stdout


def test_defaults_need_no_server(tmp_path: Path) -> None:
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE']); print(s.CELERY_BROKER_URL); "
        "print(s.EMAIL_BACKEND)"
    )
    result = run_manage("shell", "-c", code, env={"DEBUG": "1"}, tmp_path=tmp_path)
    engine, broker, email = result.stdout.split()[-3:]
    assert engine == "django.db.backends.sqlite3"
    assert broker.startswith("sqla+sqlite:///")
    assert email == "django.core.mail.backends.console.EmailBackend"


def test_it_names_the_variable_when_a_flag_is_not_a_boolean(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_USE_TLS", "maybe")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_USE_TLS"):
        env_bool("EMAIL_USE_TLS")


def test_it_names_the_variable_when_a_number_is_not_a_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_PORT", "twenty-five")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT"):
        env_int("EMAIL_PORT", 25)


def test_lists_are_comma_separated_and_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", " a.example.org, ,b.example.org ")
    assert env_list("ALLOWED_HOSTS") == ["a.example.org", "b.example.org"]


def test_the_utc_check_passes_with_the_shipped_settings() -> None:
    assert server_time_is_utc() == []


@override_settings(TIME_ZONE="Europe/Paris")
def test_the_utc_check_fails_when_the_server_zone_is_changed() -> None:
    assert [error.id for error in server_time_is_utc()] == ["planner.E001"]


@override_settings(USE_TZ=False)
def test_the_utc_check_fails_when_aware_datetimes_are_turned_off() -> None:
    assert [error.id for error in server_time_is_utc()] == ["planner.E002"]


def test_the_utc_check_is_registered_with_django(tmp_path: Path) -> None:
    result = run_manage(
        "shell",
        "-c",
        "from django.core.checks import run_checks\n"
        "from django.test import override_settings\n"
        "with override_settings(TIME_ZONE='Asia/Tokyo'):\n"
        "    print([m.id for m in run_checks()])",
        env={"DEBUG": "1"},
        tmp_path=tmp_path,
    )
    assert "planner.E001" in result.stdout, result.stderr


@pytest.mark.parametrize("backend", ["console", "locmem", "dummy"])
def test_production_refuses_an_email_backend_that_delivers_nothing(
    tmp_path: Path, backend: str
) -> None:
    env = {**PRODUCTION_ENV, "EMAIL_BACKEND": f"django.core.mail.backends.{backend}.EmailBackend"}
    result = run_manage("check", "--deploy", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "planner.E003" in result.stderr
    assert "delivers no e-mail" in result.stderr


def test_production_without_an_email_backend_fails_the_check(tmp_path: Path) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "EMAIL_BACKEND"}
    result = run_manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "planner.E003" in result.stderr


@pytest.mark.parametrize(("variable", "check_id"), [
    ("SITE_URL", "planner.E004"), ("FHIR_IDENTIFIER_SYSTEM", "planner.E005"),
])
def test_production_needs_the_site_url_and_the_fhir_identifier_system(
    tmp_path: Path, variable: str, check_id: str
) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != variable}
    result = run_manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert check_id in result.stderr
    assert variable in result.stderr
