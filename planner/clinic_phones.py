"""The clinic's numbers wherever a patient is told to call it (issue #17): one text for
messages (e-mail, and the other channels built from the same message context) and one
template include for pages and the handout (templates/planner/_clinic_phones.html),
both from Clinic.phone, out_of_hours_phone and opening_hours, as tel: links."""

from __future__ import annotations

from django.utils.translation import gettext as _

from planner.models import Clinic


def clinic_phones_text(clinic: Clinic) -> str:
    """ "Call your clinic: +1 555 0100 (tel:+15550100), Mon–Fri 08:00–18:00. Out of
    hours: +1 555 0199 (tel:+15550199)." in the active language; empty if the clinic
    has no number."""
    parts = []
    if clinic.phone:
        text = _("Call your clinic: %(number)s (%(tel)s)") % {
            "number": clinic.phone, "tel": clinic.phone_tel,
        }
        if clinic.opening_hours:
            text += f", {clinic.opening_hours}"
        parts.append(text + ".")
    if clinic.out_of_hours_phone:
        parts.append(
            _("Out of hours: %(number)s (%(tel)s).")
            % {"number": clinic.out_of_hours_phone, "tel": clinic.out_of_hours_tel}
        )
    return " ".join(parts)
