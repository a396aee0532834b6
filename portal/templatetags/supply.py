"""`{% patient_supply plan as supply %}`: the Supply section's data for the include
templates/portal/_supply.html, so each page adds one include line and no view code."""

from __future__ import annotations

from django import template
from django.utils import timezone

from planner.models import TaperPlan
from portal import supply

register = template.Library()


@register.simple_tag
def patient_supply(plan: TaperPlan | None) -> supply.PatientSupply | None:
    return supply.patient_supply(plan, timezone.now())
