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


# E-mail backends that deliver nothing: with DEBUG off they would print password-reset
# links, reminder action links and patients' names to stdout (or drop them).
NON_DELIVERING_EMAIL_BACKENDS = frozenset(
    {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
    }
)


def _absolute_uri(value: str) -> bool:
    return value.startswith(("https://", "http://", "urn:")) and len(value) > len("urn:") + 1


@register()
def production_settings_are_explicit(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """With DEBUG off, what development fills in by itself must be configured."""
    if settings.DEBUG:
        return []
    errors: list[CheckMessage] = []
    if settings.EMAIL_BACKEND in NON_DELIVERING_EMAIL_BACKENDS:
        errors.append(
            Error(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND!r}, which delivers no e-mail: "
                "password resets, invitations and reminders would go to the log or nowhere.",
                hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and "
                "EMAIL_HOST (README: Running in production).",
                id="planner.E003",
            )
        )
    if not settings.SITE_URL.startswith(("https://", "http://")):
        errors.append(
            Error(
                "SITE_URL must be set to the site's public address, e.g. "
                "https://taper.example.org.",
                hint="E-mails and calendar-feed links are built from it.",
                id="planner.E004",
            )
        )
    if not _absolute_uri(settings.FHIR_IDENTIFIER_SYSTEM):
        errors.append(
            Error(
                "FHIR_IDENTIFIER_SYSTEM must be set to a stable URI of the clinic's choosing, "
                "e.g. https://fhir.example.org/taper.",
                hint="Every FHIR identifier system and resource id is derived from it; "
                "keep it unchanged for the life of the data, even if SITE_URL moves.",
                id="planner.E005",
            )
        )
    return errors
