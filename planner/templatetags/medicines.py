"""Template filters for planner.medicines: `{% load medicines %}` then
`{{ dose.product|product_name }}`."""

from __future__ import annotations

from django import template

from planner import medicines

register = template.Library()
register.filter("product_name", medicines.product_name)

