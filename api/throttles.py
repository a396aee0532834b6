"""Throttling of the plan preview, which runs the taper engine on every call.

The rate is `PLAN_PREVIEW_RATE` (env `API_PREVIEW_RATE`, DRF's "number/period"), per
authenticated user, counted in Django's cache: the default local-memory cache counts
per web process, so with N gunicorn workers a user gets up to N times the rate.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class PlanPreviewThrottle(UserRateThrottle):
    scope = "plan_preview"

    def get_rate(self) -> str | None:
        # Read per request, not once at import as DRF's own setting is.
        rate: str | None = settings.PLAN_PREVIEW_RATE
        return rate
