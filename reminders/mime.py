"""The reminder e-mail as MIME: Django's EmailMultiAlternatives, written out the same
byte for byte with two of the standard library's costs left out.

At the top of the hour a worker writes thousands of these, and two steps of Python's
`email` package cost about a tenth of a worker's CPU per e-mail (1.87 against 1.69 ms
without them; ops/bench_reminders, issue #17):

- Folding: the compat32 policy Django's messages carry builds a `email.header.Header`
  and runs its folding algorithm for every header, 13 per reminder, although a short
  ASCII value comes out of it as it went in. `ReminderPolicy` writes such a value
  directly and hands every other one (long, non-ASCII, with line breaks) to compat32.
- The multipart boundary: without one, the generator draws a random boundary and, to be
  sure no line of the parts repeats it, compiles a regular expression made of that
  boundary (a new pattern per message, never cached). `ReminderEmail` sets the
  boundary itself, from 128 random bits, and checks the parts with a substring search.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from email.message import Message as MimeMessage
from email.policy import Compat32
from typing import Any, cast

from django.core.mail import EmailMultiAlternatives

# Header.encode's default line length (RFC 5322's recommended 78 characters).
FOLD_AT = 78


class ReminderPolicy(Compat32):
    """compat32, with a short ASCII header written as it is: what compat32's folding
    makes of it anyway (tests/reminders/test_mime.py compares the two)."""

    def _as_is(self, name: str, value: Any) -> bool:
        return (
            isinstance(value, str)
            and value.isascii()
            and len(name) + 2 + len(value) <= (self.max_line_length or FOLD_AT)
            # No line break of any kind (compat32 splits on str.splitlines()'s), nor tab.
            and value.isprintable()
        )

    def fold(self, name: str, value: Any) -> str:
        if self._as_is(name, value):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        if self._as_is(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


REMINDER_POLICY = ReminderPolicy()


def boundary_for(parts: Iterable[MimeMessage]) -> str:
    """A multipart boundary that no part's text contains (RFC 2046 5.1.1), in the
    generator's own shape: '=' * 15, a random token, '=='."""
    texts = [str(part.get_payload()) for part in parts]
    while True:
        boundary = "=" * 15 + secrets.token_hex(16) + "=="
        if not any(boundary in text for text in texts):
            return boundary


class ReminderEmail(EmailMultiAlternatives):
    """EmailMultiAlternatives whose message carries its boundary and ReminderPolicy."""

    def message(self, **kwargs: Any) -> Any:
        message = super().message(**kwargs)
        if message.is_multipart():
            message.set_boundary(boundary_for(cast(list[MimeMessage], message.get_payload())))
        message.policy = REMINDER_POLICY
        return message


def html_paragraphs(
    text: str, links: Iterable[tuple[str, str]] = ()
) -> tuple[list[str], list[str]]:
    """The text part's paragraphs as the HTML part shows them, where each link is a
    button: the lines that end with a link ("I have taken it: https://…") are left out,
    and so is what only introduced them ("Confirm or decline here:"). Returned as the
    paragraphs before the links and those after, so that the buttons stand where the
    links stood in the text."""
    urls = tuple(url for _label, url in links)
    before: list[str] = []
    after: list[str] = []
    past_links = False
    for paragraph in text.strip().split("\n\n"):
        lines = paragraph.strip().splitlines()
        kept = [line for line in lines if not (urls and line.endswith(urls))]
        words = "\n".join(kept).strip()
        had_links = len(kept) < len(lines)
        if words and not (had_links and words.endswith(":")):
            (after if past_links else before).append(words)
        past_links = past_links or had_links
    return before, after
