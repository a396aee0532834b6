"""The calendar: what parsers written by others read back from it, and the feed's HTTP."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
import time_machine
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

import taper
from planner import services
from planner.models import Patient, TaperPlan
from reminders import feeds, ical
from reminders.models import FeedToken
from tests.support.clock import START
from tests.support.factories import PatientFactory
from tests.support.plans import engine_input

ROOT = Path(__file__).resolve().parents[2]
NEW_YORK = ZoneInfo("America/New_York")
# 14 March 2027: clocks in New York go forward at 02:00.
ACROSS_DST = {
    "product": "baclofen-oral-tablet",
    "doses": [{"time": "08:00", "amount_mg": 20}, {"time": "20:00", "amount_mg": 20}],
    "start_date": "2027-03-08",
    "timezone": "America/New_York",
    "goal": {"type": "discontinue"},
    "patient": {"age_years": 40, "sex": "female", "months_on_therapy": 2},
}
CHANGED = dt.datetime.combine(START, dt.time(9, 30), tzinfo=dt.UTC)


def engine_plan(data: dict[str, Any]) -> taper.TaperPlan:
    return taper.plan(taper.parse_request(data))


def dose_occurrences(body: bytes, plan: taper.TaperPlan) -> list[dt.datetime]:
    calendar = Calendar.from_ical(body)
    window_end = plan.end_date + dt.timedelta(days=2)
    events = recurring_ical_events.of(calendar).between(plan.start_date, window_end)
    return sorted(e["DTSTART"].dt for e in events if str(e["SUMMARY"]) == "Medication dose")


def test_expanding_the_calendar_gives_exactly_the_plans_dose_times_across_dst() -> None:
    plan = engine_plan(ACROSS_DST)
    body = ical.calendar_for_engine_plan(plan, changed_at=CHANGED)
    occurrences = dose_occurrences(body, plan)
    assert occurrences == sorted(event.at for event in plan.dose_events)
    assert {o.astimezone(NEW_YORK).time() for o in occurrences} <= {dt.time(8), dt.time(20)}
    before = [o for o in occurrences if o.date() < dt.date(2027, 3, 14)]
    after = [o for o in occurrences if o.date() > dt.date(2027, 3, 14)]
    assert before
    assert after
    assert {o.utcoffset() for o in before} == {dt.timedelta(hours=-5)}
    assert {o.utcoffset() for o in after} == {dt.timedelta(hours=-4)}


def test_every_tzid_has_its_vtimezone_and_the_calendar_names_its_refresh() -> None:
    calendar = Calendar.from_ical(
        ical.calendar_for_engine_plan(engine_plan(ACROSS_DST), changed_at=CHANGED)
    )
    tzids = {
        str(e["DTSTART"].params["TZID"])
        for e in calendar.walk("VEVENT")
        if "TZID" in e["DTSTART"].params
    }
    assert tzids == {"America/New_York"}
    assert {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")} == tzids
    assert calendar["REFRESH-INTERVAL"].to_ical() == b"PT4H"
    assert calendar["X-PUBLISHED-TTL"].to_ical() == b"PT4H"
    assert str(calendar["X-WR-CALNAME"]) == "Medication plan"
    assert "METHOD" not in calendar


def test_each_dose_event_has_one_display_alarm_and_its_own_catch_up_time() -> None:
    plan = engine_plan(ACROSS_DST)
    calendar = Calendar.from_ical(ical.calendar_for_engine_plan(plan, changed_at=CHANGED))
    doses = [e for e in calendar.walk("VEVENT") if str(e["SUMMARY"]) == "Medication dose"]
    assert doses
    catch_up = {e.at: e.catch_up_until.astimezone(NEW_YORK) for e in plan.dose_events}
    for event in doses:
        alarms = event.walk("VALARM")
        assert len(alarms) == 1
        assert str(alarms[0]["ACTION"]) == "DISPLAY"
        description = str(event["DESCRIPTION"])
        assert "Never take two doses at once" in description
        until = catch_up[event.decoded("DTSTART")]
        assert f"take it as soon as you remember, up to {until:%H:%M}" in description


def test_there_is_a_dose_change_event_before_each_decrease_and_a_last_dose_event() -> None:
    plan = engine_plan(ACROSS_DST)
    calendar = Calendar.from_ical(ical.calendar_for_engine_plan(plan, changed_at=CHANGED))
    changes = sorted(
        e["DTSTART"].dt
        for e in calendar.walk("VEVENT")
        if str(e["SUMMARY"]) == "Your dose changes tomorrow"
    )
    assert changes == [step.start_date - dt.timedelta(days=1) for step in plan.steps[1:]]
    last = [e for e in calendar.walk("VEVENT") if str(e["SUMMARY"]) == "Last day of your plan"]
    assert [e["DTSTART"].dt for e in last] == [plan.end_date]


def test_event_text_names_no_drug_or_dose_unless_the_patient_chooses_detail() -> None:
    plan = engine_plan(ACROSS_DST)
    minimal = ical.calendar_for_engine_plan(plan, changed_at=CHANGED).decode()
    assert "baclofen" not in minimal.lower()
    assert " mg" not in minimal
    detailed = ical.calendar_for_engine_plan(plan, changed_at=CHANGED, detailed=True).decode()
    # The amount in the same words as the reminders and Today (reminders.amounts).
    assert "SUMMARY:1 tablet of 20 mg (baclofen 20 mg)" in detailed


def test_a_revision_keeps_uids_raises_sequence_and_dates_the_change() -> None:
    first = engine_plan(ACROSS_DST)
    slower = engine_plan({**ACROSS_DST, "pace": "slower"})
    later = CHANGED + dt.timedelta(days=2)
    body = ical.render_calendar(
        [
            ical.CalendarPlan(
                "plan-7", (ical.PlanVersion(CHANGED, first), ical.PlanVersion(later, slower))
            )
        ],
        ical.CalendarSettings(),
    )
    events = {str(e["UID"]): e for e in Calendar.from_ical(body).walk("VEVENT")}
    only_first = ical.render_calendar(
        [ical.CalendarPlan("plan-7", (ical.PlanVersion(CHANGED, first),))],
        ical.CalendarSettings(),
    )
    before = {str(e["UID"]): e for e in Calendar.from_ical(only_first).walk("VEVENT")}
    kept = set(before) & set(events)
    assert kept, "a revision must keep the UIDs of the events it does not remove"
    changed = [
        uid
        for uid in kept
        if before[uid]["DTSTART"].dt == events[uid]["DTSTART"].dt
        and before[uid].get("RRULE") != events[uid].get("RRULE")
    ]
    assert changed
    for uid in changed:
        assert int(str(events[uid]["SEQUENCE"])) == 1
        assert events[uid]["DTSTAMP"].dt == later
    for uid in set(before) - set(events):
        assert uid not in body.decode()
    unchanged = [
        uid for uid in kept if uid not in changed and before[uid].to_ical() == events[uid].to_ical()
    ]
    for uid in unchanged:
        assert int(str(events[uid]["SEQUENCE"])) == 0


def test_the_same_plan_gives_the_same_bytes_whenever_it_is_asked_for() -> None:
    plan = engine_plan(ACROSS_DST)
    with time_machine.travel("2027-03-02 10:00:00+00:00", tick=False):
        first = ical.calendar_for_engine_plan(plan, changed_at=CHANGED)
    with time_machine.travel("2027-03-20 18:00:00+00:00", tick=False):
        second = ical.calendar_for_engine_plan(plan, changed_at=CHANGED)
    assert first == second
    assert b"DTSTAMP:20270301T093000Z" in first


@pytest.mark.external
def test_mozillas_ical_js_reads_the_same_dose_times(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is needed for this test (installed by .ci/run)"
    plan = engine_plan(ACROSS_DST)
    path = tmp_path / "plan.ics"
    path.write_bytes(ical.calendar_for_engine_plan(plan, changed_at=CHANGED))
    until = f"{plan.end_date + dt.timedelta(days=2)}T00:00:00"
    result = subprocess.run(
        [node, str(ROOT / "tests/reminders/icaljs_expand.mjs"), str(path), until],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    occurrences = json.loads(result.stdout)
    doses = sorted(o["start"] for o in occurrences if o["summary"] == "Medication dose")
    expected = sorted(
        e.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z") for e in plan.dose_events
    )
    assert doses == expected
    assert all(o["alarms"] == 1 for o in occurrences if o["summary"] == "Medication dose")


# --- the feed over HTTP --------------------------------------------------------------


@pytest.fixture
def active_plan(alice: Any, patient: Patient) -> TaperPlan:
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_activate(plan=plan, by=alice)
    return plan


def test_the_feed_answers_with_validators_and_a_304_when_nothing_changed(
    client: Client, patient: Patient, active_plan: TaperPlan
) -> None:
    token = feeds.feed_token_issue(patient=patient, by=None)
    url = reverse("calendar_feed", args=[token])
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in response["Cache-Control"]
    etag, modified = response["ETag"], response["Last-Modified"]
    assert Calendar.from_ical(response.content).walk("VEVENT")
    assert client.get(url, headers={"if-none-match": etag}).status_code == 304
    assert client.get(url, headers={"if-modified-since": modified}).status_code == 304


def test_a_new_revision_or_a_cancellation_changes_the_feed_and_moves_last_modified(
    client: Client, alice: Any, patient: Patient, active_plan: TaperPlan
) -> None:
    token = feeds.feed_token_issue(patient=patient, by=None)
    url = reverse("calendar_feed", args=[token])
    with time_machine.travel(dt.datetime(2027, 2, 1, tzinfo=dt.UTC)):
        first = client.get(url)
    with time_machine.travel(dt.datetime(2027, 2, 2, tzinfo=dt.UTC)):
        services.plan_cancel(plan=active_plan, by=alice, reason="Reaction")
    second = client.get(url, headers={"if-none-match": first["ETag"]})
    assert second.status_code == 200
    assert b"BEGIN:VEVENT" not in second.content
    assert second["Last-Modified"] != first["Last-Modified"]


def test_unknown_revoked_and_rotated_addresses_get_a_plain_404(
    client: Client, patient: Patient, active_plan: TaperPlan
) -> None:
    assert client.get(reverse("calendar_feed", args=["x" * 43])).status_code == 404
    old = feeds.feed_token_issue(patient=patient, by=None)
    new = feeds.feed_token_issue(patient=patient, by=None)
    assert client.get(reverse("calendar_feed", args=[old])).status_code == 404
    assert client.get(reverse("calendar_feed", args=[new])).status_code == 200
    feeds.feed_token_revoke(patient=patient, by=None)
    assert client.get(reverse("calendar_feed", args=[new])).status_code == 404


def test_the_token_has_256_bits_and_only_its_hash_is_stored(patient: Patient) -> None:
    token = feeds.feed_token_issue(patient=patient, by=None)
    assert len(token) >= 43
    stored = FeedToken.objects.get()
    assert token not in stored.token_hash
    assert len(stored.token_hash) == 64
    history_fields = {f.name for f in stored.history.model._meta.fields}
    assert "token_hash" not in history_fields


def test_feed_tokens_never_reach_the_logs(
    client: Client, patient: Patient, active_plan: TaperPlan, caplog: pytest.LogCaptureFixture
) -> None:
    token = feeds.feed_token_issue(patient=patient, by=None)
    feeds.feed_token_revoke(patient=patient, by=None)
    handler_filter = __import__("planner.logfilters", fromlist=["RedactSecrets"]).RedactSecrets()
    caplog.handler.addFilter(handler_filter)
    with caplog.at_level(logging.DEBUG):
        assert client.get(reverse("calendar_feed", args=[token])).status_code == 404
    assert caplog.records, "the 404 is logged"
    assert all(token not in caplog.handler.format(r) for r in caplog.records)
    assert "/calendar/[redacted].ics" in caplog.text


def test_the_clinician_issues_an_address_shown_once_with_links_and_a_qr_code(
    client: Client, alice: Any, patient: Patient
) -> None:
    client.force_login(alice)
    url = reverse("patient_calendar", args=[patient.pk])
    page = client.post(url, {"action": "issue"}).content.decode()
    assert "webcal://" in page
    assert "calendar.google.com/calendar/r?cid=webcal" in page
    assert "outlook.live.com/calendar/0/addfromweb" in page
    assert "<svg" in page
    again = client.get(url).content.decode()
    assert "webcal://" not in again
    client.post(url, {"action": "revoke"})
    assert not FeedToken.objects.filter(revoked_at__isnull=True).exists()


def test_the_plan_download_is_the_same_calendar(
    client: Client, alice: Any, active_plan: TaperPlan
) -> None:
    client.force_login(alice)
    response = client.get(reverse("plan_calendar", args=[active_plan.pk]))
    assert response["Content-Disposition"].startswith("attachment")
    assert Calendar.from_ical(response.content).walk("VEVENT")


def test_the_command_line_writes_the_calendar_without_a_database(tmp_path: Path) -> None:
    from io import StringIO

    from django.core.management import call_command

    path = tmp_path / "in.json"
    path.write_text(json.dumps(ACROSS_DST))
    out = StringIO()
    call_command("taper_plan", "--input", str(path), "--format", "ics", stdout=out)
    plan = engine_plan(ACROSS_DST)
    assert dose_occurrences(out.getvalue().encode(), plan) == sorted(e.at for e in plan.dose_events)


@pytest.fixture
def patient_login(client: Client, django_user_model: Any, patient: Patient) -> Client:
    user = django_user_model.objects.create_user(username="pat", password="pw-for-tests-1")
    patient.user = user
    patient.save()
    client.force_login(user)
    return client


def feed_token_in(page: str) -> str:
    return page.split("/calendar/")[1].split(".ics")[0]


def feed_status(client: Client, token: str) -> int:
    return client.get(reverse("calendar_feed", args=[token])).status_code


def test_a_patient_holds_one_address_per_device_and_renews_or_stops_each_alone(
    patient_login: Client, patient: Patient, active_plan: TaperPlan
) -> None:
    url = reverse("my_calendar")
    phone = feed_token_in(patient_login.post(url, {"action": "add", "name": "My phone"}).content
                          .decode())
    tablet = feed_token_in(patient_login.post(url, {"action": "add", "name": "Tablet"}).content
                           .decode())
    assert feed_status(patient_login, phone) == 200
    assert feed_status(patient_login, tablet) == 200  # the second device broke nothing
    page = patient_login.get(url).content.decode()
    assert "My phone" in page
    assert "Tablet" in page
    assert phone not in page  # shown once only
    assert tablet not in page
    phone_id = FeedToken.objects.get(name="My phone", revoked_at__isnull=True).pk
    # A new address for the phone asks first; confirmed, only the phone's changes.
    asked = patient_login.post(url, {"action": "renew", "device": phone_id})
    assert "Make a new address for “My phone”?" in asked.content.decode()
    assert feed_status(patient_login, phone) == 200
    renewed = patient_login.post(url, {"action": "renew", "device": phone_id, "confirm": "yes"})
    new_phone = feed_token_in(renewed.content.decode())
    assert feed_status(patient_login, phone) == 404
    assert feed_status(patient_login, new_phone) == 200
    assert feed_status(patient_login, tablet) == 200
    # Stopping the tablet asks first too.
    tablet_id = FeedToken.objects.get(name="Tablet", revoked_at__isnull=True).pk
    asked = patient_login.post(url, {"action": "stop", "device": tablet_id})
    assert "Stop the address of “Tablet”?" in asked.content.decode()
    assert feed_status(patient_login, tablet) == 200
    patient_login.post(url, {"action": "stop", "device": tablet_id, "confirm": "yes"})
    assert feed_status(patient_login, tablet) == 404
    assert feed_status(patient_login, new_phone) == 200


def test_a_device_needs_a_name_and_another_patients_device_cannot_be_touched(
    patient_login: Client, patient: Patient, active_plan: TaperPlan
) -> None:
    other_patient = PatientFactory.create(clinic=patient.clinic, given_name="Bea")
    url = reverse("my_calendar")
    response = patient_login.post(url, {"action": "add", "name": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not FeedToken.objects.exists()
    theirs = feeds.feed_device_add(patient=other_patient, by=None, name="Their phone")
    their_id = FeedToken.objects.get().pk
    for action in ("renew", "stop"):
        for device in (their_id, "x", "9" * 30):
            response = patient_login.post(
                url, {"action": action, "device": device, "confirm": "yes"}
            )
            assert response.status_code == 302
    assert feed_status(patient_login, theirs) == 200


def test_a_patient_holds_at_most_ten_device_addresses(patient: Patient) -> None:
    for number in range(feeds.DEVICES_MAX):
        feeds.feed_device_add(patient=patient, by=None, name=f"Device {number}")
    with pytest.raises(feeds.FeedDeviceError):
        feeds.feed_device_add(patient=patient, by=None, name="One too many")
    assert feeds.feed_devices(patient).count() == feeds.DEVICES_MAX


def test_the_qr_code_holds_the_https_address_that_android_camera_apps_open() -> None:
    import segno

    from reminders.subscription import subscription_context

    context = subscription_context("t" * 43)
    https = context["urls"]["https"]
    assert https.startswith("http")
    expected = segno.make(https, error="m").svg_inline(
        scale=4, title="QR code of your calendar address"
    )
    assert context["qr_svg"] == expected


def test_the_migration_names_an_existing_address_as_the_first_device_and_it_keeps_working(
    client: Client, patient: Patient, active_plan: TaperPlan
) -> None:
    import importlib

    from django.apps import apps

    from portal.services import language_set

    migration = importlib.import_module("reminders.migrations.0010_feed_token_per_device")
    token = feeds.feed_token_issue(patient=patient, by=None)  # as made before devices
    language_set(patient=patient, language="es")
    migration.name_existing_addresses(apps, None)
    assert FeedToken.objects.get().name == "Mi primer dispositivo"
    assert feed_status(client, token) == 200


def test_a_patient_chooses_detailed_titles_and_the_feed_changes(
    patient_login: Client, patient: Patient, active_plan: TaperPlan
) -> None:
    token = feeds.feed_token_issue(patient=patient, by=None)
    feed_url = reverse("calendar_feed", args=[token])
    before = patient_login.get(feed_url)
    assert b"baclofen" not in before.content.lower()
    response = patient_login.post(
        reverse("my_calendar"), {"action": "privacy", "detailed_titles": "1"}
    )
    assert response.status_code == 302
    after = patient_login.get(feed_url, headers={"if-none-match": before["ETag"]})
    assert after.status_code == 200
    assert b"tablet of 10 mg (baclofen 10 mg)" in after.content
    assert b"SEQUENCE:1" in after.content


def test_someone_without_a_patient_record_cannot_open_the_patient_calendar_page(
    client: Client, alice: Any
) -> None:
    client.force_login(alice)
    assert client.get(reverse("my_calendar")).status_code == 403


def test_a_revision_waiting_for_review_or_rejected_stays_off_the_calendar(
    alice: Any, patient: Patient, active_plan: TaperPlan, django_user_model: Any
) -> None:
    from planner.models import RevisionKind
    from planner.roles import Role
    from tests.support.factories import make_staff

    bob = make_staff(django_user_model, "bob", patient.clinic, Role.REVIEWER)
    patient.clinic.require_review_for_all_plans = True
    patient.clinic.save()
    before = feeds.plan_calendar(active_plan, patient)
    with time_machine.travel(dt.datetime(2027, 3, 2, 12, tzinfo=dt.UTC)):
        services.plan_revise(plan=active_plan, by=alice, kind=RevisionKind.HOLD,
                             from_date=dt.date(2027, 3, 4), days=3)
    assert feeds.plan_calendar(active_plan, patient) == before  # pending: not in force
    with time_machine.travel(dt.datetime(2027, 3, 2, 13, tzinfo=dt.UTC)):
        services.revision_reject(plan=active_plan, by=bob, comment="Not yet")
    assert feeds.plan_calendar(active_plan, patient) == before  # rejected: never in force
    with time_machine.travel(dt.datetime(2027, 3, 2, 14, tzinfo=dt.UTC)):
        services.plan_revise(plan=active_plan, by=alice, kind=RevisionKind.HOLD,
                             from_date=dt.date(2027, 3, 4), days=3)
        services.revision_approve(plan=active_plan, by=bob)
    assert feeds.plan_calendar(active_plan, patient) != before  # approved: in force


def test_a_304_carries_the_etag_and_last_modified_of_the_feed(
    client: Client, patient: Patient, active_plan: TaperPlan
) -> None:
    token = feeds.feed_token_issue(patient=patient, by=None)
    url = reverse("calendar_feed", args=[token])
    first = client.get(url)
    for headers in ({"if-none-match": first["ETag"]},
                    {"if-modified-since": first["Last-Modified"]}):
        again = client.get(url, headers=headers)
        assert again.status_code == 304
        assert again["ETag"] == first["ETag"]
        assert again["Last-Modified"] == first["Last-Modified"]
        assert "private" in again["Cache-Control"]


def test_the_feed_speaks_the_patients_language_and_changing_it_changes_the_feed(
    client: Client, patient: Patient, active_plan: TaperPlan
) -> None:
    from portal.services import language_set

    token = feeds.feed_token_issue(patient=patient, by=None)
    url = reverse("calendar_feed", args=[token])
    english = client.get(url)
    with time_machine.travel(dt.datetime(2027, 2, 21, tzinfo=dt.UTC)):
        language_set(patient=patient, language="es")
    spanish = client.get(url, headers={"if-none-match": english["ETag"]})
    assert spanish.status_code == 200
    assert spanish["Last-Modified"] != english["Last-Modified"]
    calendar = Calendar.from_ical(spanish.content)
    events = calendar.walk("VEVENT")
    summaries = {str(event["SUMMARY"]) for event in events}
    assert "Dosis de medicamento" in summaries
    assert "Medication dose" not in summaries
    assert "Su dosis cambia mañana" in summaries
    assert any("Si olvida esta dosis" in str(event["DESCRIPTION"]) for event in events)
    alarms = [str(alarm["DESCRIPTION"]) for alarm in calendar.walk("VALARM")]
    assert alarms
    assert set(alarms) == {"Dosis de medicamento"}
    assert str(calendar["X-WR-CALNAME"]) == "Plan de medicación"
    assert b"SEQUENCE:1" in spanish.content


def test_the_device_pages_speak_spanish(
    patient_login: Client, patient: Patient, active_plan: TaperPlan
) -> None:
    from portal.services import language_set

    language_set(patient=patient, language="es")
    url = reverse("my_calendar")
    added = patient_login.post(url, {"action": "add", "name": "Mi teléfono"}).content.decode()
    assert "Sus dispositivos" in added
    assert "Solo la mostramos esta vez." in added
    device = FeedToken.objects.get(revoked_at__isnull=True).pk
    asked = patient_login.post(url, {"action": "stop", "device": device}).content.decode()
    assert "¿Detener la dirección de «Mi teléfono»?" in asked
    assert "Sí, detenerla" in asked
    refused = patient_login.post(url, {"action": "add", "name": ""}).content.decode()
    assert "Nombre del dispositivo" in refused
