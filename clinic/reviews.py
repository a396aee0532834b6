"""What reviewers read: the queue, one plan under review with its changes against the
version before, and a plan's whole audit trail. Read-only; decisions are services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Prefetch, Q, QuerySet

from clinic.selectors import SEVERITY_ORDER, plan_facts, review_wording, schedule_context
from planner.chart import schedule_days
from planner.models import (
    AccessLogEntry,
    Patient,
    PlanFlag,
    PlanReview,
    PlanRevision,
    PlanStatus,
    Regimen,
    RevisionReview,
    SupplyDispensed,
    TaperPlan,
)
from reminders.models import FeedToken

KIDNEY_BANDS = {
    "RENAL_SEVERE": "severe (CrCl < 30)",
    "RENAL_MODERATE": "moderate (CrCl 30–49)",
    "RENAL_MILD": "mild (CrCl 50–79)",
}


def kidney_band(output: dict[str, Any]) -> str:
    """The kidney band the engine judged, in the words of its flags."""
    codes = {flag["code"] for flag in output.get("flags", [])}
    for code, band in KIDNEY_BANDS.items():
        if code in codes:
            return band
    if output.get("creatinine_clearance"):
        return "normal (CrCl ≥ 80)"
    return "not recorded"


@dataclass(frozen=True)
class QueueItem:
    plan: TaperPlan
    revision: PlanRevision
    is_revision: bool
    waiting_since: dt.datetime
    flags: list[PlanFlag]
    age_years: int | None
    kidney_band: str
    length_days: int
    required_length_days: int
    author: User | None

    @property
    def shorter_than_protocol(self) -> bool:
        return 0 < self.length_days < self.required_length_days


def _item(plan: TaperPlan, revision: PlanRevision, *, is_revision: bool) -> QueueItem:
    output = revision.engine_output
    flags = sorted(revision.flags.all(), key=lambda f: (SEVERITY_ORDER.get(f.severity, 3), f.code))
    waiting_since = revision.created_at if is_revision else (plan.submitted_at or plan.updated_at)
    return QueueItem(
        plan=plan,
        revision=revision,
        is_revision=is_revision,
        waiting_since=waiting_since,
        flags=flags,
        age_years=revision.engine_input.get("patient", {}).get("age_years"),
        kidney_band=kidney_band(output),
        length_days=int(output.get("duration_days") or 0),
        required_length_days=int(output.get("required_length_days") or 0),
        author=revision.created_by,
    )


# Plans whose revisions are reviewed: running ones, and finished oral plans that a hold
# or step back after the last dosing day would resume (TaperPlan.revisable_on).
STARTED = (PlanStatus.ACTIVE, PlanStatus.COMPLETED)


def _queued_plans(clinic_id: int) -> QuerySet[TaperPlan]:
    return (
        TaperPlan.objects.filter(patient__clinic_id=clinic_id)
        .filter(
            Q(status=PlanStatus.PENDING_REVIEW)
            | Q(status__in=STARTED, revisions__review_state=RevisionReview.PENDING)
        )
        .distinct()
    )


def review_queue_size(*, clinic_id: int) -> int:
    """How many plans wait for a reviewer (the dashboard's count): one query."""
    return _queued_plans(clinic_id).count()


def review_queue(*, clinic_id: int) -> list[QueueItem]:
    """Plans and revisions waiting for a reviewer, oldest first. Three queries."""
    revisions = PlanRevision.objects.select_related("created_by").prefetch_related("flags")
    plans = (
        _queued_plans(clinic_id)
        .select_related("patient")
        .prefetch_related(
            Prefetch("revisions", queryset=revisions.order_by("number"), to_attr="all_revisions")
        )
    )
    items = []
    for plan in plans:
        by_number = {rev.number: rev for rev in plan.all_revisions}
        if plan.status == PlanStatus.PENDING_REVIEW:
            current = next(r for r in by_number.values() if r.pk == plan.current_revision_id)
            items.append(_item(plan, current, is_revision=False))
        else:
            pending = next(
                r for r in by_number.values() if r.review_state == RevisionReview.PENDING
            )
            items.append(_item(plan, pending, is_revision=True))
    return sorted(items, key=lambda item: item.waiting_since)


# --- one plan under review --------------------------------------------------------------


def under_review(plan: TaperPlan) -> PlanRevision | None:
    """The revision the reviewer decides on: a pending revision of a running plan, or the
    current version of a plan in the queue."""
    if plan.status in STARTED:
        pending = plan.revisions.filter(review_state=RevisionReview.PENDING).first()
        if pending is not None:
            return pending
    if plan.status == PlanStatus.PENDING_REVIEW:
        return plan.current_revision
    return None


def _day_rows(output: dict[str, Any]) -> dict[dt.date, tuple[str, Decimal]]:
    return {
        day["date"]: (
            "; ".join(f"{dose['time']} {dose['amount_mg']} mg" for dose in day["doses"]),
            Decimal(str(day["daily_total_mg"])),
        )
        for day in schedule_days(output)
    }


def revision_changes(before: PlanRevision, after: PlanRevision) -> dict[str, Any]:
    """What a revision changes against the version before it: dates, days, flags."""
    old, new = before.engine_output, after.engine_output
    old_days, new_days = _day_rows(old), _day_rows(new)
    days = []
    for day in sorted(old_days.keys() | new_days.keys()):
        was, now = old_days.get(day), new_days.get(day)
        if was != now:
            days.append({"date": day, "before": was, "after": now})
    old_flags = {f["code"]: f for f in old.get("flags", [])}
    new_flags = {f["code"]: f for f in new.get("flags", [])}
    facts = []
    for label, key in (
        ("First day", "start_date"),
        ("Last day", "end_date"),
        ("Length (days)", "duration_days"),
        ("Protocol length (days)", "required_length_days"),
        ("Days per step", "step_interval_days"),
    ):
        if old.get(key) != new.get(key):
            facts.append({"label": label, "before": old.get(key), "after": new.get(key)})
    old_patient = before.engine_input.get("patient", {})
    new_patient = after.engine_input.get("patient", {})
    for key in sorted(old_patient.keys() | new_patient.keys()):
        if old_patient.get(key) != new_patient.get(key):
            facts.append(
                {"label": f"Patient: {key.replace('_', ' ')}",
                 "before": old_patient.get(key), "after": new_patient.get(key)}
            )
    return {
        "before": before,
        "facts": facts,
        "days": days,
        "flags_added": [new_flags[c] for c in new_flags.keys() - old_flags.keys()],
        "flags_removed": [old_flags[c] for c in old_flags.keys() - new_flags.keys()],
    }


def review_page(plan: TaperPlan, revision: PlanRevision) -> dict[str, Any]:
    """The revision as the clinician saw it, plus what changed: for a running plan,
    against the version in force (what the patient follows now, which the revision was
    built on); for a plan sent back and changed, against the version the reviewer saw."""
    before: PlanRevision | None
    if plan.status in STARTED:
        before = plan.current_revision
    else:
        before = (
            plan.revisions.filter(number__lt=revision.number)
            .exclude(review_state__in=[RevisionReview.PENDING])
            .order_by("-number")
            .first()
        )
    return {
        "plan": plan,
        "patient": plan.patient,
        "revision": revision,
        "item": _item(plan, revision, is_revision=plan.status in STARTED),
        "changes": revision_changes(before, revision) if before is not None else None,
        "past_reviews": PlanReview.objects.filter(revision__plan=plan)
        .select_related("reviewer", "revision")
        .order_by("created_at"),
        **schedule_context(revision.engine_input, revision.engine_output),
        **review_wording(plan, revision),
        **plan_facts(plan, revision),
    }


# --- the audit trail --------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    at: dt.datetime
    who: str
    what: str
    change: str
    fields: list[str]


def _history_rows(records: Any, label: str) -> list[HistoryRow]:
    rows = []
    previous: dict[int, Any] = {}
    for record in sorted(records, key=lambda r: (r.history_date, r.history_id)):
        before = previous.get(record.id)
        changed: list[str] = []
        if before is not None:
            delta = record.diff_against(before)
            changed = [f"{c.field}: {c.old} → {c.new}" for c in delta.changes]
        previous[record.id] = record
        rows.append(
            HistoryRow(
                at=record.history_date,
                who=str(record.history_user) if record.history_user else "system",
                what=f"{label} {record.id}",
                change=record.get_history_type_display(),
                fields=changed,
            )
        )
    return rows


def plan_audit(plan: TaperPlan) -> dict[str, Any]:
    """Every change to the plan, its revisions, flags, reviews, its patient and regimens,
    newest first; and who opened the plan or the patient's records."""
    revision_ids = list(plan.revisions.values_list("id", flat=True))
    regimen_ids = list(plan.revisions.values_list("regimen_id", flat=True))
    history_user = "history_user"
    rows = [
        *_history_rows(TaperPlan.history.filter(id=plan.pk).select_related(history_user), "Plan"),
        *_history_rows(
            PlanRevision.history.filter(id__in=revision_ids).select_related(history_user),
            "Revision",
        ),
        *_history_rows(
            PlanFlag.history.filter(revision_id__in=revision_ids).select_related(history_user),
            "Flag",
        ),
        *_history_rows(
            PlanReview.history.filter(revision_id__in=revision_ids).select_related(history_user),
            "Review",
        ),
        *_history_rows(
            Patient.history.filter(id=plan.patient_id).select_related(history_user), "Patient"
        ),
        *_history_rows(
            Regimen.history.filter(id__in=regimen_ids).select_related(history_user), "Regimen"
        ),
        *_history_rows(
            FeedToken.history.filter(patient_id=plan.patient_id).select_related(history_user),
            "Calendar address",
        ),
        *_history_rows(
            SupplyDispensed.history.filter(plan_id=plan.pk).select_related(history_user),
            "Supply dispensed",
        ),
    ]
    rows.sort(key=lambda row: row.at, reverse=True)
    access = (
        AccessLogEntry.objects.filter(Q(plan=plan) | Q(patient_id=plan.patient_id, plan=None))
        .select_related("user", "plan")
        .order_by("-at", "-id")[:500]
    )
    return {"plan": plan, "patient": plan.patient, "history": rows, "access_log": access}
