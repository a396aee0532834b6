"""Signed, expiring links in e-mails: Taken, Skipped, "I missed it", the check-in.

No table: the link carries the dose id and the action, signed with SECRET_KEY
(Django's signing, like its password-reset tokens). Opening a link only shows a
confirmation page; the answer is recorded on POST, so mail scanners that prefetch
links record nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core import signing
from django.utils import timezone

SALT = "reminders.actions"
DOSE_ACTIONS = ("taken", "skipped", "missed", "snooze")
# A link works until a day after the dose's catch-up window closes (the check-in link:
# a week), so an old e-mail cannot be used to rewrite the record much later.
LINK_GRACE = dt.timedelta(days=1)
CHECK_IN_LINK_AGE = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ActionLink:
    kind: str  # "dose" or "check_in"
    object_id: int
    action: str
    expires_at: dt.datetime


def action_token(link: ActionLink) -> str:
    return signing.dumps(
        {
            "k": link.kind,
            "i": link.object_id,
            "a": link.action,
            "e": int(link.expires_at.timestamp()),
        },
        salt=SALT,
        # Not compressed: zlib saves a few characters on a few of these 60-byte payloads
        # and costs a compression attempt on each of a reminder's four links (issue #17).
        # read_action reads compressed links made before as well (signing.loads).
        compress=False,
    )


def dose_link(dose_id: int, action: str, catch_up_until: dt.datetime) -> str:
    return action_token(ActionLink("dose", dose_id, action, catch_up_until + LINK_GRACE))


def check_in_link(plan_id: int, now: dt.datetime) -> str:
    return action_token(ActionLink("check_in", plan_id, "answer", now + CHECK_IN_LINK_AGE))


def check_in_link_issued_at(link: ActionLink) -> dt.datetime:
    """When a check-in link was made (to the second): a check-in answered since then
    used it up, so each e-mailed link records one check-in."""
    return link.expires_at - CHECK_IN_LINK_AGE


def read_action(token: str, now: dt.datetime | None = None) -> ActionLink | None:
    """The link's content, or None if it was tampered with, malformed or expired."""
    if len(token) > 400:
        return None
    try:
        data = signing.loads(token, salt=SALT)
        link = ActionLink(
            kind=str(data["k"]),
            object_id=int(data["i"]),
            action=str(data["a"]),
            expires_at=dt.datetime.fromtimestamp(int(data["e"]), tz=dt.UTC),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError):
        return None
    if link.kind not in {"dose", "check_in"}:
        return None
    if (now or timezone.now()) > link.expires_at:
        return None
    return link
