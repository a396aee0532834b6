"""The API's only request parser: JSON, bounded in size, finite numbers only, text only.

A plan input is a few hundred bytes, a patient record less; anything near the limit is
a mistake or an attack, and it is refused before it is read in full.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.parsers import BaseParser

MAX_BODY_BYTES = 64 * 1024


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = f"The request body is larger than {MAX_BODY_BYTES:,} bytes."
    default_code = "request_too_large"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number")
    return value


# JSON may escape half of a UTF-16 pair ("\\ud800") that is no character at all: Python
# keeps it, and it cannot be written back as UTF-8, so a refusal that repeated it was a
# 500. Such strings are refused here, by the path of the field that holds them.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_MESSAGE = (
    "Contains a lone UTF-16 surrogate (an escape such as \\ud800 without its pair), "
    "which is not text; send valid Unicode."
)
SURROGATE_KEY_MESSAGE = (
    "The field name contains a lone UTF-16 surrogate; it is shown here escaped. "
    "Send valid Unicode."
)


def _printable(key: str) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def surrogate_refusals(data: Any) -> dict[str, list[str]]:
    """Dotted paths of every key and string value holding a lone surrogate (a key is
    named by its escaped form). Iterative: a body nested as deep as json allows is fine."""
    errors: dict[str, list[str]] = {}
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if _LONE_SURROGATE.search(node):
                errors[path or "__all__"] = [SURROGATE_MESSAGE]
        elif isinstance(node, dict):
            for key, value in node.items():
                name = _printable(key) if _LONE_SURROGATE.search(key) else key
                child = f"{path}.{name}" if path else name
                if name != key:
                    errors[child] = [SURROGATE_KEY_MESSAGE]
                stack.append((child, value))
        elif isinstance(node, list):
            stack.extend(
                (f"{path}.{index}" if path else str(index), item)
                for index, item in enumerate(node)
            )
    return dict(sorted(errors.items()))


def loads(raw: bytes) -> Any:
    """Parse a JSON body the way the API reads every body; raises ParseError, or
    ValidationError naming the fields that hold lone surrogates."""
    try:
        text = codecs.decode(raw, "utf-8")
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except UnicodeDecodeError:
        raise ParseError("The body is not UTF-8 text.") from None
    except RecursionError:
        raise ParseError("The body is nested too deeply.") from None
    except ValueError as error:
        # json.JSONDecodeError, an integer beyond Python's digit limit, NaN, 1e999 …
        raise ParseError(f"The body is not valid JSON: {error}.") from None
    refused = surrogate_refusals(data)
    if refused:
        raise ValidationError(refused)
    return data


class BoundedJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        try:
            if declared and int(declared) > MAX_BODY_BYTES:
                raise RequestTooLarge
        except ValueError:
            raise ParseError("The Content-Length header is not a number.") from None
        if stream is None:
            raise ParseError("The body is empty; send a JSON object.")
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise RequestTooLarge
        return loads(raw)
