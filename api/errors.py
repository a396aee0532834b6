"""One shape for every refusal of the API.

A 400 is always `{"errors": {"<field>": ["sentence", ...]}}`, the field named by its
dotted path (`doses.1.time`, `pump.reservoir_ml`) and `__all__` for what belongs to no
field: the same shape `manage.py taper_plan --format json` prints and the engine's
`InvalidPlanInput.errors` has. Every other refusal is `{"detail": "sentence"}`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

ALL = "__all__"


def flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as a flat dict of dotted paths to messages."""
    errors: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = ALL if key in ("non_field_errors", ALL) and not prefix else str(key)
            path = f"{prefix}.{name}" if prefix else name
            for sub, messages in flatten(value, path).items():
                errors.setdefault(sub, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            errors[prefix or ALL] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    path = f"{prefix}.{index}" if prefix else str(index)
                    for sub, messages in flatten(item, path).items():
                        errors.setdefault(sub, []).extend(messages)
    else:
        errors[prefix or ALL] = [str(detail)]
    return errors


def refused(errors: dict[str, list[str]]) -> Response:
    return Response({"errors": errors}, status=400)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {ALL: exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"errors": flatten(exc.detail)}
    elif isinstance(exc, exceptions.ParseError):
        response.data = {"errors": {ALL: [str(exc.detail)]}}
    return response
