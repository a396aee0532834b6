"""Reads for the clinic pages, always scoped to what the user may see."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AnonymousUser, User
from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext

import taper
from planner import continuity, medicines, overlap, patient_words
from planner import engine_input as engine_input_module
from planner.chart import dose_chart, schedule_days
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


# A running plan approved before the patient's risk facts last changed (issue #15).
FACTS_CHANGED = Q(
    status=PlanStatus.ACTIVE,
    patient__risk_facts_changed_at__gt=F("current_revision__created_at"),
)
# What the dashboard's rows show, and nothing more: building 75 rows of three whole
# models each was a good part of the page's time (issue #18).
_DASHBOARD_ROW = (
    "status", "updated_at", "requires_review",
    "patient", "patient__given_name", "patient__family_name",
    "current_revision", "current_revision__end_date",
)
DASHBOARD_PAGE_SIZE = 25
ACTION_LIMIT = 50


def _action_reason(plan: TaperPlan, missed: set[int], revising: set[int]) -> str:
    if plan.pk in missed:
        return "Missed doses in the last 24 h"
    if plan.pk in revising:
        return "A revision waits for review"
    if plan.status == PlanStatus.ACTIVE:
        # planner.continuity.facts_changed says what changed, on the plan page.
        return "Facts changed since this plan was approved"
    if plan.status == PlanStatus.PENDING_REVIEW:
        return "Waits for review"
    if plan.status == PlanStatus.APPROVED:
        return "Approved: activate it"
    if plan.requires_review:
        return "Draft: submit it for review"
    return "Draft: activate or change it"


def dashboard(*, clinic_id: int, search: str = "", page: Any = 1) -> dict[str, Any]:
    """The clinic's triage list (issue #18): open abrupt-stop alerts first, then plans
    that need someone to act (drafts, plans waiting for review or activation, revisions
    waiting, running plans with missed doses in the last 24 h), then every other running
    plan, a page at a time and searchable by the patient's name. The number of queries
    and the rows each reads do not grow with the clinic's plans: the 24-hour adherence is
    counted for the page's plans only."""
    now = timezone.now()
    window = (now - dt.timedelta(hours=24), now)
    alerts = (
        AbruptStopAlert.objects.filter(plan__patient__clinic_id=clinic_id, closed_at__isnull=True)
        .select_related("plan__patient")
        .prefetch_related(Prefetch("events", queryset=AlertEvent.objects.select_related("by")))
        .order_by("raised_at")
    )
    # Asked of each plan in the database, not as a list of ids in the query: a list grew
    # with the clinic's missed doses (400 ids at 1,000 patients) and was sent, parsed and
    # compared twice per page. The missed doses come from the partial index dose_missed_due.
    missed_today = Exists(
        Dose.objects.filter(plan_id=OuterRef("pk"), status=DoseStatus.MISSED, due_at__range=window)
    )
    revision_waits = Exists(
        PlanRevision.objects.filter(plan_id=OuterRef("pk"), review_state=RevisionReview.PENDING)
    )
    needs_action = (
        TaperPlan.objects.filter(patient__clinic_id=clinic_id)
        .annotate(missed_today=missed_today, revision_waits=revision_waits)
        .filter(
            Q(status__in=[PlanStatus.DRAFT, PlanStatus.PENDING_REVIEW, PlanStatus.APPROVED])
            | Q(status=PlanStatus.ACTIVE, missed_today=True)
            | Q(revision_waits=True)
            | FACTS_CHANGED
        )
        .select_related("patient", "current_revision")
        .only(*_DASHBOARD_ROW)
        .order_by("-updated_at", "-id")
    )
    action_plans = list(needs_action[:ACTION_LIMIT])
    missed = {plan.pk for plan in action_plans if plan.missed_today}
    revising = {plan.pk for plan in action_plans if plan.revision_waits}
    action_rows = [
        {"plan": plan, "why": _action_reason(plan, missed, revising)} for plan in action_plans
    ]
    action_rows.sort(key=lambda row: row["why"] != "Missed doses in the last 24 h")
    running = (
        TaperPlan.objects.filter(patient__clinic_id=clinic_id, status=PlanStatus.ACTIVE)
        .exclude(missed_today)
        .exclude(revision_waits)
        .exclude(FACTS_CHANGED)
        .select_related("patient", "current_revision")
        .only(*_DASHBOARD_ROW)
        .order_by("patient__family_name", "patient__given_name", "id")
    )
    search = search.strip()[:100]
    if search:
        words = Q()
        for word in search.split():
            words &= Q(patient__family_name__icontains=word) | Q(
                patient__given_name__icontains=word
            )
        running = running.filter(words)
    rest = Paginator(running, DASHBOARD_PAGE_SIZE).get_page(page)
    page_plans: list[TaperPlan] = list(rest.object_list)
    counts: dict[int, dict[str, int]] = {}
    for row in (
        Dose.objects.filter(plan_id__in=[plan.pk for plan in page_plans], due_at__range=window)
        .exclude(status=DoseStatus.CANCELLED)
        .values("plan_id", "status")
        .annotate(n=Count("id"))
    ):
        counts.setdefault(row["plan_id"], {})[row["status"]] = row["n"]
    rest_rows = [
        {
            "plan": plan,
            "due": sum(counts.get(plan.pk, {}).values()),
            "taken": counts.get(plan.pk, {}).get(DoseStatus.TAKEN, 0),
            "missed": counts.get(plan.pk, {}).get(DoseStatus.MISSED, 0),
        }
        for plan in page_plans
    ]
    return {
        "alerts": alerts,
        "action_rows": action_rows,
        "action_more": len(action_plans) == ACTION_LIMIT,
        "rest": rest,
        "rest_rows": rest_rows,
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
    rows = []
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
