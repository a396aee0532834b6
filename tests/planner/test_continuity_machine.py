"""The first law as a stateful property (issue #15): random sequences of create, submit,
approve, activate, revise, replace, cancel with a reason, change of home zone and time
passing, across several plans of one patient. After every step:

1. no gap: every day of every started plan, from the day after it started to the end of
   its approved schedule (or the day before a newer plan starts, or its recorded abrupt
   stop), has a scheduled dose, unless a change of time zone dropped that day's doses
   (which the patient is told of);
2. a replaced plan runs until the day before its replacement starts;
3. no dose is due before its plan was activated;
4. every scheduled dose is a dose of the approved revision it came from, on that day;
5. no cut between two consecutive whole days is larger than the protocol's largest cut,
   unless a reviewer approved the plan in force.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from planner import continuity, services
from planner.engine_input import patient_facts
from planner.models import (
    Clinic,
    Patient,
    PlanReview,
    PlanRevision,
    PlanStatus,
    ReviewDecision,
    RevisionKind,
    RevisionReview,
    TaperPlan,
)
from planner.roles import Role
from reminders import dispatch
from reminders.models import Dose, DoseStatus, Reminder, ReminderKind
from tests.support.clock import NOW
from tests.support.factories import make_staff

ZONES = ("America/New_York", "Europe/London", "Asia/Tokyo", "America/Los_Angeles")
REGIMENS = (
    [("08:00", 10), ("14:00", 10), ("20:00", 10)],
    [("08:00", 10), ("20:00", 10)],
    [("09:00", 5), ("21:00", 10)],
    [("08:00", 20), ("14:00", 20), ("20:00", 20)],
)
GOALS = ({"type": "discontinue"}, {"type": "reduce", "target_daily_mg": 5})
REFUSED = (ValidationError, PermissionDenied)
# What a clinician chooses for a new plan.
IN_DAYS, REGIMEN = st.integers(0, 12), st.sampled_from(REGIMENS)
GOAL, PACE = st.sampled_from(GOALS), st.sampled_from(["standard", "slower"])


class FirstLaw(RuleBasedStateMachine):
    plans = Bundle("plans")

    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        clinic = Clinic.objects.create(name="Machine Demo Clinic")
        self.clinician = make_staff(User, "m-clinician", clinic, Role.CLINICIAN)
        self.reviewer = make_staff(User, "m-reviewer", clinic, Role.REVIEWER)
        self.patient = Patient.objects.create(
            clinic=clinic, given_name="Max", family_name="Machine",
            date_of_birth=dt.date(1970, 5, 5), sex="male", home_timezone=ZONES[0],
        )  # fmt: skip
        self.now = NOW
        # Days on which the schedule changed mid-day (an activation, a revision, a zone
        # change): whole-day totals are not compared across them.
        self.partial_days: set[dt.date] = set()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def _at_now(self) -> time_machine.travel:
        return time_machine.travel(self.now, tick=False)

    def _today(self) -> dt.date:
        return continuity.patient_today(self.patient.home_timezone, self.now)

    def _mark_partial(self) -> None:
        for zone in ZONES:
            self.partial_days.add(continuity.patient_today(zone, self.now))

    # --- rules --------------------------------------------------------------------------

    @rule(target=plans, in_days=IN_DAYS, regimen=REGIMEN, goal=GOAL, pace=PACE)
    def create_draft(
        self, in_days: int, regimen: list[tuple[str, int]], goal: dict[str, Any], pace: str
    ) -> int | None:
        return self.create(in_days, regimen, goal, pace)

    def create(
        self, in_days: int, regimen: list[tuple[str, int]], goal: dict[str, Any], pace: str
    ) -> int | None:
        self.patient.refresh_from_db()
        start = self._today() + dt.timedelta(days=in_days)
        data = {
            "product": "baclofen-oral-tablet",
            "doses": [{"time": time, "amount_mg": amount} for time, amount in regimen],
            "start_date": start.isoformat(),
            "timezone": self.patient.home_timezone,
            "goal": goal,
            "pace": pace,
            "patient": patient_facts(self.patient, start, months_on_therapy=3),
        }
        with self._at_now():
            try:
                return services.plan_create(
                    patient=self.patient, by=self.clinician, engine_input=data
                ).pk
            except REFUSED:
                return None

    @rule(target=plans, in_days=IN_DAYS, regimen=REGIMEN, goal=GOAL, pace=PACE)
    def start_a_plan(
        self, in_days: int, regimen: list[tuple[str, int]], goal: dict[str, Any], pace: str
    ) -> int | None:
        """Create and activate a plan (replacing whatever runs), through review when it
        needs one."""
        pk = self.create(in_days, regimen, goal, pace)
        if pk is None:
            return None
        plan = TaperPlan.objects.get(pk=pk)
        with self._at_now():
            if continuity.plan_actions(plan, self.now).submit:
                self.submit(pk)
                self.approve(pk)
        self.activate(pk)
        return pk

    @rule(pk=plans)
    def submit(self, pk: int | None) -> None:
        if pk is None:
            return
        with self._at_now(), _refused_ok():
            services.plan_submit(plan=TaperPlan.objects.get(pk=pk), by=self.clinician)

    @rule(pk=plans)
    def approve(self, pk: int | None) -> None:
        if pk is None:
            return
        with self._at_now(), _refused_ok():
            services.review_decide(
                plan=TaperPlan.objects.get(pk=pk), by=self.reviewer, approve=True
            )
            self._mark_partial()

    @rule(pk=plans)
    def activate(self, pk: int | None) -> None:
        if pk is None:
            return
        with self._at_now(), _refused_ok():
            services.plan_activate(plan=TaperPlan.objects.get(pk=pk), by=self.clinician)
            self._mark_partial()

    @rule(
        pk=plans,
        kind=st.sampled_from([RevisionKind.HOLD, RevisionKind.STEP_BACK, RevisionKind.SLOW_DOWN]),
        in_days=st.integers(0, 4),
        days=st.integers(1, 7),
    )
    def revise(self, pk: int | None, kind: RevisionKind, in_days: int, days: int) -> None:
        if pk is None:
            return
        with self._at_now(), _refused_ok():
            services.plan_revise(
                plan=TaperPlan.objects.get(pk=pk), by=self.clinician, kind=kind,
                from_date=self._today() + dt.timedelta(days=in_days),
                days=days if kind == RevisionKind.HOLD else None,
            )  # fmt: skip
            self._mark_partial()

    @rule(pk=plans)
    def cancel_with_reason(self, pk: int | None) -> None:
        if pk is None:
            return
        with self._at_now(), _refused_ok():
            services.plan_cancel(
                plan=TaperPlan.objects.get(pk=pk), by=self.clinician,
                reason="Serious adverse reaction (machine)",
            )  # fmt: skip
            self._mark_partial()

    @rule(every_plan=st.booleans())
    def clinic_review_rule(self, every_plan: bool) -> None:
        Clinic.objects.filter(pk=self.patient.clinic_id).update(
            require_review_for_all_plans=every_plan
        )

    @rule(zone=st.sampled_from(ZONES))
    def change_zone(self, zone: str) -> None:
        with self._at_now():
            self.patient.refresh_from_db()
            services.patient_update(
                patient=self.patient, data={"home_timezone": zone}, by=self.clinician
            )
            self.patient.refresh_from_db()
            self._mark_partial()

    @rule(hours=st.integers(1, 80))
    def time_passes(self, hours: int) -> None:
        self.now += dt.timedelta(hours=hours)
        with self._at_now():
            dispatch.dispatch_tick(now=self.now, enqueue=lambda ids, claim: None)
            services.plans_complete(now=self.now)

    # --- invariants ---------------------------------------------------------------------

    def _live(self) -> list[Dose]:
        return list(
            Dose.objects.filter(plan__patient=self.patient)
            .exclude(status=DoseStatus.CANCELLED)
            .select_related("revision")
        )

    def _dropped_days(self) -> dict[int, set[dt.date]]:
        dropped: dict[int, set[dt.date]] = defaultdict(set)
        for plan_id, context in Reminder.objects.filter(
            plan__patient=self.patient, kind=ReminderKind.ZONE_CHANGED
        ).values_list("plan_id", "context"):
            for slot in context["dropped"]:
                dropped[plan_id].add(dt.date.fromisoformat(slot.split()[0]))
        return dropped

    @invariant()
    def no_gap_and_nothing_before_activation(self) -> None:
        live = self._live()
        days_of: dict[int, set[dt.date]] = defaultdict(set)
        for dose in live:
            days_of[dose.plan_id].add(dose.local_date)
        dropped = self._dropped_days()
        started = TaperPlan.objects.filter(
            patient=self.patient, activated_at__isnull=False
        ).select_related("current_revision", "replaced_by__current_revision")
        for plan in started:
            assert plan.activated_at is not None
            for dose in live:
                if dose.plan_id == plan.pk:
                    assert dose.due_at >= plan.activated_at, "a dose before activation"
            revision = plan.current_revision
            assert revision is not None
            first = max(
                revision.start_date,
                plan.activated_at.astimezone(ZoneInfo(self.patient.home_timezone)).date(),
            ) + dt.timedelta(days=1)
            last = revision.end_date
            if revision.engine_output.get("maintenance"):
                last = max(days_of[plan.pk], default=last)
            if plan.runs_until is not None:
                last = min(last, plan.runs_until)
            if plan.cancelled_at is not None:
                last = min(last, plan.cancelled_at.date() - dt.timedelta(days=2))
            day = first
            while day <= last:
                assert day in days_of[plan.pk] or day in dropped[plan.pk], (
                    f"plan {plan.pk} ({plan.status}) has no dose on {day}"
                )
                day += dt.timedelta(days=1)
            never_ran = plan.runs_until is not None and plan.runs_until < revision.start_date
            replaced = plan.replaced_by is not None and plan.status != PlanStatus.CANCELLED
            if replaced and not never_ran:
                replacer = plan.replaced_by
                if replacer.status == PlanStatus.CANCELLED:
                    assert replacer.cancelled_at is not None
                    assert continuity.patient_today(
                        self.patient.home_timezone, replacer.cancelled_at
                    ) >= replacer.current_revision.start_date, (
                        f"plan {plan.pk} stays cut short by a replacement cancelled unstarted"
                    )
                new = plan.replaced_by.current_revision
                assert new is not None
                assert plan.runs_until is not None
                assert plan.runs_until >= min(
                    revision.end_date, new.start_date - dt.timedelta(days=1)
                ) or (plan.status == PlanStatus.SUPERSEDED and plan.runs_until < self._today()), (
                    f"plan {plan.pk} stops before its replacement starts"
                )

    @invariant()
    def every_dose_is_the_approved_one(self) -> None:
        outputs: dict[int, dict[tuple[str, str], Decimal]] = {}
        for dose in self._live():
            revision: PlanRevision = dose.revision
            assert revision.review_state not in (RevisionReview.PENDING, RevisionReview.REJECTED)
            if revision.pk not in outputs:
                output = revision.engine_output
                events = {
                    (event["date"], event["time"]): Decimal(str(event["amount_mg"]))
                    for event in output["dose_events"]
                }
                outputs[revision.pk] = events
            key = (dose.local_date.isoformat(), f"{dose.local_time:%H:%M}")
            if key in outputs[revision.pk]:
                assert dose.amount_mg == outputs[revision.pk][key]
            else:
                maintenance = revision.engine_output["maintenance"]
                assert maintenance is not None, f"dose {key} is in no approved version"
                assert dose.local_date > revision.end_date
                amounts = {d["time"]: Decimal(str(d["amount_mg"])) for d in maintenance["doses"]}
                assert dose.amount_mg == amounts[key[1]]

    @invariant()
    def no_cut_faster_than_the_protocol(self) -> None:
        totals: dict[dt.date, Decimal] = defaultdict(Decimal)
        plan_of: dict[dt.date, set[int]] = defaultdict(set)
        for dose in self._live():
            totals[dose.local_date] += dose.amount_mg
            plan_of[dose.local_date].add(dose.plan_id)
        dropped = set().union(*self._dropped_days().values())
        plans = {
            plan.pk: plan
            for plan in TaperPlan.objects.filter(patient=self.patient).select_related(
                "current_revision"
            )
        }
        reviewed = set(
            PlanReview.objects.filter(
                revision__plan__patient=self.patient, decision=ReviewDecision.APPROVED
            ).values_list("revision__plan_id", flat=True)
        )
        for day in sorted(totals):
            before = day - dt.timedelta(days=1)
            if before not in totals or {day, before} & (self.partial_days | dropped):
                continue
            cut = totals[before] - totals[day]
            for pk in plan_of[day]:
                plan = plans[pk]
                output = plan.current_revision.engine_output
                largest = Decimal(str(output["largest_cut_mg"]))
                assert cut <= largest or pk in reviewed, (
                    f"{cut} mg cut overnight on {day} by plan {pk} (largest {largest})"
                )


class _refused_ok:
    """A refusal by a service is a right answer; anything else is a failure."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> bool:
        return kind is not None and issubclass(kind, REFUSED)


@pytest.mark.django_db
def test_no_sequence_of_actions_breaks_the_first_law() -> None:
    run_state_machine_as_test(
        FirstLaw,
        settings=settings(
            max_examples=40,
            stateful_step_count=16,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
