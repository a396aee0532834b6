"""Reads for the patient portal, always scoped to one patient's own records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import OuterRef, QuerySet, Subquery

from planner.chart import dose_chart
from planner.medicines import drug_label, withdrawal_risk
from planner.models import Patient, PlanRevision, PlanStatus, TaperPlan
from planner.patient_words import missed_dose_groups
from planner.plan_reads import missed_dose_by_step
from reminders.amounts import DoseAmount, doses_amounts, with_words
from reminders.models import CheckIn, Dose, DoseState, DoseStatus, Notice, ReminderKind

HISTORY_STATUSES = (DoseStatus.TAKEN, DoseStatus.SKIPPED, DoseStatus.MISSED)


def patient_of(user: AbstractBaseUser | AnonymousUser) -> Patient | None:
    if not user.is_authenticated:
        return None
    return Patient.objects.filter(user_id=user.pk).select_related("clinic").first()


def patient_doses(patient: Patient) -> QuerySet[Dose]:
    """Every live dose of the patient's plans; the one way portal pages reach doses."""
    return Dose.objects.filter(plan__patient=patient).exclude(status=DoseStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class DoseLine:
    dose: Dose
    # Dose.state_at: "missed" also covers a dose whose catch-up window has closed
    # before the minute sweep marked it.
    state: str
    can_take: bool
    can_skip: bool
    until: str  # end of the catch-up window, "HH:MM" in the dose's own zone
    offer_missed_help: bool  # the "I missed it — what now?" link
    # What to take ("1½ tablets of 5 mg (7.5 mg)", reminders.amounts) and whether the
    # dose changed today; empty where the page does not show it.
    amount: str = ""
    amount_changed: bool = False
    snooze_options: tuple[int, ...] = ()  # "Remind me in 30 / 60 minutes" (Dose.snooze_options)


def dose_line(dose: Dose, now: dt.datetime, amount: DoseAmount | None = None,
              detailed: bool = False) -> DoseLine:
    """A dose as the Today page shows it: its buttons are exactly the answers
    planner.doses.dose_record accepts now (Dose.answers_at)."""
    state = dose.state_at(now)
    answers = dose.answers_at(now)
    return DoseLine(
        dose=dose,
        state=str(state),
        can_take=DoseStatus.TAKEN in answers,
        can_skip=DoseStatus.SKIPPED in answers,
        until=f"{dose.catch_up_until.astimezone(ZoneInfo(dose.timezone)):%H:%M}",
        offer_missed_help=state in {DoseState.DUE, DoseState.CATCH_UP, DoseState.MISSED},
        amount=amount.text(detailed=detailed) if amount else "",
        amount_changed=amount.changed_today if amount else False,
        snooze_options=dose.snooze_options(now),
    )


def active_plan(patient: Patient) -> TaperPlan | None:
    return (
        TaperPlan.objects.filter(patient=patient, status=PlanStatus.ACTIVE)
        .select_related("current_revision")
        .order_by("-activated_at", "-id")
        .first()
    )


def plan_start(plan: TaperPlan) -> dt.date | None:
    """The plan's first day (its first version's; a revision starts later)."""
    first = plan.revisions.order_by("number").values_list("start_date", flat=True).first()
    if first is None and plan.current_revision is not None:
        return plan.current_revision.start_date
    return first


@dataclass(frozen=True, slots=True)
class UpcomingPlan:
    """An active plan that has not started yet: Today says when it starts and that the
    patient goes on with their current medicine (or their running plan of the same
    medicine) until then."""

    plan: TaperPlan
    starts_on: dt.date
    first_daily_mg: Decimal
    current_daily_mg: Decimal
    replaces_running_plan: bool
    medicine: str = ""  # the drug, named when the patient has several plans


@dataclass(frozen=True, slots=True)
class RunningPlan:
    """A plan in force today, with what Today says about it."""

    plan: TaperPlan
    start: dt.date | None
    medicine: str  # the drug in the patient's language, named when it helps
    progress: Progress | None
    change: DoseChange | None


@dataclass(frozen=True, slots=True)
class PatientPlans:
    """Every plan of the patient in force today (one per medicine: the newest started
    one; a replaced plan runs until its successor starts) and every one waiting to
    start, soonest first."""

    running: tuple[RunningPlan, ...]
    upcoming: tuple[UpcomingPlan, ...]

    @property
    def changing(self) -> tuple[RunningPlan, ...]:
        """The running plans with a dose change ahead, soonest first."""
        changing = [(p.change.date, p) for p in self.running if p.change is not None]
        return tuple(p for _, p in sorted(changing, key=lambda pair: pair[0]))

    @property
    def several(self) -> bool:
        """More than one medicine: every dose and change then says which."""
        return len({p.plan.drug for p in self.running} | {u.plan.drug for u in self.upcoming}) > 1


def patient_plans(patient: Patient, today: dt.date) -> PatientPlans:
    """The patient's running and waiting plans: one query however many plans, steps
    and doses there are (each plan's first day comes with it)."""
    first_day = (
        PlanRevision.objects.filter(plan=OuterRef("pk")).order_by("number").values("start_date")[:1]
    )
    plans = list(
        TaperPlan.objects.filter(patient=patient, status=PlanStatus.ACTIVE)
        .select_related("current_revision")
        .annotate(first_day=Subquery(first_day))
        .order_by("-activated_at", "-id")
    )
    drugs = {plan.drug for plan in plans}
    named = len(drugs) > 1
    running: dict[str, tuple[TaperPlan, dt.date | None]] = {}
    waiting: list[tuple[dt.date, TaperPlan]] = []
    for candidate in plans:
        start = candidate.first_day or (
            candidate.current_revision.start_date if candidate.current_revision else None
        )
        if start is not None and start > today:
            waiting.append((start, candidate))
        elif candidate.drug not in running:
            running[candidate.drug] = (candidate, start)
    upcoming = []
    for starts_on, plan in sorted(waiting, key=lambda pair: (pair[0], pair[1].pk)):
        revision = plan.current_revision
        steps = (revision.engine_output.get("steps") or []) if revision else []
        doses = (revision.engine_input.get("doses") or []) if revision else []
        upcoming.append(
            UpcomingPlan(
                plan=plan,
                starts_on=starts_on,
                first_daily_mg=Decimal(str(steps[0]["daily_total_mg"])) if steps else Decimal(0),
                current_daily_mg=sum((Decimal(str(d["amount_mg"])) for d in doses), Decimal(0)),
                replaces_running_plan=plan.drug in running,
                medicine=drug_label(plan.drug) if named else "",
            )
        )
    return PatientPlans(
        running=tuple(
            RunningPlan(
                plan=plan,
                start=start,
                medicine=drug_label(plan.drug) if named else "",
                progress=plan_progress(plan, today, start),
                change=next_dose_change(plan, today),
            )
            for plan, start in sorted(running.values(), key=lambda pair: pair[0].pk)
        ),
        upcoming=tuple(upcoming),
    )


@dataclass(frozen=True, slots=True)
class MessageLine:
    """An in-app message as Today shows it: the subject and a short line, never the
    e-mail's body with its signed links (they overflow a phone and bypass the page's
    own buttons). A message about a dose carries that dose's state now, so a reminder
    for a dose already answered says so instead of offering its buttons."""

    notice: Notice
    text: str
    dose_line: DoseLine | None
    link: str  # a URL name with no arguments, or "" (the dose's own links use dose_line)


_KIND_LINKS: dict[str, str] = {
    ReminderKind.CHECK_IN: "patient_check_in",
    ReminderKind.SUPPLY: "patient_plan",
}


def _short_text(body: str) -> str:
    """The message's first paragraph without link lines."""
    for paragraph in body.split("\n\n"):
        kept = [line for line in paragraph.splitlines() if "://" not in line]
        if any(line.strip() for line in kept):
            return " ".join(line.strip() for line in kept if line.strip())
    return ""


def message_lines(patient: Patient, now: dt.datetime, limit: int = 10) -> list[MessageLine]:
    if patient.user_id is None:
        return []
    notices = Notice.objects.filter(user_id=patient.user_id).select_related(
        "reminder__dose"
    )[:limit]
    lines = []
    for notice in notices:
        reminder = notice.reminder
        dose = reminder.dose if reminder is not None else None
        kind = reminder.kind if reminder is not None else ""
        lines.append(
            MessageLine(
                notice=notice,
                text=_short_text(notice.body),
                dose_line=dose_line(dose, now) if dose is not None else None,
                link=_KIND_LINKS.get(kind, ""),
            )
        )
    return lines


@dataclass(frozen=True, slots=True)
class Progress:
    day: int
    days: int


def plan_progress(
    plan: TaperPlan, today: dt.date, start: dt.date | None = None
) -> Progress | None:
    """Day X of Y; `start` is the plan's first day when the caller has read it already."""
    revision = plan.current_revision
    if revision is None:
        return None
    start = start or plan_start(plan) or revision.start_date
    days = (revision.end_date - start).days + 1
    day = min(max((today - start).days + 1, 0), days)
    return Progress(day=day, days=days)


@dataclass(frozen=True, slots=True)
class DoseChange:
    date: dt.date
    from_mg: Decimal
    to_mg: Decimal


def next_dose_change(plan: TaperPlan, today: dt.date) -> DoseChange | None:
    revision = plan.current_revision
    if revision is None:
        return None
    steps = revision.engine_output.get("steps") or []
    previous: Decimal | None = None
    for step in steps:
        start = dt.date.fromisoformat(step["start_date"])
        total = Decimal(str(step["daily_total_mg"]))
        if start > today and previous is not None:
            return DoseChange(date=start, from_mg=previous, to_mg=total)
        previous = total
    if steps and dt.date.fromisoformat(steps[-1]["end_date"]) >= today:
        end = dt.date.fromisoformat(steps[-1]["end_date"]) + dt.timedelta(days=1)
        final = Decimal(str((revision.engine_input.get("goal") or {}).get("target_daily_mg", 0)))
        return DoseChange(date=end, from_mg=previous or Decimal(0), to_mg=final)
    return None


def today_context(patient: Patient, now: dt.datetime) -> dict[str, Any]:
    zone = ZoneInfo(patient.home_timezone)
    today = now.astimezone(zone).date()
    # Each dose stores what to take (Dose.what_to_take): its revision's stored output is
    # not read for every dose of the day (doses written before read it, once per revision).
    doses = list(patient_doses(patient).filter(local_date=today).order_by("due_at"))
    amounts = doses_amounts(doses)
    plans = patient_plans(patient, today)
    # A patient on two tapers reads which medicine each dose is; otherwise the drug is
    # named only where the patient chose detailed text (DESIGN.md: PHI-minimal).
    detailed = patient.calendar_detailed_titles or plans.several
    lines = [dose_line(dose, now, amounts[dose.pk], detailed) for dose in doses]
    upcoming = (
        patient_doses(patient)
        .filter(status=DoseStatus.SCHEDULED, catch_up_until__gte=now)
        .order_by("due_at")
        .first()
    )
    first = plans.running[0] if plans.running else None
    return {
        "patient": patient,
        "today": today,
        "now_local": now.astimezone(zone),
        "lines": lines,
        "next_line": dose_line(upcoming, now) if upcoming else None,
        "plans": plans,
        "plan": first.plan if first else None,
        "upcoming_plan": plans.upcoming[0] if plans.upcoming else None,
        "notices": message_lines(patient, now),
        "unread": Notice.objects.filter(user_id=patient.user_id, read_at__isnull=True).exists()
        if patient.user_id
        else False,
    }


def missed_candidates(patient: Patient, now: dt.datetime) -> list[Dose]:
    """Doses of the last day that were not taken, newest first: the ones a patient
    who says "I missed a dose" can mean."""
    return list(
        patient_doses(patient)
        .filter(
            status__in=[DoseStatus.SCHEDULED, DoseStatus.MISSED],
            due_at__lte=now,
            due_at__gte=now - dt.timedelta(hours=24),
        )
        .order_by("-due_at")
    )


def plan_context(patient: Patient, today: dt.date) -> dict[str, Any]:
    """My plan: a section per plan in force or waiting to start (a patient may taper
    two medicines at once), each with its own steps, chart and missed-dose rules."""
    plans = patient_plans(patient, today)
    items: list[RunningPlan | UpcomingPlan] = [*plans.running, *plans.upcoming]
    sections = [
        {**plan_section(item.plan, item.medicine, index),
         # Headings under the medicine's own heading when there are several.
         "h": "h3" if plans.several else "h2", "h_sub": "h4" if plans.several else "h3"}
        for index, item in enumerate(items, start=1)
        if item.plan.current_revision is not None
    ]
    pump = next((section["plan"] for section in sections if section["output"].get("pump")), None)
    return {
        "patient": patient,
        "sections": sections,
        "several": plans.several,
        # The plan the pump's refill facts are for (views.plan), else the first one.
        "plan": pump or (sections[0]["plan"] if sections else None),
    }


def plan_section(plan: TaperPlan, medicine: str, index: int) -> dict[str, Any]:
    revision = plan.current_revision
    assert revision is not None
    output = revision.engine_output
    engine_input = revision.engine_input
    current = sum(
        (Decimal(str(d["amount_mg"])) for d in engine_input.get("doses", [])), Decimal(0)
    )
    final = Decimal(str((engine_input.get("goal") or {}).get("target_daily_mg", 0)))
    chart = dose_chart({**output, "current_daily_mg": current, "final_daily_mg": final})
    product_id = str(engine_input.get("product", ""))
    # Each dose in the patient's words, each missed-dose rule in the patient's language
    # (planner.patient_words): the plan JSON keeps the engine's English.
    steps = [
        {**step, "doses": with_words(step["doses"], product_id)}
        for step in output.get("steps") or []
    ]
    return {
        "plan": plan,
        "key": f"plan-{index}",  # element ids of this section's chart and headings
        "medicine": medicine,
        # What stopping suddenly risks, in the patient's words, for this drug's class
        # (planner.medicines: the handout's wording too).
        "withdrawal": withdrawal_risk(product_id),
        "output": output,
        "steps": steps,
        "chart": chart,
        "current_daily_mg": current,
        "final_daily_mg": final,
        # Each step's own windows (issues #15, #18): a later step's 08:00 dose may be
        # taken until 14:00, not the first step's 11:00.
        "missed_groups": [
            _dated(group) for group in missed_dose_groups(missed_dose_by_step(output))
        ],
        "intrathecal": bool(output.get("refills")) or "intrathecal" in plan.drug,
    }


def _dated(group: dict[str, Any]) -> dict[str, Any]:
    if not group["first_step"]:
        return {**group, "start": None, "end": None}
    return {
        **group,
        "start": dt.date.fromisoformat(group["start_date"]),
        "end": dt.date.fromisoformat(group["end_date"]),
    }


def dose_history(patient: Patient) -> QuerySet[Dose]:
    return (
        Dose.objects.filter(plan__patient=patient, status__in=HISTORY_STATUSES)
        .select_related("plan")
        .order_by("-due_at", "-id")
    )


def history_names_medicine(patient: Patient) -> bool:
    """Whether the history says which medicine each dose was: the patient has taken
    part in plans of more than one."""
    drugs = TaperPlan.objects.filter(patient=patient).exclude(status=PlanStatus.DRAFT)
    return drugs.values("drug").distinct().count() > 1


def checkins_of(patient: Patient) -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(plan__patient=patient).order_by("-answered_at")


CSV_HEADER = (
    "plan",
    "date",
    "time",
    "time_zone",
    "amount_mg",
    "units",
    "status",
    "answered_at_utc",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """Spreadsheets run a cell that starts with = + - @ (or a tab or CR before one) as a
    formula; a leading apostrophe makes it text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def dose_history_rows(patient: Patient) -> list[list[str]]:
    rows = [list(CSV_HEADER)]
    for dose in dose_history(patient).order_by("due_at", "id"):
        answered = dose.answered_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if (
            dose.answered_at
        ) else ""
        rows.append(
            [
                csv_cell(value)
                for value in (
                    dose.plan_id,
                    dose.local_date.isoformat(),
                    f"{dose.local_time:%H:%M}",
                    dose.timezone,
                    dose.amount_mg,
                    dose.units_text,
                    dose.status,
                    answered,
                )
            ]
        )
    return rows
