"""Reads for the clinic pages, always scoped to what the user may see."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext

import taper
from planner import continuity, medicines, overlap, patient_words
from planner import engine_input as engine_input_module
from planner.chart import dose_chart, schedule_days
from planner.links import url_path
from planner.models import (
    AlertEvent,
    AlertEventKind,
    Patient,
    PlanReview,
    PlanRevision,
    PlanStatus,
    ReviewDecision,
    RevisionReview,
    StaffMember,
    TaperPlan,
)
from planner.plan_reads import missed_dose_by_step
from planner.roles import Role, has_role
from reminders import checkin
from reminders.amounts import with_words
from reminders.caregivers import caregivers_listed
from reminders.models import AbruptStopAlert, Dose, DoseStatus, Notice
from reminders.preferences import email_failing_since
from taper.dispensing import PharmacyOrder, pharmacy_order_from_plan_json
from taper.rounding import format_amount


def staff_clinic_id(user: User | AnonymousUser) -> int | None:
    if not user.is_authenticated:
        return None
    return StaffMember.objects.filter(user=user).values_list("clinic_id", flat=True).first()


def home_context_for(user: User | AnonymousUser) -> dict[str, Any]:
    clinic_id = staff_clinic_id(user)
    roles = [role for role in Role if has_role(user, role)]
    patients = (
        Patient.objects.filter(clinic_id=clinic_id).select_related("clinic")
        if clinic_id is not None
        else Patient.objects.none()
    )
    return {"roles": roles, "patients": patients, "clinic_id": clinic_id}


SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def sorted_flags(flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(flags, key=lambda flag: SEVERITY_ORDER.get(flag["severity"], 3))


# A revision's engine input and output (the whole day-by-day plan) are large; lists that
# show only its dates leave them in the database.
_REVISION_JSON = ("current_revision__engine_input", "current_revision__engine_output")


DASHBOARD_PAGE_SIZE = 25
# A triage list shows the 25 most urgent; the rest wait on the patient list.
ACTION_LIMIT = 25
# The running plans are counted up to here: past it the page says "more than 100" and
# offers the search (an exact count read every running plan of the clinic on each request).
RUNNING_COUNT_LIMIT = 100
MISSED_TODAY = "Missed doses in the last 24 h"
# The newest missed doses read for "needs action", per plan shown: twice as many as
# plans finds them unless many plans missed more than two doses in the day (then the list
# says there are more). Four times as many made PostgreSQL scan every plan to join them.
MISSED_ROWS = 2
# Plans with symptoms rising shown, longest waiting first.
RISING_LIMIT = 20


REVISION_WAITS = "A revision waits for review"
# planner.continuity.facts_changed says what changed, on the plan page.
FACTS_CHANGED_WHY = "Facts changed since this plan was approved"


def id_url(name: str) -> Any:
    """The path of `name` for a row's id (planner.links: one reversal per route)."""
    return functools.partial(url_path, name)


@dataclass
class RunningPage:
    """A page of the running plans: numbered, with a count only up to
    RUNNING_COUNT_LIMIT (``count`` None past it)."""

    number: int
    count: int | None
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def num_pages(self) -> int | None:
        return None if self.count is None else max(1, -(-self.count // DASHBOARD_PAGE_SIZE))


def _page_number(page: Any) -> int:
    try:
        return max(1, int(page))
    except (TypeError, ValueError):
        return 1


# The tables, by name (tests/planner/test_dashboard.py checks them against the models).
DASHBOARD_TABLES = ("planner_taperplan", "planner_patient", "planner_planrevision",
                    "reminders_dose")
_WAITING = (PlanStatus.DRAFT, PlanStatus.PENDING_REVIEW, PlanStatus.APPROVED)
# The dashboard's lists as SQL of their own (issue #18): the same reads through the ORM
# spent more CPU building the SQL of their subqueries (about 10 ms a request) than the
# database spent answering them. Each list walks an index and stops at its limit.
# Each part: the plans' rows, and why (a parameter), read in its index's order and
# limited (SQLite allows a limit in a member of a UNION only inside a subquery).
_NEEDS_ACTION_SQL = (
    # Running plans with missed doses in the last 24 h (the partial index dose_missed_due).
    "SELECT * FROM (SELECT p.id, p.status, p.requires_review, p.updated_at, p.patient_id, "
    "q.given_name, q.family_name, %s AS why FROM reminders_dose d "
    "JOIN planner_taperplan p ON p.id = d.plan_id JOIN planner_patient q ON q.id = p.patient_id "
    "WHERE d.status = 'missed' AND d.due_at >= %s AND d.due_at <= %s AND p.status = 'active' "
    "AND q.clinic_id = %s ORDER BY d.due_at DESC LIMIT %s) missed "
    # Drafts and plans waiting for review or activation (plan_waiting_updated).
    "UNION ALL "
    "SELECT * FROM (SELECT p.id, p.status, p.requires_review, p.updated_at, p.patient_id, "
    "q.given_name, q.family_name, %s AS why FROM planner_taperplan p "
    "JOIN planner_patient q ON q.id = p.patient_id "
    "WHERE p.status IN (%s, %s, %s) AND q.clinic_id = %s "
    "ORDER BY p.updated_at DESC LIMIT %s) waiting "
    # A revision waiting for review (revision_pending).
    "UNION ALL "
    "SELECT * FROM (SELECT p.id, p.status, p.requires_review, p.updated_at, p.patient_id, "
    "q.given_name, q.family_name, %s AS why FROM planner_planrevision r "
    "JOIN planner_taperplan p ON p.id = r.plan_id JOIN planner_patient q ON q.id = p.patient_id "
    "WHERE r.review_state = 'pending' AND q.clinic_id = %s "
    "ORDER BY r.created_at DESC LIMIT %s) revising "
    # Running plans approved before the patient's risk facts last changed (issue #15;
    # the partial index patient_facts_changed).
    "UNION ALL "
    "SELECT * FROM (SELECT p.id, p.status, p.requires_review, p.updated_at, p.patient_id, "
    "q.given_name, q.family_name, %s AS why FROM planner_patient q "
    "JOIN planner_taperplan p ON p.patient_id = q.id "
    "JOIN planner_planrevision r ON r.id = p.current_revision_id "
    "WHERE p.status = 'active' AND q.clinic_id = %s "
    "AND q.risk_facts_changed_at > r.created_at "
    "ORDER BY q.risk_facts_changed_at DESC LIMIT %s) facts"
)
# Running plans that are not in the list above (not missed in the last 24 h, no
# revision waiting, facts unchanged), by the patient's name (patient_clinic_name).
_RUNNING_FROM = (
    "FROM planner_taperplan p JOIN planner_patient q ON q.id = p.patient_id "
    "LEFT JOIN planner_planrevision r ON r.id = p.current_revision_id "
    "WHERE q.clinic_id = %s AND p.status = 'active' "
    "AND NOT EXISTS (SELECT 1 FROM reminders_dose d WHERE d.plan_id = p.id AND d.status = 'missed' "
    "AND d.due_at >= %s AND d.due_at <= %s) "
    "AND NOT EXISTS (SELECT 1 FROM planner_planrevision w WHERE w.plan_id = p.id "
    "AND w.review_state = 'pending') "
    "AND NOT (q.risk_facts_changed_at IS NOT NULL AND r.created_at IS NOT NULL "
    "AND q.risk_facts_changed_at > r.created_at)"
)
_NAME_WORD = (
    " AND (UPPER(q.family_name) LIKE UPPER(%s) ESCAPE '\\' "
    "OR UPPER(q.given_name) LIKE UPPER(%s) ESCAPE '\\')"
)


def _db_datetime(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _read_datetime(value: Any) -> dt.datetime:
    """A timestamp as the driver returns it: PostgreSQL's aware, SQLite's text in UTC."""
    if isinstance(value, str):
        value = parse_datetime(value)
    assert isinstance(value, dt.datetime)
    return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)


def _read_date(value: Any) -> dt.date | None:
    return parse_date(value) if isinstance(value, str) else value


def _when(at: dt.datetime) -> str:
    """A moment in the current time zone as the dashboard shows it ("Y-m-d H:i T")."""
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M %Z")


def _like(word: str) -> str:
    """``word`` anywhere, as Django's icontains matches it."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_STATUS_TEXT = {status.value: str(status.label).lower() for status in PlanStatus}


def _waiting_reason_of(status: str, requires_review: bool) -> str:
    if status == PlanStatus.PENDING_REVIEW:
        return "Waits for review"
    if status == PlanStatus.APPROVED:
        return "Approved: activate it"
    if requires_review:
        return "Draft: submit it for review"
    return "Draft: activate or change it"


def _needs_action(
    clinic_id: int, window: tuple[dt.datetime, dt.datetime]
) -> tuple[list[dict[str, Any]], bool]:
    """The plans that need someone to act, at most ACTION_LIMIT, and whether there are
    more: running plans with missed doses in the last 24 h first, then drafts and plans
    waiting for review or activation, plans with a revision waiting and running plans
    approved before the patient's risk facts changed, most recently changed first. Each
    kind is read from its own index and stops after ACTION_LIMIT + 1 plans (MISSED_ROWS ×
    that many missed doses); one query, which never reads every plan of the clinic."""
    cap = ACTION_LIMIT + 1
    start, end = (_db_datetime(at) for at in window)
    with connection.cursor() as cursor:
        cursor.execute(_NEEDS_ACTION_SQL, [
            MISSED_TODAY, start, end, clinic_id, MISSED_ROWS * cap,
            "", *_WAITING, clinic_id, cap,
            REVISION_WAITS, clinic_id, cap,
            FACTS_CHANGED_WHY, clinic_id, cap,
        ])
        found = cursor.fetchall()
    # All the newest missed doses read: older ones may wait behind them.
    more = sum(1 for found_row in found if found_row[7] == MISSED_TODAY) >= MISSED_ROWS * cap
    # A plan found for two reasons shows the first of: missed doses, a revision waiting,
    # facts changed, its status (""). Rows are built for the plans shown only.
    priority = {MISSED_TODAY: 0, REVISION_WAITS: 1, FACTS_CHANGED_WHY: 2, "": 3}
    best: dict[int, tuple[Any, ...]] = {}
    for found_row in found:
        known = best.get(found_row[0])
        if known is None or priority[found_row[7]] < priority[known[7]]:
            best[found_row[0]] = found_row
    order = sorted(
        best.values(),
        key=lambda row: (row[7] != MISSED_TODAY, -_read_datetime(row[3]).timestamp(), -row[0]),
    )
    patient_url, plan_url = id_url("patient"), id_url("plan")
    rows: list[dict[str, Any]] = []
    for pk, status, requires_review, updated_at, patient_id, given, family, why in order[
        :ACTION_LIMIT
    ]:
        rows.append({
            "pk": pk,
            "why": why or _waiting_reason_of(status, requires_review),
            "status": _STATUS_TEXT.get(status, status),
            "name": f"{given} {family}",
            "patient_id": patient_id,
            "patient_url": patient_url(patient_id),
            "plan_url": plan_url(pk),
            "plan_label": f"Plan {pk}",
            "updated": _when(_read_datetime(updated_at)),
        })
    return rows, more or len(order) > ACTION_LIMIT


def _running_page(
    clinic_id: int, window: tuple[dt.datetime, dt.datetime], search: str, page: Any
) -> tuple[RunningPage, list[dict[str, Any]]]:
    """A page of the running plans not needing action, by the patient's name, and how
    many there are up to RUNNING_COUNT_LIMIT: two queries that stop at their limit."""
    start, end = (_db_datetime(at) for at in window)
    where, params = _RUNNING_FROM, [clinic_id, start, end]
    for word in search.split():
        where += _NAME_WORD
        params += [_like(word), _like(word)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 {where} LIMIT %s) found",  # noqa: S608
            [*params, RUNNING_COUNT_LIMIT + 1],
        )
        count = cursor.fetchone()[0]
        number = _page_number(page)
        if count <= RUNNING_COUNT_LIMIT:
            # A page past the last shows the last, as before.
            number = min(number, max(1, -(-count // DASHBOARD_PAGE_SIZE)))
        cursor.execute(
            f"SELECT p.id, p.patient_id, q.given_name, q.family_name, r.end_date {where} "
            "ORDER BY q.family_name, q.given_name, p.patient_id, p.id LIMIT %s OFFSET %s",
            [*params, DASHBOARD_PAGE_SIZE + 1, (number - 1) * DASHBOARD_PAGE_SIZE],
        )
        found = cursor.fetchall()
    rest = RunningPage(
        number=number,
        count=count if count <= RUNNING_COUNT_LIMIT else None,
        has_next=len(found) > DASHBOARD_PAGE_SIZE,
    )
    found = found[:DASHBOARD_PAGE_SIZE]
    counts: dict[int, dict[str, int]] = {}
    if found:
        for row in (
            Dose.objects.filter(plan_id__in=[pk for pk, *_rest in found], due_at__range=window)
            .exclude(status=DoseStatus.CANCELLED)
            .values("plan_id", "status")
            .annotate(n=Count("id"))
            .order_by()
        ):
            counts.setdefault(row["plan_id"], {})[row["status"]] = row["n"]
    patient_url, plan_url = id_url("patient"), id_url("plan")
    rows = []
    for pk, patient_id, given, family, end_date in found:
        by_status = counts.get(pk, {})
        rows.append({
            "pk": pk,
            "patient_id": patient_id,
            "name": f"{given} {family}",
            "patient_url": patient_url(patient_id),
            "plan_url": plan_url(pk),
            "ends": _read_date(end_date),
            "due": sum(by_status.values()),
            "taken": by_status.get(DoseStatus.TAKEN, 0),
            "missed": by_status.get(DoseStatus.MISSED, 0),
        })
        # Shown as text: the template's number formatting was much of its time (#18).
        shown = rows[-1]
        shown.update(
            plan_label=f"Plan {pk}", taken_due=f"{shown['taken']} / {shown['due']}",
            missed_text=str(shown["missed"]),
            ends_text=formats.date_format(shown["ends"]) if shown["ends"] else "None",
        )
    return rest, rows


def dashboard(*, clinic_id: int, search: str = "", page: Any = 1) -> dict[str, Any]:
    """The clinic's triage list (issue #18): open abrupt-stop alerts first, then plans
    with symptoms rising, then plans that need someone to act (running plans with missed
    doses in the last 24 h first, then drafts, plans waiting for review or activation,
    revisions waiting and running plans whose patient's risk facts changed, most
    recently changed first), then every other running plan by the patient's name, a
    page at a time and searchable. The number of queries and the rows each reads do not
    grow with the clinic's plans: every list is read from an index and stops at its
    limit (docs/reliability.md)."""
    now = timezone.now()
    window = (now - dt.timedelta(hours=24), now)
    alerts = (
        AbruptStopAlert.objects.filter(plan__patient__clinic_id=clinic_id, closed_at__isnull=True)
        .select_related("plan__patient")
        .prefetch_related(Prefetch("events", queryset=AlertEvent.objects.select_related("by")))
        .order_by("raised_at")
    )
    action_rows, action_more = _needs_action(clinic_id, window)
    search = search.strip()[:100]
    rest, rest_rows = _running_page(clinic_id, window, search, page)
    patient_url, plan_url = id_url("patient"), id_url("plan")
    rising = checkin.symptoms_rising_first(clinic_id=clinic_id, limit=RISING_LIMIT)
    answers_url, hold_url = id_url("patient_dose_history"), id_url("plan_hold_symptoms")
    revise_url = id_url("plan_revise")
    for shown in rising:
        plan = shown["plan"]
        shown.update(
            name=f"{plan.patient.given_name} {plan.patient.family_name}",
            patient_url=patient_url(plan.patient_id),
            plan_url=plan_url(plan.pk),
            answers_url=answers_url(plan.patient_id),
            hold_url=hold_url(plan.pk),
            revise_url=revise_url(plan.pk),
            plan_label=f"Plan {plan.pk}",
            since=_when(plan.rising_since),
        )
    return {
        "alerts": alerts,
        "rising": rising,
        "missed_today": MISSED_TODAY,
        "action_rows": action_rows,
        "action_more": action_more,
        "rest": rest,
        "rest_rows": rest_rows,
        "running_count_limit": RUNNING_COUNT_LIMIT,
        "search": search,
        "today": now.date(),
    }


def clinic_alert(*, clinic_id: int, pk: int) -> AbruptStopAlert:
    """One abrupt-stop alert of the clinic; another clinic's is a 404."""
    return get_object_or_404(
        AbruptStopAlert.objects.select_related("plan__patient", "closed_by"),
        pk=pk,
        plan__patient__clinic_id=clinic_id,
    )


def alert_page(alert: AbruptStopAlert) -> dict[str, Any]:
    events = list(alert.events.select_related("by"))
    kinds = {event.kind for event in events}
    return {
        "alert": alert,
        "plan": alert.plan,
        "patient": alert.plan.patient,
        "events": events,
        "acknowledged": next((e for e in events if e.kind == AlertEventKind.ACKNOWLEDGED), None),
        "can_acknowledge": alert.closed_at is None and AlertEventKind.ACKNOWLEDGED not in kinds,
        "is_open": alert.closed_at is None,
        # What stopping this plan's drug suddenly risks: here, after sign-in, and not in
        # the alert's e-mail (PHI-minimal).
        "withdrawal": medicines.withdrawal_risk(
            alert.plan.current_revision.engine_input.get("product")
            if alert.plan.current_revision is not None
            else None
        ),
    }


def patient_page(patient: Patient) -> dict[str, Any]:
    plans = (
        patient.plans.select_related("current_revision", "created_by")
        .prefetch_related("revisions")
        .order_by("-created_at", "-id")
    )
    regimen = patient.regimens.prefetch_related("doses").order_by("-created_at", "-id").first()
    return {
        "patient": patient,
        "email_failing_since": email_failing_since(patient),
        "caregivers": caregivers_listed(patient),
        "plans": plans,
        "regimen": regimen,
        "regimen_product": product_name(regimen.product) if regimen else "",
        "regimen_doses": [
            f"{dose.time:%H:%M} {format_amount(dose.amount_mg)} mg" for dose in regimen.doses.all()
        ] if regimen else [],
        "regimen_pump": pump_in_words(regimen.pump) if regimen and regimen.pump else "",
    }


def pump_in_words(pump: dict[str, Any]) -> str:
    """The pump record as entered, in one line: what the alarm and refill dates follow from."""
    def number(key: str) -> str:
        return format_amount(Decimal(str(pump[key]))) if pump.get(key) is not None else "?"

    visits = len(pump.get("wean_steps") or [])
    return (
        f"pump {number('concentration_mcg_per_ml')} mcg/mL at {number('daily_dose_mcg')} mcg "
        f"a day, reservoir {number('reservoir_ml')} mL, alarm at {number('alarm_volume_ml')} "
        f"mL, last refilled {pump.get('last_refill_date') or '?'}"
        + (f", {visits} wean visit{'s' if visits != 1 else ''}" if visits else "")
    )


def product_name(product_id: str) -> str:
    """The catalogue's name for a product ("Clonazepam tablets"), never its id."""
    return medicines.product_name(product_id)


def plan_medicine(plan: TaperPlan) -> dict[str, Any]:
    """The medicine of a plan's current version and what stopping it suddenly risks (the
    cancel and revise pages)."""
    revision = plan.current_revision
    product_id = revision.engine_input.get("product") if revision is not None else None
    return {
        "medicine": medicines.product_name(product_id),
        "drug": medicines.drug_name(product_id),
        "withdrawal": medicines.withdrawal_risk(product_id),
    }


def plan_form_initial(patient: Patient, *, source: TaperPlan | None = None) -> dict[str, Any]:
    """The new-plan form starts empty (only the first day, tomorrow): nothing is copied
    from an earlier plan unless the clinician chose ``source`` ("start from plan N").
    Then its regimen, goal, pace and first day are copied (tomorrow if that has passed)."""
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    if source is None or source.current_revision is None:
        return {"start_date": tomorrow}
    initial = engine_input_module.plan_form_initial(source.current_revision.engine_input)
    # Its first day if that is still ahead; no plan starts in the past.
    initial.update(start_date=max(initial["start_date"], tomorrow), source_plan=source.pk)
    return initial


def plan_form_sources(patient: Patient) -> Any:
    """The patient's plans a new plan may start from, newest first."""
    return (
        patient.plans.select_related("current_revision")
        .defer("current_revision__engine_output")
        .order_by("-created_at", "-id")[:10]
    )


def patient_plan(patient: Patient, pk: int) -> TaperPlan:
    return get_object_or_404(patient.plans.select_related("current_revision"), pk=pk)


def _current_daily_mg(engine_input: dict[str, Any]) -> Decimal:
    return sum((Decimal(str(d["amount_mg"])) for d in engine_input.get("doses", [])), Decimal(0))


def _final_daily_mg(engine_input: dict[str, Any]) -> Decimal:
    goal = engine_input.get("goal") or {}
    if goal.get("type") == "reduce":
        return Decimal(str(goal["target_daily_mg"]))
    return Decimal(0)



def schedule_context(
    engine_input: dict[str, Any], output: dict[str, Any], today: dt.date | None = None
) -> dict[str, Any]:
    """What every view of a schedule shows: clinician, reviewer and handout alike. Given
    ``today`` (a running plan), the chart marks it."""
    chart_input = {
        **output,
        "today": today.isoformat() if today else None,
        "current_daily_mg": _current_daily_mg(engine_input),
        "final_daily_mg": _final_daily_mg(engine_input),
    }
    return {
        "output": output,
        "flags": sorted_flags(output.get("flags", [])),
        "critical_flags": [f for f in output.get("flags", []) if f["severity"] == "critical"],
        "chart": dose_chart(chart_input),
        "days": schedule_days(output),
        "missed_dose_steps": missed_dose_by_step(output),
        # The last dosing day of a plan that stops: its last dose has no next one.
        "last_day_missed_dose": (output.get("last_day_missed_dose") or [])[-1:],
        "current_daily_mg": chart_input["current_daily_mg"],
    }


def pace_comparison(engine_input: dict[str, Any]) -> list[dict[str, Any]]:
    """The protocol's pace, the slower one and the clinician's custom one (when chosen)
    for the same regimen, side by side before saving (issue #18). Oral plans only; a
    pace the engine refuses is shown with its reason."""
    if not engine_input.get("doses"):
        return []
    chosen = engine_input.get("pace", "standard")
    paces: list[tuple[str, Any]] = [("Protocol pace", "standard"), ("Slower (× 1.5)", "slower")]
    if isinstance(chosen, dict):
        paces.append(("Custom", chosen))
    rows: list[dict[str, Any]] = []
    for label, pace in paces:
        row: dict[str, Any] = {"label": label, "chosen": pace == chosen}
        try:
            plan = taper.plan(taper.parse_request({**engine_input, "pace": pace}))
        except taper.InvalidPlanInput as refusal:
            row["refused"] = "; ".join(m for ms in refusal.errors.values() for m in ms)
        else:
            cuts = [
                before.daily_total_mg - after.daily_total_mg
                for before, after in zip(plan.steps, plan.steps[1:], strict=False)
            ]
            row.update(
                days=plan.duration_days,
                end_date=plan.end_date,
                steps=len(plan.steps),
                step_days=plan.step_interval_days,
                largest_cut=format_amount(max(cuts)) if cuts else None,
                requires_review=plan.requires_review,
            )
        rows.append(row)
    return rows


def preview(form: Any) -> dict[str, Any]:
    if form.plan is None or form.engine_input is None:
        return {"preview": None}
    output = taper.plan_to_json(form.plan)
    drug = form.plan.request.product.drug
    return {
        "preview": schedule_context(form.engine_input, output),
        "paces": pace_comparison(form.engine_input),
        # Two CNS depressants cut in the same week (issue #22), before the plan is saved.
        "overlap_drug": drug,
        "overlaps": overlap.overlaps_with_others(
            patient_id=form.patient.pk,
            drug=drug,
            ours=overlap.reductions(form.engine_input, output),
        ),
    }


PACE_WORDS = {"standard": "protocol pace", "slower": "slower (× 1.5)"}
CRCL_METHODS = {
    "entered": "entered directly",
    "cockcroft-gault": "Cockcroft–Gault",
    "bedside-schwartz": "bedside Schwartz",
}


def regimen_as_entered(engine_input: dict[str, Any]) -> dict[str, Any]:
    """What the clinician entered for this version: product, doses, goal, pace, and the
    patient facts the engine was given (weight, kidney function)."""
    patient = engine_input.get("patient") or {}
    goal = engine_input.get("goal") or {"type": "discontinue"}
    pace = engine_input.get("pace", "standard")
    if isinstance(pace, dict):
        parts = [f"{pace[k]} {label}" for k, label in (
            ("length_days", "days long"), ("step_days", "days per step"),
            ("percent_per_step", "% per step"),
        ) if k in pace]  # fmt: skip
        if pace.get("shape"):
            parts.append(f"{pace['shape']} reductions")
        pace_text = "custom: " + (", ".join(parts) or "protocol values")
    else:
        pace_text = PACE_WORDS.get(str(pace), str(pace))
    return {
        "product": product_name(str(engine_input.get("product", ""))),
        "switch_to": product_name(engine_input["switch_to"]) if engine_input.get("switch_to")
        else None,
        "months_on_therapy": patient.get("months_on_therapy"),
        "doses": [
            f"{d['time']}{' (' + d['role'] + ')' if d.get('role') else ''} "
            f"{format_amount(Decimal(str(d['amount_mg'])))} mg"
            for d in engine_input.get("doses") or []
        ],
        "goal": "stop completely" if goal.get("type") != "reduce"
        else f"reduce to {format_amount(Decimal(str(goal['target_daily_mg'])))} mg a day",
        "pace": pace_text,
        "start_date": engine_input.get("start_date"),
        "weight_kg": patient.get("weight_kg"),
        "height_cm": patient.get("height_cm"),
        "serum_creatinine_mg_dl": patient.get("serum_creatinine_mg_dl"),
        "entered_crcl_ml_min": patient.get("creatinine_clearance_ml_min"),
        "dialysis": bool(patient.get("dialysis")),
        "age_years": patient.get("age_years"),
    }


def kidney_function(output: dict[str, Any]) -> dict[str, Any] | None:
    """The creatinine clearance the engine used, how it was found and on which weight."""
    crcl = output.get("creatinine_clearance")
    if not crcl:
        return None
    return {
        **crcl,
        "method_text": CRCL_METHODS.get(crcl.get("method", ""), crcl.get("method", "")),
    }


def other_plans(plan: TaperPlan) -> Any:
    """The patient's other plans, newest first, with their dates (no plan JSON)."""
    return (
        TaperPlan.objects.filter(patient_id=plan.patient_id)
        .exclude(pk=plan.pk)
        .select_related("current_revision")
        .defer("current_revision__engine_input", "current_revision__engine_output")
        .order_by("-created_at", "-id")
    )


def plan_facts(plan: TaperPlan, revision: PlanRevision) -> dict[str, Any]:
    """What both the clinician's plan page and the reviewer's page show beside the
    schedule (issue #18: the reviewer sees everything the clinician does)."""
    return {
        "regimen_entered": regimen_as_entered(revision.engine_input),
        "kidney": kidney_function(revision.engine_output),
        "other_plans": other_plans(plan),
        "product_name": product_name(str(revision.engine_input.get("product", ""))),
        "pharmacy": pharmacy_order(plan, revision),
    }


def pharmacy_order(plan: TaperPlan, revision: PlanRevision) -> PharmacyOrder | None:
    """What the pharmacy fills for this version of the plan from the patient's today (or
    its first day, if later), in the catalogue's packs (taper.dispensing)."""
    product = taper.load_catalogue().product(str(revision.engine_input.get("product", "")))
    if product is None:
        return None
    today = timezone.now().astimezone(ZoneInfo(plan.patient.home_timezone)).date()
    return pharmacy_order_from_plan_json(product, revision.engine_output, today=today)


def review_wording(plan: TaperPlan, revision: PlanRevision) -> dict[str, str]:
    """What the schedule says about review for this plan's state, so that an approved or
    running plan no longer says it "needs review before it can start"."""
    critical = "Critical flags"
    if not revision.requires_review:
        return {"review_note": "", "critical_heading": critical + ":"}
    if revision.review_state == RevisionReview.PENDING and plan.status != PlanStatus.DRAFT:
        if plan.status == PlanStatus.PENDING_REVIEW:
            note = "Waiting for a reviewer: it cannot start before it is approved."
        else:
            note = "This version waits for a reviewer; the plan runs as before until then."
        return {"review_note": note, "critical_heading": "Critical — waiting for a reviewer:"}
    if plan.status == PlanStatus.DRAFT:
        return {
            "review_note": "Needs review before it can start.",
            "critical_heading": "Critical — needs a reviewer before the plan can start:",
        }
    if plan.status == PlanStatus.PENDING_REVIEW:
        return {
            "review_note": "Waiting for a reviewer: it cannot start before it is approved.",
            "critical_heading": "Critical — waiting for a reviewer:",
        }
    if plan.approved_at is not None:
        by = plan.approved_by.get_username() if plan.approved_by else "a reviewer"
        when = timezone.localtime(plan.approved_at).strftime("%Y-%m-%d %H:%M %Z")
        return {
            "review_note": f"Reviewed: approved by {by} on {when}.",
            "critical_heading": f"Critical flags, reviewed and approved by {by}:",
        }
    return {"review_note": "", "critical_heading": critical + ":"}


def plan_today(plan: TaperPlan, output: dict[str, Any]) -> dict[str, Any] | None:
    """Where the patient is today on a running plan: the current step, each day so far
    with its doses taken, missed and skipped (from the dose log), and the next change.
    "Today" is the patient's, in their home zone. None for a plan that is not running."""
    if plan.status != PlanStatus.ACTIVE:
        return None
    today = timezone.now().astimezone(ZoneInfo(plan.patient.home_timezone)).date()
    steps = output.get("steps") or []
    current = None
    for number, step in enumerate(steps, start=1):
        if dt.date.fromisoformat(step["start_date"]) <= today <= dt.date.fromisoformat(
            step["end_date"]
        ):
            current = number
    upcoming = [
        (number, step) for number, step in enumerate(steps, start=1)
        if dt.date.fromisoformat(step["start_date"]) > today
    ]  # fmt: skip
    if upcoming:
        number, step = upcoming[0]
        next_change = {
            "date": dt.date.fromisoformat(step["start_date"]),
            "text": f"step {number}: {format_amount(Decimal(str(step['daily_total_mg'])))} mg "
            "a day",
        }
    elif steps and today <= dt.date.fromisoformat(output["end_date"]):
        after = dt.date.fromisoformat(output["end_date"]) + dt.timedelta(days=1)
        maintenance = output.get("maintenance")
        next_change = {
            "date": after,
            "text": "the target dose continues" if maintenance else "no more doses",
        }
    else:
        next_change = None
    rows = (
        Dose.objects.filter(plan=plan, local_date__lte=today)
        .exclude(status=DoseStatus.CANCELLED)
        .values("local_date", "status")
        .annotate(count=Count("id"))
        .order_by("local_date")
    )
    days: dict[dt.date, dict[str, int]] = {}
    for row in rows:
        day = days.setdefault(row["local_date"], {s: 0 for s in DoseStatus.values})
        day[row["status"]] = row["count"]
    return {
        "today": today,
        "current_step": current,
        "next_change": next_change,
        "days_so_far": [
            {"date": day, "taken": c["taken"], "missed": c["missed"], "skipped": c["skipped"],
             "open": c["scheduled"]}
            for day, c in sorted(days.items(), reverse=True)
        ],
    }


def plan_page(plan: TaperPlan, user: User | AnonymousUser | None = None) -> dict[str, Any]:
    revision = plan.current_revision
    assert revision is not None
    today_on_plan = plan_today(plan, revision.engine_output)
    revisions = plan.revisions.select_related("created_by").prefetch_related("reviews__reviewer")
    pending = plan.revisions.filter(review_state=RevisionReview.PENDING).first()
    return {
        "plan": plan,
        "patient": plan.patient,
        "revision": revision,
        "revisions": revisions,
        "stored_flags": revision.flags.all(),
        "pending_revision": pending,
        "can_review": user is not None
        and has_role(user, Role.REVIEWER)
        and (plan.status == PlanStatus.PENDING_REVIEW or pending is not None),
        "is_reviewer": user is not None and has_role(user, Role.REVIEWER),
        "can_edit": user is not None and has_role(user, Role.CLINICIAN),
        "resumable_until": plan.resumable_until(),
        "actions": continuity.plan_actions(plan, timezone.now()),
        "facts_changed": continuity.facts_changed(
            plan, continuity.patient_today(plan.patient.home_timezone, timezone.now())
        )
        if plan.status == PlanStatus.ACTIVE
        else [],
        **schedule_context(
            revision.engine_input,
            revision.engine_output,
            today=today_on_plan["today"] if today_on_plan else None,
        ),
        **review_wording(plan, revision),
        **plan_facts(plan, revision),
        "on_plan": today_on_plan,
        "current_step": today_on_plan["current_step"] if today_on_plan else None,
    }


def medicine_in_words(output: dict[str, Any], product_id: str) -> str:
    """The medicine as a patient reads it on the box, in the active language: "baclofen
    10 mg tablets and baclofen 5 mg tablets", "gabapentin 300 mg capsules", or the
    solution's name; a plan that switches to diazepam names both medicines, each with its
    strengths."""
    catalogue = taper.load_catalogue()
    words = []
    for item in output.get("dispense") or []:
        product = catalogue.product(item.get("product") or product_id)
        if product is None or not item.get("strength_mg"):
            continue
        values = {
            "drug": medicines.drug_label(product.drug),
            "strength": format_amount(Decimal(str(item["strength_mg"]))),
        }
        if product.form == "capsule":
            words.append(gettext("%(drug)s %(strength)s mg capsules") % values)
        else:
            words.append(gettext("%(drug)s %(strength)s mg tablets") % values)
    if words:
        joined_by = gettext("and")
        return f" {joined_by} ".join(dict.fromkeys(words))
    item = medicines.product(product_id)
    name = patient_words.liquid_name(item) if item is not None else product_name(product_id)
    return name[:1].lower() + name[1:]


def handout_page(plan: TaperPlan) -> dict[str, Any]:
    """The printable handout: the plan page's schedule, plus who it is for, what medicine
    in words, who prescribed it, when it was printed, and a tick grid with one column per
    dose time from today (the patient's) on: days already past are left out.

    It is the patient's paper: call it with the patient's language active (the view
    does), and every sentence the engine stored in English (missed-dose advice, the
    pharmacy's lines, the tablets of each dose) is written again in that language
    (planner.patient_words, reminders.amounts)."""
    context = plan_page(plan)
    revision = context["revision"]
    output = revision.engine_output
    product_id = str(revision.engine_input.get("product", ""))
    item = medicines.product(product_id)
    today = timezone.now().astimezone(ZoneInfo(plan.patient.home_timezone)).date()
    times = sorted({dose["time"] for step in output.get("steps") or [] for dose in step["doses"]})
    roles = {
        dose["time"]: dose.get("role")
        for step in output.get("steps") or [] for dose in step["doses"]
    }  # fmt: skip
    grid = []
    for day in context["days"]:
        if day["date"] < today:
            continue
        by_time = {dose["time"]: dose for dose in with_words(day["doses"], product_id)}
        grid.append({"date": day["date"], "cells": [by_time.get(time) for time in times]})
    steps = output.get("steps") or []
    last_day = dt.date.fromisoformat(steps[-1]["end_date"]) if steps else None
    maintenance = output.get("maintenance")
    author = plan.created_by
    return {
        **context,
        "medicine": medicine_in_words(output, product_id),
        "withdrawal": medicines.withdrawal_risk(revision.engine_input.get("product")),
        "prescriber": author.get_full_name() or author.get_username(),
        "printed_on": today,
        "clinic": plan.patient.clinic,
        "grid_times": [{"time": time, "role": roles.get(time)} for time in times],
        "grid": grid,
        "past_days_left_out": sum(1 for day in context["days"] if day["date"] < today),
        "missed_dose_steps": patient_words.missed_dose_groups(context["missed_dose_steps"]),
        "last_day_missed_dose": patient_words.missed_dose_rules(
            output.get("last_day_missed_dose") or [], last_day=last_day
        )[-1:],
        "maintenance_doses": with_words(maintenance["doses"], product_id) if maintenance else [],
        "pharmacy_words": patient_words.pharmacy_words(item, context["pharmacy"]),
        "final_daily_mg": _final_daily_mg(revision.engine_input),
    }


def clinic_patient_list(*, clinic_id: int) -> Any:
    return Patient.objects.filter(clinic_id=clinic_id).annotate(plan_count=Count("plans"))


def open_rejections(plan: TaperPlan) -> Any:
    """The reviewer's comments on the version of a draft that is current: what to fix."""
    return PlanReview.objects.filter(
        revision_id=plan.current_revision_id, decision=ReviewDecision.REJECTED
    ).select_related("reviewer")


def staff_notices(user: User) -> Any:
    unread = Notice.objects.filter(user=user, read_at__isnull=True)
    return unread.order_by("-created_at", "-id")[:20]


def staff_notice(user: User, pk: int) -> Notice:
    return get_object_or_404(Notice, pk=pk, user=user)
