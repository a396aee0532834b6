"""`{% load medicine %}{{ plan.drug|medicine }}`: a drug as the patient reads it, in
their language (reminders.amounts.drug_name)."""

from __future__ import annotations

from django import template

from reminders.amounts import drug_name

register = template.Library()
register.filter("medicine", drug_name)
