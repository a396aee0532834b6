"""The API's only request parser: JSON, bounded in size, finite numbers only.

A plan input is a few hundred bytes, a patient record less; anything near the limit is
a mistake or an attack, and it is refused before it is read in full.
"""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import APIException, ParseError
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


def loads(raw: bytes) -> Any:
    """Parse a JSON body the way the API reads every body; raises ParseError."""
    try:
        text = codecs.decode(raw, "utf-8")
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except UnicodeDecodeError:
        raise ParseError("The body is not UTF-8 text.") from None
    except RecursionError:
        raise ParseError("The body is nested too deeply.") from None
    except ValueError as error:
        # json.JSONDecodeError, an integer beyond Python's digit limit, NaN, 1e999 …
        raise ParseError(f"The body is not valid JSON: {error}.") from None


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
