"""The reminder e-mail as MIME (reminders.mime): the same bytes as Django's
EmailMultiAlternatives with compat32, without its two costs; and the HTML part's
paragraphs, where the links are buttons."""

from __future__ import annotations

import email
import secrets
from email import policy as email_policy
from typing import Any

import pytest
from django.core.mail import EmailMultiAlternatives
from hypothesis import given, settings
from hypothesis import strategies as st

from reminders.mime import REMINDER_POLICY, ReminderEmail, boundary_for, html_paragraphs

HEADER_NAMES = st.sampled_from(["Subject", "To", "From", "X-Long-Header-Name-For-Folding"])
# Printable ASCII with runs of spaces and tabs, now and then a line break of one of the
# kinds str.splitlines() knows or a letter beyond ASCII: every branch of the fast path and
# of compat32's own folding.
HEADER_VALUES = st.text(
    alphabet=st.sampled_from([*"abcXYZ019 :;,.<>@=?_-", " ", "\t", "\x0b", "\x1c", "é", "—"]),
    max_size=120,
) | st.text(alphabet="ab :", min_size=60, max_size=120)  # near and past the line's length


@settings(max_examples=600, deadline=None)
@given(name=HEADER_NAMES, value=HEADER_VALUES, linesep=st.sampled_from(["\n", "\r\n"]))
def test_the_reminder_policy_folds_every_header_as_compat32_does(
    name: str, value: str, linesep: str
) -> None:
    ours = REMINDER_POLICY.clone(linesep=linesep)
    theirs = email_policy.compat32.clone(linesep=linesep)
    for fold in ("fold_binary", "fold"):
        assert _outcome(getattr(ours, fold), name, value) == _outcome(
            getattr(theirs, fold), name, value
        )


def _outcome(fold: Any, name: str, value: str) -> object:
    """What folding gives, or the error it raises (compat32 refuses a value whose line
    break starts what looks like another header)."""
    try:
        return fold(name, value)
    except Exception as error:
        return type(error)


def test_a_short_ascii_header_takes_the_fast_path_and_a_long_one_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folded: list[str] = []
    original = email_policy.Compat32.fold_binary

    def spy(self: Any, name: str, value: Any) -> bytes:
        folded.append(name)
        return original(self, name, value)

    monkeypatch.setattr(email_policy.Compat32, "fold_binary", spy)
    REMINDER_POLICY.fold_binary("Subject", "Time for your 08:00 medication dose")
    assert folded == [], "a short ASCII value is written as it is"
    REMINDER_POLICY.fold_binary("Subject", "word " * 30)
    REMINDER_POLICY.fold_binary("Subject", "Hora de su dosis de medicación")
    assert folded == ["Subject", "Subject"], "long and non-ASCII values go to compat32"


def _email(cls: type[EmailMultiAlternatives], subject: str, text: str) -> Any:
    message = cls(
        subject=subject,
        body=text,
        to=["Ana Example <ana@example.org>"],
        headers={"Date": "Fri, 04 Dec 2026 08:00:00 -0000", "Message-ID": "<1@example.org>",
                 "List-Unsubscribe": "<https://planner.example.org/me/settings/>"},
    )  # fmt: skip
    message.attach_alternative(f"<p>{text}</p>", "text/html")
    return message


@pytest.mark.parametrize(
    "subject",
    ["Time for your 08:00 medication dose", "Hora de su dosis de las 08:00 — ½ comprimido"],
)
def test_a_reminder_email_is_byte_for_byte_what_django_writes(subject: str) -> None:
    text = "It is time for your 08:00 dose: 1½ tablets of 5 mg.\n\n" + "Call us. " * 150
    ours = _email(ReminderEmail, subject, text).message()
    theirs = _email(EmailMultiAlternatives, subject, text).message()
    theirs.set_boundary(ours.get_boundary())  # the one thing drawn at random

    assert ours.as_bytes(linesep="\r\n") == theirs.as_bytes(linesep="\r\n")
    parsed = email.message_from_bytes(ours.as_bytes(), policy=email_policy.default)
    # compat32 writes a long encoded subject on a continuation line; readers unfold it.
    assert parsed["Subject"].strip() == subject
    assert [part.get_content_type() for part in parsed.walk()] == [
        "multipart/alternative", "text/plain", "text/html"
    ]  # fmt: skip


def test_a_boundary_found_in_a_part_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter(["ab" * 16, "cd" * 16])
    monkeypatch.setattr(secrets, "token_hex", lambda _bytes: next(draws))
    part = email.message_from_string("\n\n--===============" + "ab" * 16 + "==\n")

    assert boundary_for([part]) == "=" * 15 + "cd" * 16 + "=="


def test_each_reminder_email_has_a_boundary_of_its_own() -> None:
    boundaries = {_email(ReminderEmail, "s", "t").message().get_boundary() for _ in range(50)}
    assert len(boundaries) == 50


LINKS = [
    ("I have taken it", "https://p.example/a/t1/"),
    ("I am skipping it", "https://p.example/a/s1/"),
]


def test_the_html_part_shows_links_as_buttons_where_the_text_had_them() -> None:
    text = (
        "It is time for your 08:00 dose.\n\nYou can still take it until 11:00.\n\n"
        "I have taken it: https://p.example/a/t1/\nI am skipping it: https://p.example/a/s1/\n\n"
        "Do not stop your medicine suddenly.\n"
    )
    before, after = html_paragraphs(text, LINKS)
    assert before == ["It is time for your 08:00 dose.", "You can still take it until 11:00."]
    assert after == ["Do not stop your medicine suddenly."]


def test_the_html_part_leaves_out_what_only_introduced_a_button() -> None:
    text = (
        "Hello.\n\nConfirm or decline here:\nhttps://p.example/c/x/\n\n"
        "The link works for 7 days."
    )
    before, after = html_paragraphs(text, [("Confirm or decline", "https://p.example/c/x/")])
    assert before == ["Hello."]
    assert after == ["The link works for 7 days."]


def test_without_buttons_the_html_part_keeps_every_paragraph_and_link() -> None:
    text = "Your plan changed.\n\nCheck your plan: https://p.example/me/plan/\n\nCall us."
    assert html_paragraphs(text) == (
        ["Your plan changed.", "Check your plan: https://p.example/me/plan/", "Call us."], []
    )
