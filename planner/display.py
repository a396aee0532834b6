"""How a dose amount and a day read in front of a patient, in the active language: one
function each, used by the pages, the e-mails, the calendar and the chart alike."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils.formats import date_format, get_format
from django.utils.translation import pgettext

from taper.rounding import format_amount


def mg(amount: Decimal | int | float | str) -> str:
    """7.50 → "7.5" ("7,5" in Spanish), 10.00 → "10": the same digits everywhere (no
    trailing zeros), with the active language's decimal mark. For reading only: form
    fields and the API keep the plain decimal point."""
    return format_amount(Decimal(str(amount))).replace(".", str(get_format("DECIMAL_SEPARATOR")))


def _as_date(day: dt.date | str) -> dt.date:
    return dt.date.fromisoformat(day) if isinstance(day, str) else day


def long_day(day: dt.date | str) -> str:
    """"Tuesday 1 December", "martes 1 de diciembre": the format is translated with the
    words, since Spanish puts "de" between the day and the month."""
    return date_format(_as_date(day), pgettext("date format: weekday, day and month", "l j F"))


def full_date(day: dt.date | str) -> str:
    """"1 December 2026", "1 de diciembre de 2026"."""
    return date_format(_as_date(day), pgettext("date format: day, month and year", "j F Y"))


def short_date(day: dt.date | str) -> str:
    """"Mon 1 Mar 2027", "lun 1 mar 2027": a table's date column."""
    return date_format(
        _as_date(day), pgettext("date format: short weekday, day, short month and year", "D j M Y")
    )


def short_day(day: dt.date | str) -> str:
    """"1 Dec", "1 dic": a chart axis label."""
    return date_format(_as_date(day), pgettext("date format: day and short month", "j M"))
