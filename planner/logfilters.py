"""Keep secrets and health data out of the logs.

Feed addresses are secrets: a calendar client that asks for a revoked address gets a
404, and Django logs "Not Found: <path>". This filter rewrites such paths before any
handler sees them. Invitation and password-reset links carry a one-time token in
their path the same way.
"""

from __future__ import annotations

import logging
import re

_FEED_PATH = re.compile(r"/calendar/[^/\s\"'?]+\.ics")
_ACTION_TOKEN = re.compile(r"/(?P<kind>a)/[A-Za-z0-9_:.\-]{16,}")
# /me/welcome/<uidb64>/<token>/ and Django's reset/<uidb64>/<token>/.
_ACCOUNT_LINK = re.compile(r"/(?P<kind>welcome|reset)/[A-Za-z0-9_\-]+/[A-Za-z0-9_\-]+")


def redact(text: str) -> str:
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
