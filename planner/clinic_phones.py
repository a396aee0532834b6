"""The clinic's numbers wherever a patient is told to call it (issue #17): one text for
messages (e-mail, and the other channels built from the same message context), with the
numbers plain; the HTML part of an e-mail turns them into tel: links
(clinic_phones_linked); and one template include for pages and the handout
(templates/planner/_clinic_phones.html). All from Clinic.phone, out_of_hours_phone and
opening_hours."""

from __future__ import annotations

import re

from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from planner.models import Clinic


def clinic_phones_text(clinic: Clinic) -> str:
    """ "Call your clinic: +1 555 0100, Mon–Fri 08:00–18:00. Out of hours: +1 555 0199."
    in the active language; empty if the clinic has no number. A text e-mail, a text
    message and a notification show the number as it is (phones make it tappable); the
    HTML e-mail links it (clinic_phones_linked)."""
    parts = []
    if clinic.phone:
        text = _("Call your clinic: %(number)s") % {"number": clinic.phone}
        if clinic.opening_hours:
            text += f", {clinic.opening_hours}"
        parts.append(text + ".")
    if clinic.out_of_hours_phone:
        parts.append(
            _("Out of hours: %(number)s.") % {"number": clinic.out_of_hours_phone}
        )
    return " ".join(parts)


def clinic_phones_linked(text: str, clinic: Clinic | None) -> SafeString:
    """The text, escaped, with each of the clinic's numbers in it as a tel: link: the
    HTML part of an e-mail whose text part names them (templates/reminders/email/base.html)."""
    html = str(conditional_escape(text))
    numbers = {
        str(escape(number)): (number, tel)
        for number, tel in (
            (clinic.phone, clinic.phone_tel) if clinic else ("", ""),
            (clinic.out_of_hours_phone, clinic.out_of_hours_tel) if clinic else ("", ""),
        )
        if number
    }
    if not numbers:
        return mark_safe(html)  # noqa: S308  # escaped above
    # One pass, longest first: a number inside another, or inside a link already made,
    # is never linked twice.
    pattern = re.compile("|".join(re.escape(key) for key in sorted(numbers, key=len, reverse=True)))
    linked = pattern.sub(
        lambda match: str(format_html('<a href="{}">{}</a>', numbers[match.group()][1],
                                      numbers[match.group()][0])),
        html,
    )  # fmt: skip
    return mark_safe(linked)  # noqa: S308  # escaped above, links built by format_html

