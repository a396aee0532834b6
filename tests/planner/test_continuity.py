"""Continuity of treatment (issue #15): no action in the app leaves a patient without
doses, and the approved plan is the schedule the patient gets.

The patient of these tests lives in New York; the suite's clock stands at NOW, nine days
before START, the first day of the plans most tests make (tests/support/clock.py).
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import taper
from planner import continuity, services
from planner.models import Patient, PlanStatus, RevisionKind, TaperPlan
from planner.roles import Role
from reminders import dispatch
from reminders.models import Dose, DoseStatus, Reminder, ReminderKind
from tests.support.clock import START, TODAY
from tests.support.factories import make_staff
from tests.support.plans import engine_input, plan_post, pump_engine_input

NEW_YORK = ZoneInfo("America/New_York")


def new_york(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


def live(plan: TaperPlan) -> list[Dose]:
    return list(Dose.objects.filter(plan=plan).exclude(status=DoseStatus.CANCELLED))


def make(patient: Patient, by: Any, **overrides: Any) -> TaperPlan:
    data = engine_input(patient, **overrides)
    return services.plan_create(patient=patient, by=by, engine_input=data)


@pytest.fixture
def rita(django_user_model: Any, clinic: Any) -> Any:
    return make_staff(django_user_model, "rita", clinic, Role.REVIEWER)


# --- No start in the past -------------------------------------------------------------


def test_a_plan_cannot_be_saved_with_a_first_day_in_the_past(alice: Any, patient: Patient) -> None:
    yesterday = TODAY - dt.timedelta(days=1)
    with pytest.raises(ValidationError) as refusal:
        make(patient, alice, start_date=yesterday.isoformat())
    assert "today or later" in refusal.value.message_dict["start_date"][0]
    assert not TaperPlan.objects.exists()
    # Today (in the patient's zone) is allowed.
    assert make(patient, alice, start_date=TODAY.isoformat()).pk


def test_the_form_shows_the_refusal_next_to_the_first_day(
    alice: Any, patient: Patient, client: Client
) -> None:
    client.force_login(alice)
    yesterday = TODAY - dt.timedelta(days=1)
    page = client.post(
        reverse("plan_new", args=[patient.pk]), plan_post(start_date=yesterday.isoformat())
    )
    assert page.status_code == 200
    assert page.context["form"].errors["start_date"] == [
        continuity.START_IN_THE_PAST.format(today=TODAY.isoformat())
    ]
    assert not TaperPlan.objects.exists()


def test_the_api_refuses_a_first_day_in_the_past_naming_the_field(
    alice: Any, patient: Patient, client: Client
) -> None:
    client.force_login(alice)
    body = {k: v for k, v in engine_input(patient).items() if k not in ("timezone", "patient")}
    body["start_date"] = (TODAY - dt.timedelta(days=1)).isoformat()
    body["months_on_therapy"] = 3
    response = client.post(
        reverse("api:patient-plans", args=[patient.pk]), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "start_date" in response.json()["errors"]
    assert not TaperPlan.objects.exists()


def test_a_plan_whose_first_day_passed_while_waiting_is_refused_at_activation(
    alice: Any, patient: Patient
) -> None:
    plan = make(patient, alice)
    with time_machine.travel(new_york(START + dt.timedelta(days=1), 9), tick=False):
        with pytest.raises(services.PlanStateError, match="has passed"):
            services.plan_activate(plan=plan, by=alice)
        assert "has passed" in continuity.activation_summary(plan, timezone.now())[0]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT
    assert not Dose.objects.exists()


def test_a_plan_activated_on_its_first_day_schedules_no_dose_before_that_moment(
    alice: Any, patient: Patient
) -> None:
    plan = make(patient, alice)
    at_half_past_one = new_york(START, 13, 30)
    with time_machine.travel(at_half_past_one, tick=False):
        services.plan_activate(plan=plan, by=alice)
    first_day = [d.local_time for d in live(plan) if d.local_date == START]
    assert first_day == [dt.time(14), dt.time(20)]
    assert all(d.due_at >= at_half_past_one for d in live(plan))
    # Nothing before the activation can become "missed", nor send a follow-up.
    with time_machine.travel(new_york(START, 13, 45), tick=False):
        assert dispatch.doses_mark_missed(now=timezone.now()) == 0
    assert not Reminder.objects.filter(kind=ReminderKind.MISSED_DOSE).exists()


# --- Replacing a plan never leaves a gap ----------------------------------------------


def test_a_replacement_starting_later_leaves_the_running_plan_every_dose_until_then(
    alice: Any, patient: Patient
) -> None:
    running = make(patient, alice)
    services.plan_activate(plan=running, by=alice)
    before = {(d.local_date, d.local_time) for d in live(running)}
    new_start = START + dt.timedelta(days=5)
    replacement = make(patient, alice, start_date=new_start.isoformat())
    summary = " ".join(continuity.activation_summary(replacement, timezone.now()))
    assert f"plan {running.pk} continues unchanged until" in summary
    services.plan_activate(plan=replacement, by=alice)

    kept = {(d.local_date, d.local_time) for d in live(running)}
    assert kept == {slot for slot in before if slot[0] < new_start}
    days = {d.local_date for d in live(running)} | {d.local_date for d in live(replacement)}
    first = min(days)
    last = max(days)
    assert days == {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}
    notice = Reminder.objects.get(plan=replacement, kind=ReminderKind.PLAN_REPLACED)
    assert notice.context == {
        "starts_on": new_start.isoformat(),
        "last_day": (new_start - dt.timedelta(days=1)).isoformat(),
        "continues": True,
    }
    running.refresh_from_db()
    assert running.status == PlanStatus.ACTIVE
    assert running.history.first().history_change_reason.startswith(
        f"replaced by plan {replacement.pk}"
    )


def test_the_patient_is_told_in_their_language_what_to_take_until_the_new_plan(
    alice: Any, patient: Patient
) -> None:
    from portal.services import preferences_for
    from reminders.messages import messages_for

    patient.email = "sam@example.org"
    patient.save()
    running = make(patient, alice)
    services.plan_activate(plan=running, by=alice)
    new_start = START + dt.timedelta(days=5)
    replacement = make(patient, alice, start_date=new_start.isoformat())
    services.plan_activate(plan=replacement, by=alice)
    notice = Reminder.objects.get(plan=replacement, kind=ReminderKind.PLAN_REPLACED)
    [message] = messages_for(notice)
    # The dates in words, as on Today (#22), not the stored ISO dates.
    assert "Saturday 6 March" in message.subject
    assert "up to and including Friday 5 March" in " ".join(message.text.split())
    assert "keep taking your doses exactly as your current plan says" in message.text
    preferences = preferences_for(patient)
    preferences.language = "es"
    preferences.save()
    notice = Reminder.objects.get(pk=notice.pk)
    [message] = messages_for(notice)
    assert "siga tomando sus dosis exactamente" in message.text
    assert "sábado 6 de marzo" in message.subject


def test_cancelling_a_replacement_before_it_starts_gives_the_running_plan_its_doses_back(
    alice: Any, patient: Patient
) -> None:
    running = make(patient, alice)
    services.plan_activate(plan=running, by=alice)
    before = {(d.local_date, d.local_time) for d in live(running)}
    new_start = START + dt.timedelta(days=5)
    replacement = make(patient, alice, start_date=new_start.isoformat())
    services.plan_activate(plan=replacement, by=alice)
    with time_machine.travel(new_york(START + dt.timedelta(days=2), 9), tick=False):
        services.plan_cancel(plan=replacement, by=alice, reason="Patient prefers to wait")
        with pytest.raises(services.PlanStateError):  # a plan being replaced is not revised
            services.plan_revise(plan=TaperPlan.objects.get(pk=replacement.pk), by=alice,
                                 kind=RevisionKind.HOLD, from_date=new_start, days=2)
    running.refresh_from_db()
    assert (running.status, running.replaced_by, running.runs_until) == (
        PlanStatus.ACTIVE, None, None
    )
    assert {(d.local_date, d.local_time) for d in live(running)} == before
    assert not live(replacement)
    # Not an abrupt stop: the patient's running plan goes on, and they are told so.
    assert not replacement.current_revision.flags.filter(code="ABRUPT_STOP").exists()
    notice = Reminder.objects.get(plan=running, kind=ReminderKind.PLAN_REVISED)
    assert "keep taking your current plan" in notice.context["change"]


def test_a_replacement_that_cuts_more_than_the_largest_cut_needs_a_reviewer(
    alice: Any, rita: Any, patient: Patient
) -> None:
    running = make(patient, alice)  # 30 mg a day, cut by at most 7.5 mg a day
    services.plan_activate(plan=running, by=alice)
    replacement = make(
        patient, alice, doses=[{"time": "20:00", "amount_mg": 10}],
        start_date=(START + dt.timedelta(days=1)).isoformat(),
    )
    assert not replacement.requires_review  # its own flags do not need review
    summary = " ".join(continuity.activation_summary(replacement, timezone.now()))
    assert "a reviewer must approve this plan" in summary
    with pytest.raises(services.PlanStateError, match="largest cut"):
        services.plan_activate(plan=replacement, by=alice)
    assert [d.local_date for d in live(running)]  # the running plan is untouched
    assert TaperPlan.objects.get(pk=running.pk).replaced_by is None

    services.plan_submit(plan=replacement, by=alice)
    replacement.refresh_from_db()
    assert (replacement.status, replacement.requires_review) == (PlanStatus.PENDING_REVIEW, True)
    services.plan_approve(plan=replacement, by=rita)
    services.plan_activate(plan=replacement, by=alice)
    assert TaperPlan.objects.get(pk=running.pk).replaced_by == replacement


def test_a_replacement_starting_today_ends_the_running_plan_and_keeps_doses_already_due(
    alice: Any, patient: Patient
) -> None:
    running = make(patient, alice)
    services.plan_activate(plan=running, by=alice)
    day = START + dt.timedelta(days=2)
    with time_machine.travel(new_york(day, 9), tick=False):
        replacement = make(patient, alice, start_date=day.isoformat(),
                           doses=[{"time": "08:00", "amount_mg": 7.5},
                                  {"time": "14:00", "amount_mg": 7.5},
                                  {"time": "20:00", "amount_mg": 7.5}])
        services.plan_activate(plan=replacement, by=alice)
    running.refresh_from_db()
    assert (running.replaced_by, running.runs_until) == (replacement, day - dt.timedelta(days=1))
    two_days_on = new_york(day + dt.timedelta(days=2), 9)
    with time_machine.travel(two_days_on, tick=False):
        services.plans_complete(now=timezone.now())
    assert TaperPlan.objects.get(pk=running.pk).status == PlanStatus.SUPERSEDED
    # This morning's 08:00 dose was due before the replacement: it stays to be answered.
    assert [(d.local_date, d.local_time) for d in live(running) if d.local_date == day] == [
        (day, dt.time(8))
    ]
    assert [d.local_time for d in live(replacement) if d.local_date == day] == [
        dt.time(14), dt.time(20)
    ]


# --- The approved plan is frozen --------------------------------------------------------


def _catalogue_with_new_version(tmp_path: Path) -> taper.Catalogue:
    """The shipped data plus a version 3 of the oral protocol with another catch-up rule."""
    for name in ("products", "protocols"):
        shutil.copytree(taper.catalogue.DATA_DIR / name, tmp_path / name)
    folder = tmp_path / "protocols" / "baclofen-oral"
    text = (folder / "2.toml").read_text().replace('version = "2"', 'version = "3"')
    start = text.index("[catch_up_fraction]")
    value = text.index("value", start)
    end = text.index("\n", value)
    (folder / "3.toml").write_text(text[:value] + "value = 0.25" + text[end:])
    return taper.load_catalogue(tmp_path)


def test_a_new_protocol_version_changes_no_approved_plan(
    alice: Any, patient: Patient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = make(patient, alice)
    approved = {(e["date"], e["time"], e["catch_up_until"])
                for e in plan.current_revision.engine_output["dose_events"]}
    catalogue = _catalogue_with_new_version(tmp_path)
    monkeypatch.setattr(taper.intake, "load_catalogue", lambda: catalogue)
    newest = taper.plan(taper.parse_request(engine_input(patient)))
    assert newest.protocol_version == "3"  # new plans take the new version …
    services.plan_activate(plan=plan, by=alice)
    written = {(d.local_date.isoformat(), f"{d.local_time:%H:%M}",
                d.catch_up_until.astimezone(NEW_YORK).isoformat(timespec="minutes"))
               for d in live(plan)}
    assert written == approved  # … the approved plan keeps its own
    with time_machine.travel(new_york(START + dt.timedelta(days=3), 9), tick=False):
        revision = services.plan_revise(plan=plan, by=alice, kind=RevisionKind.HOLD,
                                        from_date=START + dt.timedelta(days=4), days=2)
    assert revision.protocol_version == "2"


def test_the_dispatcher_runs_no_engine(
    alice: Any, rita: Any, patient: Patient, monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    oral = make(patient, alice, goal={"type": "reduce", "target_daily_mg": 15})
    services.plan_activate(plan=oral, by=alice)
    pump_patient = Patient.objects.create(
        clinic=patient.clinic, given_name="Pat", family_name="Pump",
        date_of_birth=patient.date_of_birth, sex=patient.sex,
        home_timezone=patient.home_timezone, email="pump@example.test",
    )
    pump = services.plan_create(
        patient=pump_patient, by=alice, engine_input=pump_engine_input(pump_patient)
    )
    services.plan_submit(plan=pump, by=alice)
    services.plan_approve(plan=pump, by=rita)
    services.plan_activate(plan=pump, by=alice)

    def no_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("the dispatcher re-planned a plan")

    monkeypatch.setattr(taper, "plan", no_engine)
    monkeypatch.setattr(taper, "parse_request", no_engine)
    late = new_york(START + dt.timedelta(days=60), 9)
    with time_machine.travel(late, tick=False), django_capture_on_commit_callbacks():
        done = dispatch.dispatch_tick(now=late, enqueue=lambda ids, claim: None)
    assert done["failed_stages"] == 0


# --- Maintenance continues ------------------------------------------------------------


def test_a_reduce_to_target_plan_keeps_scheduling_its_maintenance_dose(
    alice: Any, patient: Patient, django_capture_on_commit_callbacks: Any
) -> None:
    plan = make(patient, alice, goal={"type": "reduce", "target_daily_mg": 15})
    services.plan_activate(plan=plan, by=alice)
    end = plan.current_revision.end_date
    maintenance = plan.current_revision.engine_output["maintenance"]
    for days in (0, 10, 20, 30):  # the dispatcher ticks every minute; a few of its ticks
        moment = new_york(end + dt.timedelta(days=days), 12)
        with time_machine.travel(moment, tick=False), django_capture_on_commit_callbacks():
            dispatch.dispatch_tick(now=moment, enqueue=lambda ids, claim: None)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE  # not completed: the target goes on
    days_after = end + dt.timedelta(days=40)
    doses = [d for d in live(plan) if d.local_date == days_after]
    assert [(f"{d.local_time:%H:%M}", d.amount_mg) for d in doses] == [
        (dose["time"], Decimal(str(dose["amount_mg"]))) for dose in maintenance["doses"]
    ]
    for kind in (ReminderKind.DOSE, ReminderKind.DOSE_FOLLOW_UP):  # and its second nudge
        rows = Reminder.objects.filter(plan=plan, dose__local_date=days_after, kind=kind)
        assert rows.count() == len(doses)
    # Every day from the first to the last written has its doses: no gap at the end.
    dates = sorted({d.local_date for d in live(plan)})
    assert dates == [dates[0] + dt.timedelta(days=n) for n in range(len(dates))]


# --- A change of home time zone -------------------------------------------------------


def test_a_zone_change_moves_stored_doses_drops_past_ones_and_tells_the_patient(
    alice: Any, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = make(patient, alice)
    services.plan_activate(plan=plan, by=alice)
    version = patient.calendar_settings_version

    def no_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("a zone change re-planned the plan")

    monkeypatch.setattr(taper, "plan", no_engine)
    # 13:00 in New York is 18:00 in London: the 14:00 dose moves to 14:00 London time,
    # which has passed.
    now = new_york(START, 13)
    with time_machine.travel(now, tick=False):
        services.patient_update(patient=patient, data={"home_timezone": "Europe/London"}, by=alice)
    today = {d.local_time: d for d in Dose.objects.filter(plan=plan, local_date=START)}
    assert today[dt.time(14)].status == DoseStatus.CANCELLED
    assert today[dt.time(20)].status == DoseStatus.SCHEDULED
    assert today[dt.time(20)].due_at == dt.datetime(
        START.year, START.month, START.day, 20, tzinfo=ZoneInfo("Europe/London")
    )
    moved = Dose.objects.filter(plan=plan, status="scheduled", timezone="Europe/London")
    assert moved.count() > 1
    assert all(d.due_at >= now for d in moved)
    # This morning's 08:00 dose was due before the change: it stays as it was.
    assert today[dt.time(8)].due_at == new_york(START, 8)
    notice = Reminder.objects.get(plan=plan, kind=ReminderKind.ZONE_CHANGED)
    assert notice.context["dropped"] == [f"{START} 14:00"]
    patient.refresh_from_db()
    assert patient.calendar_settings_version == version + 1
    assert patient.calendar_settings_changed_at == now


# --- Patient facts that change while a plan runs --------------------------------------


def test_changed_kidney_function_is_shown_with_a_one_click_replacement(
    alice: Any, patient: Patient, client: Client
) -> None:
    plan = make(patient, alice)
    services.plan_activate(plan=plan, by=alice)
    approved_output = plan.current_revision.engine_output
    day = START + dt.timedelta(days=3)
    with time_machine.travel(new_york(day, 9), tick=False):
        services.patient_update(
            patient=patient, data={"creatinine_clearance_ml_min": Decimal(25)}, by=alice
        )
        client.force_login(alice)
        page = client.get(reverse("plan", args=[plan.pk])).content.decode()
        assert "Facts changed since this plan was approved" in page
        assert "creatinine clearance (mL/min): " in page
        assert "→ 25" in page
        dashboard = client.get(reverse("dashboard")).content.decode()
        assert "Facts changed since this plan was approved" in dashboard
        # The running plan is not recomputed …
        plan.refresh_from_db()
        assert plan.current_revision.engine_output == approved_output
        # … the clinician makes the replacement in one click.
        response = client.post(reverse("plan_replan", args=[plan.pk]))
    new = TaperPlan.objects.exclude(pk=plan.pk).get()
    assert response.headers["Location"] == reverse("plan", args=[new.pk])
    revision = new.current_revision
    assert revision.start_date == day + dt.timedelta(days=1)
    assert revision.engine_input["patient"]["creatinine_clearance_ml_min"] == 25
    level = continuity.planned_daily_mg(approved_output, day + dt.timedelta(days=1))
    amounts = [Decimal(str(d["amount_mg"])) for d in revision.engine_input["doses"]]
    assert sum(amounts, Decimal(0)) == level
    assert new.status == PlanStatus.DRAFT


def test_an_unchanged_record_shows_no_changed_facts(alice: Any, patient: Patient) -> None:
    plan = make(patient, alice)
    services.plan_activate(plan=plan, by=alice)
    services.patient_update(patient=patient, data={"email": "new@example.org"}, by=alice)
    patient.refresh_from_db()
    assert patient.risk_facts_changed_at is None
    assert continuity.facts_changed(plan, START) == []


def test_the_plan_page_says_what_activation_will_do(
    alice: Any, patient: Patient, client: Client
) -> None:
    running = make(patient, alice)
    services.plan_activate(plan=running, by=alice)
    later = make(patient, alice, start_date=(START + dt.timedelta(days=5)).isoformat())
    client.force_login(alice)
    page = client.get(reverse("plan", args=[later.pk])).content.decode()
    assert "What activating this plan will do" in page
    assert f"The running plan {running.pk} continues unchanged until" in page


def test_the_calendar_feed_shows_the_approved_schedule_and_the_maintenance_dose(
    alice: Any, patient: Patient, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from icalendar import Calendar

    from reminders import feeds

    plan = make(patient, alice, goal={"type": "reduce", "target_daily_mg": 15})
    services.plan_activate(plan=plan, by=alice)
    token = feeds.feed_token_issue(patient=patient, by=alice)

    def no_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("the feed re-planned the plan")

    monkeypatch.setattr(taper, "plan", no_engine)
    body = client.get(reverse("calendar_feed", args=[token])).content
    events = Calendar.from_ical(body).walk("VEVENT")
    after = plan.current_revision.end_date + dt.timedelta(days=1)
    open_ended = [e for e in events if "maintenance" in str(e["UID"])]
    maintenance = plan.current_revision.engine_output["maintenance"]["doses"]
    assert [e.decoded("DTSTART").date() for e in open_ended] == [after] * len(maintenance)
    assert all(e["RRULE"].to_ical() == b"FREQ=DAILY" for e in open_ended)


def test_a_plan_of_a_drug_other_than_baclofen_is_saved_by_the_service_and_the_api(
    alice: Any, patient: Patient, client: Client
) -> None:
    """The site once refused every drug but baclofen (issue #22): now the pages name the
    drug they show, so a diazepam plan is saved like any other."""
    diazepam = engine_input(
        patient, product="diazepam-oral-tablet",
        doses=[{"time": "08:00", "amount_mg": 5}, {"time": "20:00", "amount_mg": 5}],
    )  # fmt: skip
    saved = services.plan_create(patient=patient, by=alice, engine_input=diazepam)
    assert saved.drug == "diazepam"
    client.force_login(alice)
    body = {k: v for k, v in diazepam.items() if k not in ("timezone", "patient")}
    response = client.post(
        reverse("api:patient-plans", args=[patient.pk]),
        {**body, "start_date": (START + dt.timedelta(days=1)).isoformat(),
         "months_on_therapy": 3}, content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    assert TaperPlan.objects.filter(drug="diazepam").count() == 2


def test_the_new_plan_page_says_which_plans_run_or_wait_and_what_a_new_one_does(
    alice: Any, patient: Patient, client: Client
) -> None:
    running = make(patient, alice)
    services.plan_activate(plan=running, by=alice)
    waiting = make(patient, alice, start_date=(START + dt.timedelta(days=5)).isoformat())
    client.force_login(alice)
    page = client.get(reverse("plan_new", args=[patient.pk])).content.decode()
    assert "This patient already has a plan" in page
    assert f"Plan {running.pk} is running (since" in page
    assert "activating a new plan replaces it from the new plan&#x27;s first day" in page
    assert f"Plan {waiting.pk} is draft" in page
    services.plan_activate(plan=waiting, by=alice)
    page = client.get(reverse("plan_new", args=[patient.pk])).content.decode()
    assert f"when plan {waiting.pk} replaces it" in page
