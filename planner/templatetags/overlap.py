"""`{% load overlap %}{% plan_overlaps plan revision as overlaps %}`: the CNS-depressant
overlap warning (planner.overlap) for the page that includes
templates/planner/_overlap_warning.html, whatever view renders it."""

from __future__ import annotations

from django import template

from planner.models import PlanRevision, TaperPlan
from planner.overlap import Overlap, plan_overlaps

register = template.Library()


@register.simple_tag
def overlaps_of(plan: TaperPlan, revision: PlanRevision | None = None) -> list[Overlap]:
    if not isinstance(plan, TaperPlan):
        return []
    return plan_overlaps(plan, revision if isinstance(revision, PlanRevision) else None)
