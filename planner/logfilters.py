"""Keep secrets and health data out of the logs.

Feed addresses are secrets: a calendar client that asks for a revoked address gets a
404, and Django logs "Not Found: <path>". This filter rewrites such paths before any
handler sees them. Invitation and password-reset links carry a one-time token in
their path the same way, and searches carry a patient's name or record number in their
query.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

_FEED_PATH = re.compile(r"/calendar/[^/\s\"'?]+\.ics")
# /a/<token>/ (reminder e-mail actions) and /c/<token>/ (a caregiver's invitation).
_ACTION_TOKEN = re.compile(r"/(?P<kind>a|c)/[A-Za-z0-9_:.\-]{16,}")
# /me/welcome/<uidb64>/<token>/ and Django's reset/<uidb64>/<token>/.
_ACCOUNT_LINK = re.compile(r"/(?P<kind>welcome|reset)/[A-Za-z0-9_\-]+/[A-Za-z0-9_\-]+")


# Query parameters that carry a patient's name or record number: the dashboard's search
# (`q`) and the FHIR searches (`identifier`, the MRN; `name`, `family`, `given`).
# Also URL-encoded, as in the `next` of a redirect to the log-in page.
_PATIENT_QUERY = re.compile(
    r"(?P<key>(?:[?&]|%3[Ff]|%26)(?:q|identifier|name|family|given)(?:=|%3[Dd]))"
    r"[^&\s\"']*?(?=%26|&|[\s\"']|$)"
)


def redact(text: str) -> str:
    text = _PATIENT_QUERY.sub(lambda m: f"{m.group('key')}[redacted]", text)
    text = _FEED_PATH.sub("/calendar/[redacted].ics", text)
    text = _ACCOUNT_LINK.sub(lambda m: f"/{m.group('kind')}/[redacted]", text)
    return _ACTION_TOKEN.sub(lambda m: f"/{m.group('kind')}/[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        return True


# Request headers that carry a credential; an access-log format that names them gets this.
_SECRET_HEADERS = ("{authorization}i", "{cookie}i", "{x-csrftoken}i")


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logger with every access-log field passed through `redact`: the request
    line, the path, the query and the referrer name a feed, action, invitation or reset
    token as often as not. gunicorn.conf.py makes it the production server's logger."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: dt.timedelta
              ) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if key in _SECRET_HEADERS:
                atoms[key] = "[redacted]"
            elif isinstance(value, str):
                atoms[key] = redact(value)
        return atoms
