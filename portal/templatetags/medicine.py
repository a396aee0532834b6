"""`{% load medicine %}{{ plan.drug|medicine }}`: a drug as the patient reads it, in
their language (planner.medicines.drug_label)."""

from __future__ import annotations

from django import template

from planner.medicines import drug_label

register = template.Library()
register.filter("medicine", drug_label)
