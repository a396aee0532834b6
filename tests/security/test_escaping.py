"""Everything a user typed is escaped wherever it is shown (issue #9).

A patient whose name and e-mail address are script tags and attribute breakers goes
through the whole story, typed in through the pages: a plan with an abrupt-stop reason,
a rejection comment, a revision note, check-in answers, a cancellation reason. Then the
clinician's pages, the review and audit pages, the patient's portal and e-mail-link
pages, the e-mails (HTML and text), the calendar and the CSV download are read back.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from icalendar import Calendar

from planner.models import Patient, PlanStatus, TaperPlan
from planner.roles import Role
from portal.selectors import FORMULA_STARTS, csv_cell
from reminders import dispatch
from reminders.channels import EmailChannel, InAppChannel
from reminders.models import Dose, DoseStatus
from tests.support.factories import make_staff
from tests.support.plans import at_new_york, plan_post, review_post

# Real commits: after-commit work (e-mails, task hand-offs) runs when the pages' writes
# commit, as on the site.
pytestmark = pytest.mark.django_db(transaction=True)

XSS = "<script>alert(1)</script>"
ATTRIBUTE = '"onmouseover=alert(1) x="'
IMAGE = "'><img src=x onerror=alert(1)>"
FORMULAS = ('=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "-1+1", "@SUM(1)")

GIVEN = "<script>alert('given')</script>"
FAMILY = ATTRIBUTE + " " + FORMULAS[3]
RENAMED = "<b>Renamed</b> " + FORMULAS[2]
# A valid address (a quoted local part may hold < > ( ) /); it becomes the user name.
EMAIL = '"<script>alert(1)</script>"@example.org'
ABRUPT_REASON = f"{FORMULAS[0]} {XSS}"
COMMENT = f"{FORMULAS[0]} {ATTRIBUTE} {XSS}"
NOTE = f"{FORMULAS[2]} {IMAGE} {XSS}"
CANCEL_REASON = f"{FORMULAS[1]} {XSS} {ATTRIBUTE}"
TYPED = (GIVEN, FAMILY, RENAMED, EMAIL, ABRUPT_REASON, COMMENT, NOTE, CANCEL_REASON)
MARKUP = (XSS, GIVEN, ATTRIBUTE, IMAGE, '"onmouseover=', "<img src=x", "<b>Renamed</b>")


def assert_escaped(html: str, where: str, shows: tuple[str, ...] = ()) -> None:
    """No typed markup is live in the page; `shows` must appear, escaped."""
    for markup in MARKUP:
        assert markup not in html, f"{where}: {markup!r} unescaped"
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, f"{where}: an inline script"
    for text in shows:
        assert escape(text) in html, f"{where} does not show {text!r} (escaped)"


@dataclass
class Story:
    patient: Patient
    plan: TaperPlan
    alice: Any
    bob: Any
    pages: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    feed: bytes = b""
    csv_text: str = ""
    patient_client: Client | None = None

    def read(self, client: Client, name: str, url: str, *shows: str, **kwargs: Any) -> str:
        response = client.get(url, **kwargs)
        assert response.status_code == 200, (name, response.status_code)
        html = response.content.decode()
        self.pages[name] = (html, shows)
        return html


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def deliver_due(now: dt.datetime) -> None:
    claimed: list[int] = []
    dispatch.dispatch_tick(now=now, enqueue=lambda ids, claim: claimed.extend(ids))
    for reminder_id in claimed:
        dispatch.reminder_deliver(
            reminder_id=reminder_id, now=now, channels=[EmailChannel(), InAppChannel()]
        )


@pytest.fixture
def story(
    django_user_model: Any, clinic: Any, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> Story:
    """The whole story, typed in through the pages; every page read on the way."""
    alice.email = "alice@clinic.example"
    alice.save()
    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    bob.email = "bob@clinic.example"
    bob.save()

    with time_machine.travel(dt.datetime(2027, 2, 20, 10, tzinfo=dt.UTC)):
        clinician = login(alice)
        response = clinician.post(
            reverse("patient_new"),
            {
                "given_name": GIVEN,
                "family_name": FAMILY,
                "date_of_birth": "1960-04-05",
                "sex": "female",
                "email": EMAIL,
                "home_timezone": "America/New_York",
                "pregnancy_trimester": "0",
            },
        )
        assert response.status_code == 302, response.context["form"].errors
        patient = Patient.objects.get()
        # Four days instead of at least 14: an abrupt stop, with the reason typed in.
        response = clinician.post(
            reverse("plan_new", args=[patient.pk]),
            plan_post(
                pace="custom", length_days="4", step_days="2", abrupt_stop_reason=ABRUPT_REASON
            ),
        )
        assert response.status_code == 302, response.context["form"].errors
        plan = TaperPlan.objects.get()
        s = Story(patient=patient, plan=plan, alice=alice, bob=bob)
        name = (GIVEN, FAMILY)
        s.read(clinician, "patients", reverse("patients"), *name)
        s.read(clinician, "patient", reverse("patient", args=[patient.pk]), *name)
        s.read(clinician, "patient_edit", reverse("patient_edit", args=[patient.pk]), *name)
        s.read(clinician, "plan_new", reverse("plan_new", args=[patient.pk]), *name)
        s.read(clinician, "plan (draft)", reverse("plan", args=[plan.pk]), *name, ABRUPT_REASON)
        s.read(clinician, "handout", reverse("plan_handout", args=[plan.pk]))  # names nobody
        clinician.post(reverse("plan_submit", args=[plan.pk]))

        reviewer = login(bob)
        s.read(reviewer, "review queue", reverse("review_queue"), *name)
        s.read(reviewer, "review", reverse("plan_review", args=[plan.pk]), *name, ABRUPT_REASON)
        response = reviewer.post(
            reverse("plan_review", args=[plan.pk]), review_post(plan, "reject", COMMENT)
        )
        assert response.status_code == 302
        s.read(clinician, "dashboard", reverse("dashboard"))
        s.read(clinician, "plan (rejected)", reverse("plan", args=[plan.pk]), COMMENT)
        s.read(clinician, "plan_edit", reverse("plan_edit", args=[plan.pk]), *name, COMMENT)
        response = clinician.post(
            reverse("plan_edit", args=[plan.pk]),
            plan_post(
                pace="custom",
                length_days="4",
                step_days="2",
                abrupt_stop_reason=ABRUPT_REASON,
                submission_key="",
            ),
        )
        assert response.status_code == 302
        clinician.post(reverse("plan_submit", args=[plan.pk]))
        s.read(reviewer, "review (again)", reverse("plan_review", args=[plan.pk]), COMMENT)
        reviewer.post(reverse("plan_review", args=[plan.pk]), review_post(plan, "approve"))
        plan.refresh_from_db()
        assert plan.status == PlanStatus.APPROVED

    with time_machine.travel(dt.datetime(2027, 2, 25, 10, tzinfo=dt.UTC)):
        clinician = login(alice)
        clinician.post(reverse("plan_activate", args=[plan.pk]))
        plan.refresh_from_db()
        assert plan.status == PlanStatus.ACTIVE
        clinician.post(reverse("patient_invite", args=[patient.pk]))
        match = re.search(r"http://[^/\s]+(/me/welcome/\S+/)", str(mail.outbox[-1].body))
        assert match is not None, mail.outbox[-1].body
        patient_client = Client()
        form_page = patient_client.get(match.group(1), follow=True)
        s.read(patient_client, "welcome", form_page.redirect_chain[-1][0])
        password = "a-long-new-passphrase-42"
        patient_client.post(
            form_page.redirect_chain[-1][0],
            {"new_password1": password, "new_password2": password},
        )
        patient.refresh_from_db()
        assert patient.user is not None
        s.patient_client = patient_client

    with time_machine.travel(at_new_york("2027-03-01", "08:00"), tick=False):
        deliver_due(at_new_york("2027-03-01", "08:00"))  # the first dose reminders
    with time_machine.travel(at_new_york("2027-03-01", "09:00")):
        me = login(patient.user)
        s.read(me, "today", reverse("patient_today"), EMAIL)
        s.read(me, "plan (patient)", reverse("patient_plan"))
        s.read(me, "history (patient)", reverse("patient_history"))
        s.read(me, "settings", reverse("patient_settings"))
        s.read(me, "missed", reverse("patient_missed"))
        s.read(me, "check-in", reverse("patient_check_in"))
        # Typed check-in answers are not among the choices: refused, not reflected.
        refused = me.post(
            reverse("patient_check_in"), {"spasticity": XSS, "itching": ATTRIBUTE}
        )
        assert refused.status_code == 400
        s.pages["check-in (refused)"] = (refused.content.decode(), ())
        me.post(reverse("patient_check_in"), {k: "severe" for k in CHECK_IN_KEYS})
        issued = me.post(reverse("my_calendar"), {"action": "add", "name": XSS[:60]})
        token = issued.context["subscription"]["urls"]["https"].rsplit("/", 1)[1][: -len(".ics")]
        me.post(reverse("my_calendar"), {"action": "privacy", "detailed_titles": "1"})
        s.read(me, "my calendar", reverse("my_calendar"))
        s.feed = Client().get(reverse("calendar_feed", args=[token])).content
        for message in mail.outbox:
            for link in re.findall(r"http://[^/\s]+(/a/[^/\s]+/)", str(message.body)):
                s.read(Client(), f"action {link[:12]}", link)
        action_check_in = Client().post(
            re.findall(r"/a/[^/\s]+/", str(mail.outbox[-1].body))[0],
            {"spasticity": XSS},
        )
        s.pages["action (refused post)"] = (action_check_in.content.decode(), ())

    with time_machine.travel(at_new_york("2027-03-01", "09:05"), tick=False):
        deliver_due(at_new_york("2027-03-01", "09:05"))  # the clinic's alert
    with time_machine.travel(at_new_york("2027-03-01", "10:00")):
        clinician = login(alice)
        response = clinician.post(
            reverse("plan_revise", args=[plan.pk]),
            {"kind": "slow_down", "from_date": "2027-03-02", "note": NOTE},
        )
        assert response.status_code == 302, response.context["form"].errors
        s.read(clinician, "plan (revised)", reverse("plan", args=[plan.pk]), NOTE)
        s.read(clinician, "dashboard (alert)", reverse("dashboard"), *name)
        s.read(clinician, "revise", reverse("plan_revise", args=[plan.pk]), *name)
        s.read(clinician, "cancel", reverse("plan_cancel", args=[plan.pk]))
        s.read(
            clinician, "calendar page", reverse("patient_calendar", args=[patient.pk]), *name
        )
        s.read(
            clinician, "dose history", reverse("patient_dose_history", args=[patient.pk]), *name
        )
        s.csv_text = clinician.get(reverse("patient_doses_csv", args=[patient.pk])).content.decode()
        response = clinician.post(reverse("plan_cancel", args=[plan.pk]), {"reason": CANCEL_REASON})
        assert response.status_code == 302
        s.read(clinician, "plan (cancelled)", reverse("plan", args=[plan.pk]), CANCEL_REASON)
        edit = s.read(clinician, "patient_edit (again)", reverse("patient_edit", args=[patient.pk]))
        shown_values = r'<input type="(?:text|email|date|number)" name="(\w+)" value="([^"]*)"'
        data = dict(re.findall(shown_values, edit))
        response = clinician.post(
            reverse("patient_edit", args=[patient.pk]),
            {
                **{k: html.unescape(v) for k, v in data.items()},
                "family_name": RENAMED,
                "sex": "female",
                "home_timezone": "America/New_York",
                "pregnancy_trimester": "0",
            },
        )
        assert response.status_code == 302, response.context["form"].errors
        s.read(clinician, "patient (renamed)", reverse("patient", args=[patient.pk]), RENAMED)
        reviewer = login(bob)
        # The audit trail shows changed fields: the old and new name, the cancel reason.
        s.read(
            reviewer, "audit", reverse("plan_audit", args=[plan.pk]), FAMILY, RENAMED,
            CANCEL_REASON,
        )
    return s


CHECK_IN_KEYS = ("spasticity", "itching", "anxiety", "hallucinations", "confusion", "fever",
                 "seizure")


def test_typed_text_is_escaped_on_every_page(story: Story) -> None:
    assert len(story.pages) >= 30
    problems = []
    for where, (page, shows) in story.pages.items():
        try:
            assert_escaped(page, where, shows)
        except AssertionError as problem:
            problems.append(str(problem).splitlines()[0])
    assert problems == []


def test_typed_text_is_escaped_or_absent_in_every_e_mail(story: Story) -> None:
    """HTML parts escape; text parts show text as typed, never as HTML entities; no
    e-mail names the patient."""
    kinds = set()
    for message in mail.outbox:
        subject, body = str(message.subject), str(message.body)
        kinds.add(subject)
        for text in (subject, body):
            for name in (GIVEN, FAMILY):
                assert name not in text, subject
                assert escape(name) not in text, subject
        # A text part is not HTML: "&lt;" there would be shown to the reader as is.
        assert not re.search(r"&(lt|gt|quot|amp|#x27|#39);", body), (subject, body)
        for content, mimetype in getattr(message, "alternatives", []):
            assert mimetype == "text/html"
            assert_escaped(str(content), f"e-mail {subject!r} (HTML)")
    invitation = next(m for m in mail.outbox if "invites you" in str(m.subject))
    # The user name is the address as typed: the patient must be able to type it back.
    assert f"Your user name is: {EMAIL}" in str(invitation.body)
    assert any("Time for your" in s for s in kinds)  # a dose reminder with HTML part
    assert any("Abrupt-stop alert needs attention" in s for s in kinds)  # the clinic's alert
    assert any("returned to you" in s for s in kinds)  # the review decision


def test_the_calendar_holds_no_typed_text_even_with_detailed_titles(story: Story) -> None:
    text = story.feed.decode()
    assert "(baclofen 10 mg)" in text  # the patient chose detailed titles
    for typed in TYPED:
        for piece in re.split(r"\s+", typed):
            if len(piece) > 3:
                assert piece not in text, piece
    calendar = Calendar.from_ical(story.feed)
    assert calendar.walk("VEVENT")
    for line in text.split("\r\n"):
        assert not line.startswith(("<", '"')), line


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(story: Story) -> None:
    rows = list(csv.reader(io.StringIO(story.csv_text)))
    assert len(rows) > 1
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell

    # No column of the export is typed by a user today (Dose is read-only in the admin);
    # should one become so, its cells are neutralised. Rows written as any code could:
    plan = story.plan
    revision = plan.current_revision
    assert revision is not None
    now = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)
    hostile = [*FORMULAS, "\t=1+1", "\r=1+1", "=1+1\n=2", "-", "+", "@"]
    for number, text in enumerate(hostile):
        Dose.objects.create(
            plan=plan,
            revision=revision,
            local_date=dt.date(2027, 3, 1),
            local_time=dt.time(0, number),
            timezone=text,
            due_at=now + dt.timedelta(minutes=number),
            catch_up_until=now + dt.timedelta(hours=1),
            amount_mg=1,
            units_text=text,
            status=DoseStatus.TAKEN,
            answered_at=now,
        )
    with time_machine.travel(dt.datetime(2027, 3, 1, 15, tzinfo=dt.UTC)):
        text = login(story.alice).get(
            reverse("patient_doses_csv", args=[story.patient.pk])
        ).content.decode()
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows for cell in row]
    for cell in cells:
        assert not cell.startswith(FORMULA_STARTS), cell
    for typed in hostile:
        assert "'" + typed in cells, typed  # kept, as text


@pytest.mark.parametrize("value", [*FORMULAS, "\t=1", "\r=1", "=", "", "plain", 5, -5, None])
def test_csv_cell_makes_formulas_text(value: object) -> None:
    cell = csv_cell(value)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell.lstrip("'") == ("" if value is None else str(value))
