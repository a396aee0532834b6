"""No secret and no health data in the logs (issue #9).

A whole story runs while every log line is captured as the site writes it: the stream
of each console handler that logging.config set up (the project's "console", whose
RedactSecrets filter rewrites feed and action-link paths, and Django's own) is
replaced by a buffer, and Celery tasks run eagerly in this process so their lines are
caught too. The story: a clinician adds a patient and a plan, submits it, a reviewer
approves, the plan is activated, the patient is invited and subscribes to the
calendar, the feed is fetched, reminders go out, an action link is opened and
answered (twice: a conflict), a dose is answered in the portal, a check-in reports
severe symptoms (an alert), the address is rotated and the old one asked for (404),
someone fails to log in. The logs then hold no feed token, no action-link token, no
invitation token, no patient name or address, no "baclofen" and no dose in mg.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from planner.celery import app as celery_app
from planner.models import Patient, PlanStatus, TaperPlan
from planner.roles import Role
from reminders import actions
from reminders.models import AbruptStopAlert, Dose, FeedToken
from reminders.tasks import dispatch_reminders
from tests.support.factories import make_staff
from tests.support.plans import at_new_york, plan_post, review_post

# Real commits: after-commit work (e-mails, task hand-offs) runs when the pages' writes
# commit, as on the site.
pytestmark = pytest.mark.django_db(transaction=True)

GIVEN, FAMILY = "Zebulonia", "Quarkfeather"
EMAIL = "zq.patient@example.org"
PASSWORD = "pw-for-tests-1"  # tests.conftest.make_staff
MG = re.compile(r"\d+(?:[.,]\d+)?\s*mg\b", re.IGNORECASE)


def console_handlers() -> list[logging.StreamHandler[Any]]:
    """Every handler that writes log lines out, as logging.config set them up (not the
    capture handlers pytest adds)."""
    seen: dict[int, logging.StreamHandler[Any]] = {}
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:
                seen[id(handler)] = handler
    return list(seen.values())


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    handlers = console_handlers()
    names = [h.get_name() for h in handlers]
    assert "console" in names, names  # the project's handler, with its filter
    project = next(h for h in handlers if h.get_name() == "console")
    assert any(type(f).__name__ == "RedactSecrets" for f in project.filters)
    buffer = io.StringIO()
    previous = [h.setStream(buffer) for h in handlers]
    try:
        yield buffer
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Celery tasks run in this process, with their log lines, when the writes that send
    them commit."""
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


def log_in(username: str, password: str = PASSWORD) -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": password})
    assert response.status_code == 302, username
    return client


def links_in_mail() -> list[str]:
    return [
        link
        for message in mail.outbox
        for link in re.findall(r"http://[^/\s]+(/a/[^/\s]+/)", str(message.body))
    ]


def action_of(link: str) -> str:
    read = actions.read_action(link.split("/")[2])
    assert read is not None
    return read.action


def story(django_user_model: Any, clinic: Any, alice: Any) -> dict[str, list[str]]:
    """The whole story; returns the secrets it handed out."""
    secrets: dict[str, list[str]] = {"feed": [], "action": [], "welcome": []}
    alice.email = "alice@clinic.example"
    alice.save()
    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    bob.email = "bob@clinic.example"
    bob.save()

    with time_machine.travel(dt.datetime(2027, 2, 20, 10, tzinfo=dt.UTC)):
        clinician = log_in("alice")
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
                "creatinine_clearance_ml_min": "25",  # needs a reviewer
            },
        )
        assert response.status_code == 302
        patient = Patient.objects.get()
        response = clinician.post(reverse("plan_new", args=[patient.pk]), plan_post())
        assert response.status_code == 302
        plan = TaperPlan.objects.get()
        clinician.post(reverse("plan_submit", args=[plan.pk]))
        reviewer = log_in("bob")
        reviewer.post(reverse("plan_review", args=[plan.pk]), review_post(plan, "approve"))
        plan.refresh_from_db()
        assert plan.status == PlanStatus.APPROVED
        # A patient page is no business of the reviewer's: 403, logged with its path.
        assert reviewer.post(reverse("plan_activate", args=[plan.pk])).status_code == 403

    with time_machine.travel(dt.datetime(2027, 2, 25, 10, tzinfo=dt.UTC)):
        clinician = log_in("alice")
        clinician.post(reverse("plan_activate", args=[plan.pk]))
        plan.refresh_from_db()
        assert plan.status == PlanStatus.ACTIVE
        clinician.post(reverse("patient_invite", args=[patient.pk]))
        welcome = re.search(r"http://[^/\s]+(/me/welcome/\S+/)", str(mail.outbox[-1].body))
        assert welcome is not None
        secrets["welcome"] = welcome.group(1).strip("/").split("/")[-2:]
        me = Client()
        form_page = me.get(welcome.group(1), follow=True)
        new_password = "a-long-new-passphrase-42"
        me.post(
            form_page.redirect_chain[-1][0],
            {"new_password1": new_password, "new_password2": new_password},
        )
        # The used invitation link again: Django shows "invalid link".
        me.get(welcome.group(1), follow=True)
        issued = me.post(reverse("my_calendar"), {"action": "add", "name": "My phone"})
        feed = issued.context["subscription"]["urls"]["https"].split("/calendar/")[1]
        secrets["feed"].append(feed.removesuffix(".ics"))
        me.post(reverse("my_calendar"), {"action": "privacy", "detailed_titles": "1"})
        body = Client().get("/calendar/" + feed)
        assert body.status_code == 200
        assert b"(baclofen " in body.content  # detailed titles: the feed itself names it

    morning = at_new_york("2027-03-01", "08:00")
    with time_machine.travel(morning, tick=False):
        dispatch_reminders.delay()  # eager: claims the due rows and delivers them
    links = links_in_mail()
    assert links, [m.subject for m in mail.outbox]
    secrets["action"] += [link.split("/")[2] for link in links]
    with time_machine.travel(at_new_york("2027-03-01", "08:30"), tick=False):
        by_action = {action_of(link): link for link in links}
        assert Client().get(by_action["taken"]).status_code == 200
        assert Client().post(by_action["taken"]).status_code == 200
        # Skipping what is recorded as taken: 409, logged with its path.
        assert Client().post(by_action["skipped"]).status_code == 409
        # A check-in link, answered wrongly: 400, logged with its path.
        check_in = reverse("action", args=[actions.check_in_link(plan.pk, morning)])
        secrets["action"].append(check_in.split("/")[2])
        assert Client().post(check_in, {"spasticity": "very"}).status_code == 400
        assert Client().get("/a/" + "x" * 40 + "/").status_code == 404  # made up

    with time_machine.travel(at_new_york("2027-03-01", "14:05"), tick=False):
        dispatch_reminders.delay()
        me = log_in(EMAIL, new_password)
        dose = Dose.objects.get(plan=plan, local_date="2027-03-01", local_time="14:00")
        me.post(reverse("patient_dose_answer", args=[dose.pk]), {"answer": "taken"})
        me.post(
            reverse("patient_check_in"),
            {key: "severe" for key in ("spasticity", "itching", "anxiety", "hallucinations",
                                       "confusion", "fever", "seizure")},
        )
        assert AbruptStopAlert.objects.filter(plan=plan).exists()
        dispatch_reminders.delay()  # the alert goes to the clinic
        device = FeedToken.objects.get(revoked_at__isnull=True).pk
        rotated = me.post(
            reverse("my_calendar"), {"action": "renew", "device": device, "confirm": "yes"}
        )
        feed = rotated.context["subscription"]["urls"]["https"].split("/calendar/")[1]
        secrets["feed"].append(feed.removesuffix(".ics"))
        assert Client().get("/calendar/" + secrets["feed"][0] + ".ics").status_code == 404
        assert Client().get("/calendar/" + feed).status_code == 200
        # Someone guesses the patient's password.
        failed = Client().post(reverse("login"), {"username": EMAIL, "password": "guess"})
        assert failed.status_code == 200
        secrets["action"] += [link.split("/")[2] for link in links_in_mail()]
    return secrets


def assert_clean(text: str, secrets: dict[str, list[str]]) -> None:
    for kind, values in secrets.items():
        for value in values:
            assert value not in text, f"a {kind} token is in the logs"
    lowered = text.lower()
    for word in (GIVEN, FAMILY, EMAIL, "baclofen"):
        assert word.lower() not in lowered, f"{word!r} is in the logs"
    assert not MG.search(text), MG.search(text)
    assert not re.search(r"/a/[A-Za-z0-9_:.\-]{16,}", text), "an action link is in the logs"
    assert not re.search(r"/calendar/(?!\[redacted\])[^/\s]+\.ics", text)


def test_the_logs_of_a_whole_story_hold_no_secret_and_no_health_data(
    logs: io.StringIO, eager_tasks: None, django_user_model: Any, clinic: Any, alice: Any
) -> None:
    secrets = story(django_user_model, clinic, alice)
    text = logs.getvalue()
    # The capture really captures: lines of requests, of tasks and of the alert.
    assert "Not Found: /calendar/[redacted].ics" in text, text
    assert "Conflict: /a/[redacted]/" in text
    assert "Bad Request: /a/[redacted]/" in text
    assert "Forbidden (Permission denied): /clinic/plans/" in text
    assert "celery.app.trace Task reminders.tasks.dispatch_reminders" in text
    assert "celery.app.trace Task reminders.tasks.deliver_reminders" in text
    assert "abrupt-stop alert" in text
    assert "axes" in text  # the log-ins, with the user name masked
    assert len(mail.outbox) >= 5
    assert_clean(text, secrets)


def test_with_debug_on_too(
    logs: io.StringIO,
    eager_tasks: None,
    django_user_model: Any,
    clinic: Any,
    alice: Any,
    settings: Any,
) -> None:
    """A developer's `make run` (DEBUG=1): Django's own console handler writes too."""
    settings.DEBUG = True
    secrets = story(django_user_model, clinic, alice)
    text = logs.getvalue()
    assert "Not Found: /calendar/[redacted].ics" in text, text
    assert_clean(text, secrets)
