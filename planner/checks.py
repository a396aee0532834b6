"""System checks for settings the clinical logic depends on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def server_time_is_utc(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    # Dose times are wall-clock times in the patient's own zone, converted with
    # zoneinfo. A server zone other than UTC, or naive datetimes, would shift every
    # reminder by the server's offset and break across daylight-saving changes.
    errors: list[CheckMessage] = []
    if settings.TIME_ZONE != "UTC":
        errors.append(
            Error(
                f"TIME_ZONE must be 'UTC', not {settings.TIME_ZONE!r}.",
                hint="Patients' zones are stored per patient; the server works in UTC.",
                id="planner.E001",
            )
        )
    if not settings.USE_TZ:
        errors.append(
            Error(
                "USE_TZ must be True.",
                hint="Reminder due times are aware datetimes in UTC.",
                id="planner.E002",
            )
        )
    return errors
