"""Who gets what: every route of the site × seven actors × GET and POST, in one table.

Every object in a URL belongs to patient A, a patient of clinic 1, so the table shows at a
glance that another patient (pB) and another clinic (c2) are refused. The table must name
every route the URL resolver knows (test_the_table_names_every_route_and_nothing_else), so
a new page cannot be added without deciding who may open it.

Actors: ``anon`` nobody logged in · ``pA`` patient A (an account with a Patient record) ·
``pB`` patient B, another patient of clinic 1 · ``c1`` clinician of clinic 1 (the author of
patient A's plans) · ``c2`` clinician of clinic 2 · ``rev`` reviewer of clinic 1 ·
``admin`` a superuser (is_staff, no clinic, no Patient record: not a clinician).

Answers:
    login  302 to the site's log-in page with ?next= (login_required)
    alog   302 to the admin's log-in page with ?next= (AdminSite.admin_view)
    302    a redirect somewhere else than a log-in page (the view ran)
    ok     allowed: the view ran on an empty or minimal body, so it answered 200, 201, 302
           (not to a log-in page), 400 or 409. Used for POSTs that would change something
           with a valid body; which of these codes is the view's business, not access.
    NNN    exactly this status code (401 is the API's "not authenticated").

Objects (the ``object`` column): ``-`` none · ``pat`` patient A · ``plan`` patient A's
active plan · ``draft`` a draft plan of patient A · ``pend`` a plan of patient A waiting
for review (by c1, so the reviewer may decide) · ``dose`` a dose of the active plan ·
``note`` an unread notice to c1 · ``feed`` patient A's live calendar-feed token · ``act``
the signed "taken" e-mail link of that dose · ``reset`` a valid password-reset link of pA ·
``invite`` a valid portal-invitation link of pA · ``hist`` a history record of the active
plan · ``alert`` an open abrupt-stop alert on the active plan · ``cg`` a caregiver patient A
invited · ``cgl`` that caregiver's signed invitation link · ``fpat``, ``fplan``,
``fstep``, ``fbund`` the FHIR ids of patient A, the active plan (CarePlan), its first step
(MedicationRequest) and its Bundle.

Rules that are not rows:
- ADMIN: of the Django admin only the representative rows below are in the table; every
  other ``admin:`` route (and the admin's unnamed redirect and catch-all routes) is behind
  the same AdminSite.admin_view gate, which
  test_every_other_admin_route_sends_everyone_but_the_admin_to_its_login checks with a GET
  for each actor but the admin.
- Static files are served by WhiteNoise's middleware, not by a URL pattern, and there are no
  media files: neither is a route, so neither is in the table.
- Links carrying a secret (feed, act, reset, invite, cgl) open for whoever holds them: the token
  is the credential, so every actor gets the same answer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.test import Client
from django.test.client import ClientHandler
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from api.fhir import resource_id
from planner import services
from planner.models import Clinic, Patient, TaperPlan
from planner.roles import Role
from portal.services import invite_token_generator
from reminders import actions, feeds
from reminders.caregivers import caregiver_invite_token
from reminders.models import AbruptStopAlert, AlertReason, Caregiver, Dose, Notice
from tests.support.factories import make_staff
from tests.support.plans import engine_input

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

# fmt: off
MATRIX = """
name                                   object method anon  pA    pB    c1    c2    rev   admin
# --- site-wide: landing page, health, log-in, log-out, password reset ------------------
# (health: the same answer for everyone; 503 here, no worker or dispatcher runs in this test)
home                                   -      GET    login 302   302   302   302   302   200
home                                   -      POST   login 405   405   405   405   405   405
health                                 -      GET    503   503   503   503   503   503   503
health                                 -      POST   405   405   405   405   405   405   405
login                                  -      GET    200   302   302   302   302   302   302
login                                  -      POST   200   302   302   302   302   302   302
logout                                 -      GET    405   405   405   405   405   405   405
logout                                 -      POST   302   302   302   302   302   302   302
password_reset                         -      GET    200   200   200   200   200   200   200
password_reset                         -      POST   200   200   200   200   200   200   200
password_reset_done                    -      GET    200   200   200   200   200   200   200
password_reset_done                    -      POST   405   405   405   405   405   405   405
password_reset_confirm                 reset  GET    302   302   302   302   302   302   302
password_reset_confirm                 reset  POST   302   302   302   302   302   302   302
password_reset_complete                -      GET    200   200   200   200   200   200   200
password_reset_complete                -      POST   405   405   405   405   405   405   405
# --- clinic pages: staff of the clinic; changes for clinicians; reviews for reviewers --
dashboard                              -      GET    login 403   403   200   200   200   403
dashboard                              -      POST   login 403   403   405   405   405   403
patients                               -      GET    login 403   403   200   200   200   403
patients                               -      POST   login 403   403   405   405   405   403
patient_new                            -      GET    login 403   403   200   200   403   403
patient_new                            -      POST   login 403   403   ok    ok    403   403
patient                                pat    GET    login 403   403   200   404   200   403
patient                                pat    POST   login 403   403   405   405   405   403
patient_edit                           pat    GET    login 403   403   200   404   403   403
patient_edit                           pat    POST   login 403   403   ok    404   403   403
plan_new                               pat    GET    login 403   403   200   404   403   403
plan_new                               pat    POST   login 403   403   ok    404   403   403
plan_preview                           pat    GET    login 403   403   405   405   403   403
plan_preview                           pat    POST   login 403   403   ok    404   403   403
plan                                   plan   GET    login 403   403   200   404   200   403
plan                                   plan   POST   login 403   403   405   405   405   403
plan_handout                           plan   GET    login 403   403   200   404   200   403
plan_handout                           plan   POST   login 403   403   405   405   405   403
plan_submit                            plan   GET    login 403   403   405   405   403   403
plan_submit                            plan   POST   login 403   403   ok    404   403   403
plan_activate                          plan   GET    login 403   403   405   405   403   403
plan_activate                          plan   POST   login 403   403   ok    404   403   403
plan_replan                            plan   GET    login 403   403   405   405   403   403
plan_replan                            plan   POST   login 403   403   ok    404   403   403
plan_cancel                            plan   GET    login 403   403   200   404   403   403
plan_cancel                            plan   POST   login 403   403   ok    404   403   403
plan_revise                            plan   GET    login 403   403   200   404   403   403
plan_revise                            plan   POST   login 403   403   ok    404   403   403
plan_hold_symptoms                     plan   GET    login 403   403   405   405   403   403
plan_hold_symptoms                     plan   POST   login 403   403   ok    404   403   403
plan_edit                              draft  GET    login 403   403   200   404   403   403
plan_edit                              draft  POST   login 403   403   ok    404   403   403
plan_review                            pend   GET    login 403   403   403   404   200   403
plan_review                            pend   POST   login 403   403   403   404   ok    403
plan_audit                             plan   GET    login 403   403   403   404   200   403
plan_audit                             plan   POST   login 403   403   405   405   405   403
review_queue                           -      GET    login 403   403   403   403   200   403
review_queue                           -      POST   login 403   403   403   403   405   403
alert                                  alert  GET    login 403   403   200   404   200   403
alert                                  alert  POST   login 403   403   ok    404   ok    403
notice_read                            note   GET    login 403   403   405   405   405   403
notice_read                            note   POST   login 403   403   ok    404   404   403
plan_refill                            plan   GET    login 403   403   405   405   403   403
plan_refill                            plan   POST   login 403   403   ok    404   403   403
plan_supply                            plan   GET    login 403   403   405   405   403   403
plan_supply                            plan   POST   login 403   403   ok    404   403   403
plan_calendar                          plan   GET    login 403   403   200   404   200   403
plan_calendar                          plan   POST   login 403   403   405   405   405   403
patient_calendar                       pat    GET    login 403   403   200   404   403   403
patient_calendar                       pat    POST   login 403   403   ok    404   403   403
patient_invite                         pat    GET    login 403   403   405   405   403   403
patient_invite                         pat    POST   login 403   403   ok    404   403   403
clinic_caregiver_add                   pat    GET    login 403   403   405   405   403   403
clinic_caregiver_add                   pat    POST   login 403   403   ok    404   403   403
patient_dose_history                   pat    GET    login 403   403   200   404   200   403
patient_dose_history                   pat    POST   login 403   403   405   405   405   403
patient_doses_csv                      pat    GET    login 403   403   200   404   200   403
patient_doses_csv                      pat    POST   login 403   403   405   405   405   403
# --- secret links: the calendar feed, the e-mail action link -----------------------------
calendar_feed                          feed   GET    200   200   200   200   200   200   200
calendar_feed                          feed   POST   405   405   405   405   405   405   405
action                                 act    GET    200   200   200   200   200   200   200
action                                 act    POST   409   409   409   409   409   409   409
caregiver_confirm                      cgl    GET    200   200   200   200   200   200   200
caregiver_confirm                      cgl    POST   400   400   400   400   400   400   400
# --- the SMS provider's webhook (off in the suite: 404; its signature: tests/reminders) ----
sms_inbound                            -      GET    405   405   405   405   405   405   405
sms_inbound                            -      POST   404   404   404   404   404   404   404
# --- the installable web app's public files (nothing of any patient in them) --------------
web_manifest                           -      GET    200   200   200   200   200   200   200
web_manifest                           -      POST   405   405   405   405   405   405   405
service_worker                         -      GET    200   200   200   200   200   200   200
service_worker                         -      POST   405   405   405   405   405   405   405
# --- patient portal: the patient's own records only ---------------------------------------
my_calendar                            -      GET    login 200   200   403   403   403   403
my_calendar                            -      POST   login ok    ok    403   403   403   403
patient_today                          -      GET    login 200   200   403   403   403   403
patient_today                          -      POST   login 405   405   403   403   403   403
patient_notices_read                   -      GET    login 405   405   403   403   403   403
patient_notices_read                   -      POST   login ok    ok    403   403   403   403
patient_dose_answer                    dose   GET    login 405   405   403   403   403   403
patient_dose_answer                    dose   POST   login ok    404   403   403   403   403
patient_dose_snooze                    dose   GET    login 405   405   403   403   403   403
patient_dose_snooze                    dose   POST   login ok    404   403   403   403   403
patient_dose_missed                    dose   GET    login 200   404   403   403   403   403
patient_dose_missed                    dose   POST   login 405   405   403   403   403   403
patient_missed                         -      GET    login 200   200   403   403   403   403
patient_missed                         -      POST   login 405   405   403   403   403   403
patient_check_in                       -      GET    login 200   200   403   403   403   403
patient_check_in                       -      POST   login ok    ok    403   403   403   403
patient_plan                           -      GET    login 200   200   403   403   403   403
patient_plan                           -      POST   login 405   405   403   403   403   403
patient_history                        -      GET    login 200   200   403   403   403   403
patient_history                        -      POST   login 405   405   403   403   403   403
patient_settings                       -      GET    login 200   200   403   403   403   403
patient_settings                       -      POST   login ok    ok    403   403   403   403
patient_caregiver_add                  -      GET    login 405   405   403   403   403   403
patient_caregiver_add                  -      POST   login ok    ok    403   403   403   403
patient_caregiver_remove               cg     GET    login 200   404   403   403   403   403
patient_caregiver_remove               cg     POST   login ok    404   403   403   403   403
patient_push_subscribe                 -      GET    login 405   405   403   403   403   403
patient_push_subscribe                 -      POST   login 404   404   403   403   403   403
patient_welcome                        invite GET    302   302   302   302   302   302   302
patient_welcome                        invite POST   302   302   302   302   302   302   302
# --- API (/api/v1/) with the session log-in; tests/api/test_access.py does tokens --------
api:schema                             -      GET    200   200   200   200   200   200   200
api:schema                             -      POST   405   405   405   405   405   405   405
api:docs                               -      GET    200   200   200   200   200   200   200
api:docs                               -      POST   405   405   405   405   405   405   405
api:redoc                              -      GET    200   200   200   200   200   200   200
api:redoc                              -      POST   405   405   405   405   405   405   405
api:plan-preview                       -      GET    401   403   403   405   405   405   403
api:plan-preview                       -      POST   401   403   403   400   400   400   403
api:patients                           -      GET    401   403   403   200   200   200   403
api:patients                           -      POST   401   403   403   ok    ok    403   403
api:patient                            pat    GET    401   403   403   200   404   200   403
api:patient                            pat    POST   401   403   403   405   405   403   403
api:patient-plans                      pat    GET    401   403   403   200   404   200   403
api:patient-plans                      pat    POST   401   403   403   ok    404   403   403
api:plans                              -      GET    401   403   403   200   200   200   403
api:plans                              -      POST   401   403   403   405   405   403   403
api:plan                               plan   GET    401   403   403   200   404   200   403
api:plan                               plan   POST   401   403   403   405   405   403   403
api:plan-submit                        draft  GET    401   403   403   405   405   405   403
api:plan-submit                        draft  POST   401   403   403   ok    404   403   403
api:plan-activate                      draft  GET    401   403   403   405   405   405   403
api:plan-activate                      draft  POST   401   403   403   ok    404   403   403
api:plan-cancel                        draft  GET    401   403   403   405   405   405   403
api:plan-cancel                        draft  POST   401   403   403   ok    404   403   403
api:plan-doses                         plan   GET    401   403   403   200   404   200   403
api:plan-doses                         plan   POST   401   403   403   405   405   403   403
api:plan-fhir                          plan   GET    401   403   403   200   404   200   403
api:plan-fhir                          plan   POST   401   403   403   405   405   403   403
api:alerts                             -      GET    401   403   403   200   200   200   403
api:alerts                             -      POST   401   403   403   405   405   403   403
api/v1/                                -      GET    404   404   404   404   404   404   404
api/v1/                                -      POST   404   404   404   404   404   404   404
# --- FHIR R4 server (/fhir/r4/), session log-in; tests/api/test_fhir_server.py does tokens -
fhir:metadata                          -      GET    200   200   200   200   200   200   200
fhir:metadata                          -      POST   405   405   405   405   405   405   405
fhir:patients                          -      GET    401   403   403   200   200   200   403
fhir:patients                          -      POST   401   403   403   405   405   403   403
fhir:patient                           fpat   GET    401   403   403   200   404   200   403
fhir:patient                           fpat   POST   401   403   403   405   405   403   403
fhir:careplans                         -      GET    401   403   403   200   200   200   403
fhir:careplans                         -      POST   401   403   403   405   405   403   403
fhir:careplan                          fplan  GET    401   403   403   200   404   200   403
fhir:careplan                          fplan  POST   401   403   403   405   405   403   403
fhir:medicationrequests                -      GET    401   403   403   200   200   200   403
fhir:medicationrequests                -      POST   401   403   403   405   405   403   403
fhir:medicationrequest                 fstep  GET    401   403   403   200   404   200   403
fhir:medicationrequest                 fstep  POST   401   403   403   405   405   403   403
fhir:bundle                            fbund  GET    401   403   403   200   404   200   403
fhir:bundle                            fbund  POST   401   403   403   405   405   403   403
fhir/r4/                               -      GET    404   404   404   404   404   404   404
fhir/r4/                               -      POST   404   404   404   404   404   404   404
# --- admin: representative rows (the rest: the ADMIN rule above) -------------------------
admin:index                            -      GET    alog  alog  alog  alog  alog  alog  200
admin:index                            -      POST   alog  alog  alog  alog  alog  alog  200
admin:login                            -      GET    200   200   200   200   200   200   302
admin:login                            -      POST   200   200   200   200   200   200   200
admin:logout                           -      GET    302   302   302   302   302   302   405
admin:logout                           -      POST   302   302   302   302   302   302   302
admin:planner_patient_changelist       -      GET    alog  alog  alog  alog  alog  alog  200
admin:planner_patient_changelist       -      POST   alog  alog  alog  alog  alog  alog  ok
admin:planner_patient_change           pat    GET    alog  alog  alog  alog  alog  alog  200
admin:planner_patient_change           pat    POST   alog  alog  alog  alog  alog  alog  ok
admin:planner_taperplan_change         plan   GET    alog  alog  alog  alog  alog  alog  200
admin:planner_taperplan_change         plan   POST   alog  alog  alog  alog  alog  alog  ok
admin:planner_taperplan_simple_history hist   GET    alog  alog  alog  alog  alog  alog  200
admin:planner_taperplan_simple_history hist   POST   alog  alog  alog  alog  alog  alog  403
"""
# fmt: on

ACTORS = ("anon", "pA", "pB", "c1", "c2", "rev", "admin")
METHODS = ("GET", "POST")
OBJECTS = ("-", "pat", "plan", "draft", "pend", "dose", "note", "feed", "act", "reset",
           "invite", "hist", "alert", "cg", "cgl", "fpat", "fplan", "fstep", "fbund")
CATEGORIES = ("login", "alog", "ok")
OK = frozenset({200, 201, 302, 400, 409})
# Routes without a name, keyed by their route, and the address a request goes to.
UNNAMED_URLS = {"api/v1/": "/api/v1/no-such-endpoint/", "fhir/r4/": "/fhir/r4/Observation"}
# "Now" for the whole module: a few days before the plans start on 2027-03-01, so doses
# are not yet due and every signed link is alive, whenever the suite runs.
NOW = dt.datetime(2027, 2, 25, 17, 0, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    obj: str
    method: str
    expected: dict[str, str]


def parse_matrix(text: str) -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = {}
    lines = [line for line in text.strip().splitlines() if not line.startswith("#")]
    header, body = lines[0].split(), lines[1:]
    assert tuple(header) == ("name", "object", "method", *ACTORS), header
    for line in body:
        name, obj, method, *answers = line.split()
        assert obj in OBJECTS, line
        assert method in METHODS, line
        assert len(answers) == len(ACTORS), line
        for answer in answers:
            assert answer in CATEGORIES or re.fullmatch(r"[1-5]\d\d", answer), line
        assert (name, method) not in rows, f"two rows for {name} {method}"
        rows[name, method] = Row(name, obj, method, dict(zip(ACTORS, answers, strict=True)))
    return rows


TABLE = parse_matrix(MATRIX)
CASES = [
    pytest.param(row, actor, id=f"{row.name}-{row.method}-{actor}")
    for row in TABLE.values()
    for actor in ACTORS
]


# --- the routes the resolver knows ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    key: str  # "namespace:name", or the route itself for a pattern without a name
    route: str
    pattern: URLPattern


def site_routes(
    resolver: URLResolver | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[Route]:
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from site_routes(entry, prefix + str(entry.pattern), inner)
        else:
            route = prefix + str(entry.pattern)
            if entry.name:
                key = f"{namespace}:{entry.name}" if namespace else entry.name
            else:
                key = route
            yield Route(key, route, entry)


def is_admin(key: str) -> bool:
    """The ADMIN rule: the admin's routes, named or not."""
    return key.startswith(("admin:", "admin/"))


# --- the world: two clinics, two patients, seven actors ------------------------------------


def fhir_id(name: str) -> str:
    return resource_id(settings.FHIR_IDENTIFIER_SYSTEM, name)


@dataclass(frozen=True, slots=True)
class World:
    handler: ClientHandler
    sessions: dict[str, str]  # actor → session key
    args: dict[str, list[Any]]

    def client(self, actor: str) -> Client:
        """A test client logged in as the actor. One handler for the module: a new one
        loads the middleware again, and WhiteNoise then rescans every static file."""
        client = Client()
        client.handler = self.handler
        if actor != "anon":
            client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[actor]
        return client


def _patient(clinic: Clinic, given: str, username: str) -> Patient:
    patient = Patient.objects.create(
        clinic=clinic,
        given_name=given,
        family_name="Matrix",
        date_of_birth=dt.date(1980, 1, 2),
        sex="female",
        home_timezone="America/New_York",
        email=f"{username}@example.org",
    )
    user = User.objects.create_user(username=username, password="pw-for-tests-1")
    user.groups.add(Group.objects.get_or_create(name=Role.PATIENT.value)[0])
    patient.user = user
    patient.save()
    return patient


def build_world() -> World:
    clinic_1 = Clinic.objects.create(name="North Demo Clinic")
    clinic_2 = Clinic.objects.create(name="South Demo Clinic")
    c1 = make_staff(User, "c1", clinic_1, Role.CLINICIAN)
    c2 = make_staff(User, "c2", clinic_2, Role.CLINICIAN)
    rev = make_staff(User, "rev", clinic_1, Role.REVIEWER)
    admin = User.objects.create_superuser(
        username="admin", email="admin@example.org", password="pw-for-tests-1"
    )
    patient_a = _patient(clinic_1, "Ann", "pa")
    patient_b = _patient(clinic_1, "Bea", "pb")

    active = services.plan_create(patient=patient_a, by=c1, engine_input=engine_input(patient_a))
    services.plan_activate(plan=active, by=c1)
    draft = services.plan_create(patient=patient_a, by=c1, engine_input=engine_input(patient_a))
    clinic_1.require_review_for_all_plans = True
    clinic_1.save()
    pending = services.plan_create(patient=patient_a, by=c1, engine_input=engine_input(patient_a))
    services.plan_submit(plan=pending, by=c1)
    assert TaperPlan.objects.get(pk=pending.pk).status == "pending_review"

    dose = Dose.objects.filter(plan=active).order_by("due_at").first()
    assert dose is not None
    notice = Notice.objects.create(user=c1, subject="Reviewed", body="Your plan was approved.")
    alert = AbruptStopAlert.objects.create(
        plan=active, reason=AlertReason.CONSECUTIVE_MISSED, since=NOW, raised_at=NOW
    )
    history = active.history.first()
    assert history is not None
    caregiver = Caregiver.objects.create(
        patient=patient_a, name="Maria", email="maria@example.net", added_by=patient_a.user,
        invite_nonce="matrix", invited_at=NOW,
    )  # fmt: skip

    # Logged in once: the sessions are rows of the module's transaction. Before the
    # links are signed, since a log-in voids a password-reset or invitation link.
    handler = ClientHandler(enforce_csrf_checks=False)
    users = {"pA": patient_a.user, "pB": patient_b.user, "c1": c1, "c2": c2, "rev": rev,
             "admin": admin}
    sessions = {}
    for actor, user in users.items():
        client = Client()
        client.handler = handler
        client.force_login(user)
        sessions[actor] = client.cookies[settings.SESSION_COOKIE_NAME].value
    pa = User.objects.get(pk=patient_a.user.pk)
    uid = urlsafe_base64_encode(force_bytes(pa.pk))
    return World(
        handler=handler,
        sessions=sessions,
        args={
            "-": [],
            "pat": [patient_a.pk],
            "plan": [active.pk],
            "draft": [draft.pk],
            "pend": [pending.pk],
            "dose": [dose.pk],
            "note": [notice.pk],
            "feed": [feeds.feed_token_issue(patient=patient_a, by=c1)],
            "act": [actions.dose_link(dose.pk, "taken", dose.catch_up_until)],
            "reset": [uid, default_token_generator.make_token(pa)],
            "invite": [uid, invite_token_generator.make_token(pa)],
            "hist": [active.pk, history.history_id],
            "alert": [alert.pk],
            "cg": [caregiver.pk],
            "cgl": [caregiver_invite_token(caregiver)],
            # FHIR ids of patient A, the active plan, its first step and its Bundle.
            "fpat": [fhir_id(f"patients/{patient_a.pk}")],
            "fplan": [fhir_id(f"plans/{active.pk}")],
            "fstep": [fhir_id(f"plans/{active.pk}/steps/1")],
            "fbund": [fhir_id(f"plans/{active.pk}/bundle")],
        },
    )


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """Built once for the module inside a transaction that is rolled back at its end;
    each test runs in a savepoint within it (pytest-django's django_db), so what a POST
    changes is undone before the next case."""
    with (
        time_machine.travel(NOW, tick=False),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        yield build_world()
        transaction.set_rollback(True)


def url_of(row: Row, world: World) -> str:
    if row.name in UNNAMED_URLS:
        return UNNAMED_URLS[row.name]
    return reverse(row.name, args=world.args[row.obj])


def send(client: Client, method: str, url: str) -> Response:
    if method == "GET":
        return client.get(url)
    if url.startswith("/api/"):
        # The API reads JSON only: an empty object, so that a refusal is about access.
        return client.post(url, "{}", content_type="application/json")
    return client.post(url, {})


def to_login(response: Response, login_url: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith(f"{login_url}?next=")


def answer_matches(expected: str, response: Response) -> bool:
    site_login = to_login(response, reverse("login"))
    admin_login = to_login(response, reverse("admin:login"))
    if expected == "login":
        return site_login
    if expected == "alog":
        return admin_login
    if site_login or admin_login:
        return False  # sent to log in: refused, whatever else the row allows
    if expected == "ok":
        return response.status_code in OK
    return response.status_code == int(expected)


def describe(response: Response) -> str:
    where = f" → {response['Location']}" if response.has_header("Location") else ""
    return f"{response.status_code}{where}"


# --- the tests ----------------------------------------------------------------------------


def test_the_table_names_every_route_and_nothing_else() -> None:
    routes = {route.key for route in site_routes()}
    in_table = {name for name, _method in TABLE}
    missing = sorted(key for key in routes - in_table if not is_admin(key))
    stale = sorted(in_table - routes)
    without_both_methods = sorted(
        name for name in in_table if not all((name, m) in TABLE for m in METHODS)
    )
    problems = {
        "routes the table does not list": missing,
        "rows for routes that no longer exist": stale,
        "names without both a GET and a POST row": without_both_methods,
        "UNNAMED_URLS without a row": sorted(set(UNNAMED_URLS) - in_table),
    }
    assert not any(problems.values()), {k: v for k, v in problems.items() if v}


@pytest.mark.parametrize(("row", "actor"), CASES)
def test_access(row: Row, actor: str, world: World) -> None:
    url = url_of(row, world)
    response = send(world.client(actor), row.method, url)
    expected = row.expected[actor]
    assert answer_matches(expected, response), (
        f"{row.method} {row.name} ({url}) as {actor}: expected {expected}, "
        f"got {describe(response)}"
    )


def admin_url(route: Route) -> str:
    """An address of the route with placeholder ids: the gate answers before any lookup."""
    regex = route.pattern.pattern.regex
    if not route.key.startswith("admin:"):
        if "(?P<url>" in route.route:
            return "/admin/no-such-page/"
        return "/" + re.sub(r"<[^>]+>", "1", route.route)
    kwargs = {group: "planner" if group == "app_label" else "1" for group in regex.groupindex}
    positional = regex.groups - len(regex.groupindex)
    if kwargs:
        return reverse(route.key, kwargs=kwargs)
    return reverse(route.key, args=["1"] * positional)


@pytest.mark.parametrize("actor", [actor for actor in ACTORS if actor != "admin"])
def test_every_other_admin_route_sends_everyone_but_the_admin_to_its_login(
    actor: str, world: World
) -> None:
    client = world.client(actor)
    in_table = {name for name, _method in TABLE}
    routes = [r for r in site_routes() if is_admin(r.key) and r.key not in in_table]
    assert len(routes) > 100  # every model's changelist, add, change, delete, history...
    not_gated = []
    for route in routes:
        url = admin_url(route)
        response = client.get(url)
        if not answer_matches("alog", response):
            not_gated.append(f"GET {route.key} ({url}): {describe(response)}")
    assert not not_gated, f"admin routes not gated for {actor}: {not_gated}"
