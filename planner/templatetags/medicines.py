"""Template filters for planner.medicines: `{% load medicines %}` then
`{{ dose.product|product_name }}`, `{{ plan|withdrawal_risk_text }}`."""

from __future__ import annotations

from typing import Any

from django import template

from planner import medicines

register = template.Library()
register.filter("product_name", medicines.product_name)


@register.filter
def withdrawal_risk_text(plan: Any) -> str:
    """The clinician's withdrawal-risk sentence for a plan's drug (its current version's
    product), e.g. in the abrupt-stop alert e-mail."""
    revision = getattr(plan, "current_revision", None)
    product_id = revision.engine_input.get("product") if revision is not None else None
    return str(medicines.withdrawal_risk(product_id).clinician)
