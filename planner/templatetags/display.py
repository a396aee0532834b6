"""Template filters for planner.display: `{% load display %}` then `{{ amount|mg }}`,
`{{ day|long_day }}`, `{{ day|full_date }}`."""

from __future__ import annotations

from django import template

from planner import display

register = template.Library()
register.filter("mg", display.mg)
register.filter("long_day", display.long_day)
register.filter("full_date", display.full_date)
register.filter("short_day", display.short_day)
register.filter("short_date", display.short_date)
