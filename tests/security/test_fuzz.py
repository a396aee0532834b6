"""Property-based fuzzing of every form the site's pages accept (issue #9).

Each test posts generated field values to one POST endpoint: text with unicode, control
characters and huge strings; huge, negative, NaN and infinite numbers; impossible dates
and times; bytes that are not UTF-8; several values for one field (the wrong type for a
form), missing fields and extra fields. Whatever comes in:

* the answer is never a 500;
* a refusal (a status of 400 or more, a form shown again with errors, a redirect with an
  error message) names its field: every form error belongs to a field of the form (or is
  a non-field message), and the page shows it;
* a refusal writes nothing: row counts (and the rows a POST may change) are as before;
* nothing is stored that PostgreSQL would refuse (NUL characters, text longer than its
  column, numbers out of range), although this suite runs on SQLite;
* text that was posted is never reflected unescaped.

Every example runs in a savepoint that is rolled back, so examples do not see each
other's rows; the clients' cookies are restored after each one.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import time_machine
from django.apps import apps
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.core import mail
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models.signals import pre_save
from django.forms import BaseForm
from django.template.base import Template
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.html import escape
from django.utils.http import urlsafe_base64_encode
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from planner import services
from planner.models import Clinic, Patient, TaperPlan
from planner.roles import Role
from portal import services as portal_services
from reminders import actions, checkin
from reminders.models import Dose, Notice
from tests.support.factories import make_staff, patient_account
from tests.support.plans import active_plan, at_new_york, engine_input, pump_engine_input

pytestmark = pytest.mark.django_db

# In the middle of Sam's plan (2027-03-01 .. 03-14, doses at 08:00, 14:00 and 20:00 in
# New York): the 08:00 dose is due, the 14:00 one is not yet, yesterday's are too late.
NOW = at_new_york("2027-03-02", "09:00")
FORM = "application/x-www-form-urlencoded"

# Examples per endpoint: about 2,200 requests in all, so that the module runs in under a
# minute on two cores (the patient and plan forms cost most: a 600-option time-zone
# select, the planning engine). FUZZ_SCALE=10 makes a longer run, e.g. nightly.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def n(examples: int) -> int:
    return max(1, int(examples * SCALE))


FUZZ_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    print_blob=True,
)


def fuzz(examples: int) -> settings:
    return settings(FUZZ_SETTINGS, max_examples=examples)

# --- generated values ------------------------------------------------------------------

XSS = "<script>alert(1)</script>"
HOSTILE = (
    XSS,
    '"onmouseover=alert(1) x="',
    "'><img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    '=HYPERLINK("http://x")',
    "+cmd|' /C calc'!A0",
    "-1+1",
    "@SUM(1)",
    "'; DROP TABLE planner_patient; --",
    "\x00",
    "a\x00b",
    "\r\n",
    "\r\nSet-Cookie: x=1",
    "\u202e\u2066evil",
    "\ufeff",
    "\u200b",
    "💊" * 40,
    "../../etc/passwd",
    "%00",
    "%s%s%n",
    "{{ 7*7 }}",
    "{% debug %}",
    "${7*7}",
    "\\",
    "null",
    "None",
    "true",
    "[]",
    "{}",
)
NUMBERISH = (
    "NaN",
    "nan",
    "-nan",
    "sNaN",
    "Infinity",
    "-inf",
    "1e999",
    "-1e999",
    "1E+999999999",
    "1e-999999999",
    "1e308",
    "0x1A",
    "1_000",
    "٣",  # an Arabic-Indic digit: int() reads it
    "１２",  # full-width digits
    "½",
    "1,5",
    "+5",
    "-0",
    " 10 ",
    "10mg",
    "0",
    "-1",
    "-999999",
    "99999999999999999999999999",
    "0.000000000000000000001",
)
DATEISH = (
    "0000-00-00",
    "2027-02-30",
    "2027-13-01",
    "9999-12-31",
    "0001-01-01",
    "-2027-01-01",
    "2027-1-1",
    "20270301",
    "2027-03-01T00:00",
    "2027-03-01 25:00",
    "today",
    "03/01/2027",
)
TIMEISH = ("24:00", "23:59:60", "08:00:00.999999", "8", "08:00 PM", "-01:00", "99:99", "08:00Z")

junk_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(max_codepoint=0x9F), max_size=20),  # ASCII with C0/C1 controls
    st.sampled_from(HOSTILE),
    st.integers(min_value=1_001, max_value=300_000).map(lambda n: "x" * n),
)
junk_number = st.one_of(
    st.integers().map(str),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(NUMBERISH),
    st.integers(min_value=4_000, max_value=20_000).map(lambda n: "9" * n),
)
junk_date = st.one_of(st.dates().map(dt.date.isoformat), st.sampled_from(DATEISH))
junk_time = st.one_of(st.times().map(dt.time.isoformat), st.sampled_from(TIMEISH))
# Lone UTF-16 surrogates, as a client that encodes them anyway sends them (issue #16).
junk_surrogates = st.text(st.characters(categories=["Cs", "L", "N"]), min_size=1, max_size=8).map(
    lambda text: text.encode("utf-8", "surrogatepass")
)
# Anything at all; bytes that are not UTF-8 reach the server as they are.
junk: SearchStrategy[str | bytes] = st.one_of(
    junk_text, junk_number, junk_date, junk_time, st.binary(max_size=16), junk_surrogates
)
junk_key = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "csrfmiddlewaretoken",
            "id",
            "pk",
            "patient",
            "clinic",
            "status",
            "created_by",
            "is_staff",
            "user",
            "__all__",
            "next",
            "action",
            "preview",
            "dose_time_5",
            "dose_amount_0",
            "submission_key",
        ]
    ),
)

Pairs = list[tuple[str, str | bytes]]


Spec = dict[str, tuple[str, ...]]


def one(*values: str) -> tuple[str, ...]:
    """Valid values of a field; the first ones of all fields make a valid form."""
    return values


def values_for(valid: SearchStrategy[str]) -> SearchStrategy[list[str | bytes]]:
    """What a browser, or anything else, may send for one field: a valid value, junk,
    nothing at all, an empty value or several values (the wrong type for most fields)."""
    return st.one_of(
        valid.map(lambda v: [v]),
        junk.map(lambda v: [v]),
        junk.map(lambda v: [v]),
        st.just([]),
        st.just([""]),
        st.lists(st.one_of(valid, junk), min_size=2, max_size=3),
    )


@st.composite
def posts(draw: st.DrawFn, spec: Spec) -> Pairs:
    """Form data: most often a valid form with one field fuzzed (so that the checks
    behind a valid form are reached), else valid values in any combination, else every
    field fuzzed; and up to three extra fields."""
    names = list(spec)
    mode = draw(st.sampled_from(("one", "one", "valid", "all"))) if names else "all"
    focus = draw(st.sampled_from(names)) if mode == "one" else None
    pairs: Pairs = []
    for name in names:
        valid = st.sampled_from(spec[name])
        if mode == "all" or name == focus:
            chosen = draw(values_for(valid))
        elif mode == "valid":
            chosen = [draw(valid)]
        else:
            chosen = [spec[name][0]]
        pairs.extend((name, value) for value in chosen)
    pairs.extend(draw(st.lists(st.tuples(junk_key, junk), max_size=3)))
    return pairs


# --- what PostgreSQL would refuse -------------------------------------------------------

INTEGER_RANGES = BaseDatabaseOperations.integer_field_ranges


def postgres_refusals(instance: models.Model) -> list[str]:
    """Values this suite's SQLite stores but PostgreSQL (production) refuses, which would
    be a 500 there."""
    problems = []
    label = instance._meta.label
    for model_field in instance._meta.concrete_fields:
        if model_field.primary_key:
            continue
        value = getattr(instance, model_field.attname, None)
        if value is None:
            continue
        name = f"{label}.{model_field.name}"
        if isinstance(model_field, models.CharField | models.TextField) and isinstance(
            value, str
        ):
            if "\x00" in value:
                problems.append(f"{name} holds a NUL character")
            if model_field.max_length and len(value) > model_field.max_length:
                problems.append(f"{name} is longer than {model_field.max_length}")
        elif isinstance(model_field, models.JSONField):
            try:
                text = json.dumps(value, cls=model_field.encoder or DjangoJSONEncoder)
            except (TypeError, ValueError) as error:
                problems.append(f"{name} is not JSON: {error}")
            else:
                if "\\u0000" in text:
                    problems.append(f"{name} holds a NUL character (jsonb refuses it)")
        elif isinstance(model_field, models.DecimalField) and isinstance(value, Decimal):
            if not value.is_finite():
                problems.append(f"{name} is {value}")
            else:
                whole_digits = len(str(abs(int(value)))) if abs(value) >= 1 else 0
                allowed = (model_field.max_digits or 0) - (model_field.decimal_places or 0)
                if model_field.max_digits is not None and whole_digits > allowed:
                    problems.append(f"{name} = {value} overflows numeric")
        elif isinstance(model_field, models.IntegerField) and isinstance(value, int):
            bounds = INTEGER_RANGES.get(model_field.get_internal_type())
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                problems.append(f"{name} = {value} is out of range")
    return problems


# --- the site's state -------------------------------------------------------------------

EXCLUDED_APPS = {"sessions", "axes", "admin", "contenttypes"}


def tracked_tables() -> dict[str, str]:
    return {
        model._meta.label: model._meta.db_table
        for model in apps.get_models()
        if model._meta.app_label not in EXCLUDED_APPS and not model._meta.proxy
    }


def row_state() -> dict[str, Any]:
    """Row counts of every table a page can write, and the columns a POST may change."""
    from django.contrib.auth.models import User

    from reminders.models import AbruptStopAlert, FeedToken, PatientPreferences

    tables = tracked_tables()
    # One query for all counts; the table names come from the models.
    counts = ", ".join(
        "(SELECT COUNT(*) FROM " + connection.ops.quote_name(table) + ")"  # noqa: S608
        for table in tables.values()
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + counts)
        state: dict[str, Any] = dict(zip(tables, cursor.fetchone(), strict=True))
    state["changes"] = (
        list(Patient.objects.order_by("pk").values()),
        list(
            TaperPlan.objects.order_by("pk").values_list(
                "pk", "status", "current_revision_id", "cancel_reason", "approved_by_id"
            )
        ),
        list(Dose.objects.order_by("pk").values_list("pk", "status", "answered_at")),
        list(FeedToken.objects.order_by("pk").values_list("pk", "revoked_at")),
        list(PatientPreferences.objects.order_by("pk").values()),
        list(User.objects.order_by("pk").values_list("pk", "password", "email", "is_active")),
        list(Notice.objects.order_by("pk").values_list("pk", "read_at")),
        list(AbruptStopAlert.objects.order_by("pk").values_list("pk", "closed_at")),
    )
    return state


def state_difference(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [key for key in before if before[key] != after.get(key)]


# --- posting ----------------------------------------------------------------------------

FORM_NAMES = ("form", "email_form", "language_form", "timezone_form")


def forms_of(response: Any) -> list[BaseForm]:
    context = getattr(response, "context", None)
    if context is None:
        return []
    found = []
    for name in FORM_NAMES:
        try:
            value = context[name]
        except KeyError:
            continue
        if isinstance(value, BaseForm) and value.is_bound:
            found.append(value)
    return found


def context_value(response: Any, name: str) -> Any:
    context = getattr(response, "context", None)
    if context is None:
        return None
    try:
        return context[name]
    except KeyError:
        return None


def shown(data: Pairs, limit: int = 600) -> str:
    text = repr([(k, v if len(v) < 200 else f"<{len(v)} chars>") for k, v in data])
    return text[:limit]


@dataclass
class Tally:
    examples: int = 0
    refused: int = 0
    accepted: int = 0


@dataclass
class Site:
    """Posts one example, checks the answer and rolls everything back."""

    baseline: dict[str, Any] | None = None
    storage_problems: list[str] = field(default_factory=list)
    tallies: dict[str, Tally] = field(default_factory=dict)

    @contextmanager
    def example(self, *clients: Client) -> Iterator[None]:
        if self.baseline is None:
            self.baseline = row_state()
        saved = [copy.deepcopy(c.cookies) for c in clients]
        try:
            with transaction.atomic():
                yield
                transaction.set_rollback(True)
        finally:
            # A log-in or log-out in the example changed the session cookie; its session
            # row is gone with the rollback.
            for client, jar in zip(clients, saved, strict=True):
                client.cookies = jar
            mail.outbox = []

    def post(
        self,
        client: Client,
        url: str,
        data: Pairs,
        *,
        tally: str,
        field_errors_shown: bool = True,
        known_error_keys: set[str] | None = None,
        after: Callable[[], object] | None = None,
    ) -> Any:
        """`after` runs before the rollback, e.g. background work on what was stored."""
        with self.example(client):
            body = urlencode(data)
            self.storage_problems.clear()
            response = client.generic("POST", url, body, content_type=FORM)
            self.check(response, data, field_errors_shown, known_error_keys, tally)
            if after is not None:
                after()
        return response

    def get(self, client: Client, url: str, *, tally: str) -> Any:
        with self.example(client):
            self.storage_problems.clear()
            response = client.get(url)
            self.check(response, [], True, None, tally)
        return response

    def check(
        self,
        response: Any,
        data: Pairs,
        field_errors_shown: bool,
        known_error_keys: set[str] | None,
        tally: str,
    ) -> None:
        counts = self.tallies.setdefault(tally, Tally())
        counts.examples += 1
        where = f"{response.request['REQUEST_METHOD']} {response.request['PATH_INFO']}"
        if response.status_code >= 500:
            exc = getattr(response, "exc_info", None)
            detail = repr(exc[1]) if exc else ""
            pytest.fail(f"{where} answered {response.status_code} {detail} for {shown(data)}")
        assert not self.storage_problems, (
            f"{where} stored what PostgreSQL refuses: {self.storage_problems} "
            f"for {shown(data)}"
        )
        forms = forms_of(response)
        content = (
            response.content.decode(errors="replace")
            if not getattr(response, "streaming", False)
            else ""
        )
        is_html = response.get("Content-Type", "").startswith("text/html")
        for form in forms:
            for name, errors in form.errors.items():
                assert name == NON_FIELD_ERRORS or name in form.fields, (
                    f"{where}: error on {name!r}, which is no field of {type(form).__name__}"
                )
                for message in errors:
                    assert isinstance(message, str), message
                    assert message.strip(), f"{where}: an empty error message on {name!r}"
                    assert "Traceback" not in message
                    if field_errors_shown and is_html:
                        assert escape(message) in content, (
                            f"{where}: the error {message!r} on {name!r} is not shown "
                            f"for {shown(data)}"
                        )
        errors = context_value(response, "errors")
        if isinstance(errors, dict) and errors:
            allowed = known_error_keys or set()
            assert set(errors) <= allowed, f"{where}: errors on {set(errors) - allowed}"
            for message in errors.values():
                assert str(message).strip()
                if is_html:
                    assert escape(str(message)) in content
        if is_html:
            assert XSS not in content, f"{where} reflects a script tag for {shown(data)}"
            assert '"onmouseover=' not in content
            assert "<img src=x" not in content
        refused = (
            response.status_code >= 400
            or any(form.errors for form in forms)
            or bool(errors)
            or bool(context_value(response, "error"))
            or any(
                m.level >= message_levels.ERROR
                for m in get_messages(response.wsgi_request)
            )
        )
        if refused:
            counts.refused += 1
            assert self.baseline is not None
            changed = state_difference(self.baseline, row_state())
            assert not changed, (
                f"{where} refused ({response.status_code}) but changed {changed} "
                f"for {shown(data)}"
            )
        else:
            counts.accepted += 1


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture(autouse=True)
def lean_widget_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test client copies the context of every template it renders, also of each of
    the ~600 <option>s of a time-zone select; the fuzz needs the pages' contexts only."""
    instrumented = Template._render  # type: ignore[attr-defined]

    def render(self: Template, context: Any) -> Any:
        if str(self.origin.template_name or "").startswith("django/forms/"):
            return self.nodelist.render(context)
        return instrumented(self, context)

    monkeypatch.setattr(Template, "_render", render)


@pytest.fixture
def site() -> Iterator[Site]:
    checker = Site()

    def guard(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
        checker.storage_problems.extend(postgres_refusals(instance))

    pre_save.connect(guard, weak=False, dispatch_uid="fuzz-postgres-guard")
    try:
        yield checker
    finally:
        pre_save.disconnect(dispatch_uid="fuzz-postgres-guard")
        for name, tally in sorted(checker.tallies.items()):
            print(f"{name}: {tally.examples} posts, {tally.refused} refused")


def logged_in(user: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@dataclass
class World:
    clinic: Clinic
    alice: Any  # clinician
    bob: Any  # reviewer
    patient: Patient  # Sam: an account and an active plan
    sam: Any
    plan: TaperPlan
    other_patient: Patient  # another clinic's patient
    other_plan: TaperPlan

    def clinician(self) -> Client:
        return logged_in(self.alice)

    def reviewer(self) -> Client:
        return logged_in(self.bob)

    def patient_client(self) -> Client:
        return logged_in(self.sam)


def new_patient(clinic: Clinic, given: str, **extra: Any) -> Patient:
    return Patient.objects.create(
        clinic=clinic,
        given_name=given,
        family_name="Fuzz",
        date_of_birth=dt.date(1970, 1, 1),
        sex="female",
        home_timezone="America/New_York",
        **extra,
    )


@pytest.fixture
def world(django_user_model: Any, clinic: Clinic, alice: Any, patient: Patient) -> World:
    alice.email = "alice@clinic.example"
    alice.save()
    bob = make_staff(django_user_model, "bob", clinic, Role.REVIEWER)
    sam = patient_account(django_user_model, patient, "sam")
    plan = active_plan(patient, alice)
    other_clinic = Clinic.objects.create(name="Elsewhere")
    charlie = make_staff(django_user_model, "charlie", other_clinic, Role.CLINICIAN)
    other_patient = new_patient(other_clinic, "Oz")
    # A form's one-time key already used for another patient (a replayed form).
    other_plan = services.plan_create(
        patient=other_patient,
        by=charlie,
        engine_input=engine_input(other_patient, start_date=NOW.date().isoformat()),
        submission_key="k-used-elsewhere",
    )
    return World(clinic, alice, bob, patient, sam, plan, other_patient, other_plan)


def draft_plan(world: World) -> TaperPlan:
    """A draft that needs review (severe kidney disease), so it can be submitted."""
    patient = new_patient(world.clinic, "Dee", creatinine_clearance_ml_min=25)
    data = engine_input(patient, start_date=NOW.date().isoformat())
    return services.plan_create(patient=patient, by=world.alice, engine_input=data)


# --- field specifications (the first value of each field makes a valid form) -----------

PATIENT_FIELDS: Spec = {
    "given_name": one("Jo", "Ana María", "O'Brien", "Zoë"),
    "family_name": one("Doe", "Nguyễn", "van der Berg"),
    "date_of_birth": one("1950-01-01", "1999-12-31", "2001-02-28"),
    "sex": one("female", "male"),
    "email": one("", "jo@example.org", "o'brien@example.org", '"quoted"@example.org'),
    "home_timezone": one("Europe/Paris", "America/New_York", "Pacific/Kiritimati", "UTC",
                         "localtime", "Etc/GMT+5"),
    "weight_kg": one("", "70", "1", "400", "65.5"),
    "creatinine_clearance_ml_min": one("", "25", "90", "120.5"),
    "serum_creatinine_mg_dl": one("", "1.1", "0.5"),
    "pregnancy_trimester": one("0", "1", "2", "3"),
    "breastfeeding": one("", "on"),
    "seizure_history": one("", "on"),
    "cns_depressants": one("opioid", "benzodiazepine", "sleep_medication", ""),
}

PLAN_FIELDS: Spec = {
    "product": one("baclofen-oral-tablet", "baclofen-intrathecal"),
    "months_on_therapy": one("3", "0", "24", "1200"),
    "start_date": one("2027-03-05", "2027-03-02", "2026-12-31", "2027-02-20"),
    "goal": one("discontinue", "reduce"),
    "target_daily_mg": one("", "10", "15", "5.5"),
    "pace": one("standard", "slower", "custom"),
    "length_days": one("", "14", "28", "4", "400"),
    "step_days": one("", "3", "7", "2"),
    "shape": one("linear", "proportional", ""),
    "abrupt_stop_reason": one("", "Severe allergic reaction", XSS),
    "pump_concentration_mcg_per_ml": one("", "500", "2000"),
    "pump_daily_dose_mcg": one("", "250", "800"),
    "pump_reservoir_ml": one("", "20", "40"),
    "pump_alarm_volume_ml": one("", "2"),
    "pump_last_refill_date": one("", "2027-03-01", "2027-02-01"),
    "dose_time_1": one("08:00", "07:30", ""),
    "dose_amount_1": one("10", "5", "20", "2.5"),
    "dose_time_2": one("14:00", ""),
    "dose_amount_2": one("10", "", "7"),
    "dose_time_3": one("20:00", "", "08:00"),
    "dose_amount_3": one("10", "", "5"),
    "dose_time_4": one("", "23:00"),
    "dose_amount_4": one("", "5"),
    # "k-used-elsewhere" is the key of another clinic's plan: a replayed form.
    "submission_key": one("", "k-1", "k-2", "k-used-elsewhere"),
    "preview": one("", "1"),
}

SYMPTOM_FIELDS: Spec = {s.key: one("none", "mild", "severe") for s in checkin.SYMPTOMS}
SYMPTOM_KEYS = {s.key for s in checkin.SYMPTOMS} | {"plan"}


# --- clinician pages --------------------------------------------------------------------


def test_the_patient_forms(site: Site, world: World) -> None:
    """A new patient, and the record of one with an account and an active plan."""
    client = world.clinician()
    urls = {
        "patient_new": reverse("patient_new"),
        "patient_edit": reverse("patient_edit", args=[world.patient.pk]),
    }

    @fuzz(n(120))
    @given(name=st.sampled_from(sorted(urls)), data=posts(PATIENT_FIELDS))
    def run(name: str, data: Pairs) -> None:
        site.post(client, urls[name], data, tally=name)

    run()


def test_the_new_plan_form(site: Site, world: World) -> None:
    client = world.clinician()
    url = reverse("plan_new", args=[world.patient.pk])

    @fuzz(n(100))
    @given(data=posts(PLAN_FIELDS))
    def run(data: Pairs) -> None:
        site.post(client, url, data, tally="plan_new")

    run()


def test_the_plan_preview_fragment(site: Site, world: World) -> None:
    client = world.clinician()
    url = reverse("plan_preview", args=[world.patient.pk])

    @fuzz(n(80))
    @given(data=posts(PLAN_FIELDS))
    def run(data: Pairs) -> None:
        # The fragment shows the preview; field errors appear on the form beside it.
        site.post(client, url, data, tally="plan_preview", field_errors_shown=False)

    run()


def test_the_draft_edit_form(site: Site, world: World) -> None:
    client = world.clinician()
    url = reverse("plan_edit", args=[draft_plan(world).pk])

    @fuzz(n(70))
    @given(data=posts(PLAN_FIELDS))
    def run(data: Pairs) -> None:
        site.post(client, url, data, tally="plan_edit")

    run()


def test_the_revision_form(site: Site, world: World) -> None:
    client = world.clinician()
    url = reverse("plan_revise", args=[world.plan.pk])
    fields = {
        "kind": one("hold", "step_back", "slow_down", "initial"),
        "from_date": one("2027-03-03", "2027-03-02", "2027-03-10", "2027-03-01", "2027-04-30"),
        "days": one("2", "", "7", "60"),
        "note": one("", "Patient asked", XSS),
    }

    @fuzz(n(100))
    @given(data=posts(fields))
    def run(data: Pairs) -> None:
        site.post(client, url, data, tally="plan_revise")

    run()


def test_the_review_decision(site: Site, world: World) -> None:
    plan = draft_plan(world)
    services.plan_submit(plan=plan, by=world.alice)
    reviewer = world.reviewer()
    author = world.clinician()  # no reviewer: refused
    url = reverse("plan_review", args=[plan.pk])
    assert plan.current_revision_id is not None
    fields = {
        "decision": one("approve", "reject"),
        "comment": one("", "Hold each step longer", XSS, " "),
        # The version on the reviewer's screen; another one is a stale decision.
        "revision": one(str(plan.current_revision_id), "0", "-1", "1e9"),
    }

    @fuzz(n(120))
    @given(data=posts(fields), own=st.booleans())
    def run(data: Pairs, own: bool) -> None:
        site.post(author if own else reviewer, url, data, tally="plan_review")

    run()


def test_the_cancel_form(site: Site, world: World) -> None:
    client = world.clinician()
    plans = [world.plan.pk, draft_plan(world).pk]  # an active plan needs a reason

    @fuzz(n(120))
    @given(
        data=posts({"reason": one("Adverse reaction", "", "  ", XSS)}),
        pk=st.sampled_from(plans),
    )
    @example(data=[("reason", "a\x00b")], pk=world.plan.pk)  # was stored: a 500 on PostgreSQL
    def run(data: Pairs, pk: int) -> None:
        site.post(client, reverse("plan_cancel", args=[pk]), data, tally="plan_cancel")

    run()


@pytest.fixture
def pump_plan(world: World) -> TaperPlan:
    patient = new_patient(world.clinic, "Pam")
    with time_machine.travel(dt.datetime(2027, 2, 25, tzinfo=dt.UTC)):
        plan = services.plan_create(
            patient=patient, by=world.alice, engine_input=pump_engine_input(patient)
        )
        services.plan_submit(plan=plan, by=world.alice)
        services.plan_approve(plan=plan, by=world.bob)
        return services.plan_activate(plan=plan, by=world.alice)


def test_recording_a_pump_refill(site: Site, world: World, pump_plan: TaperPlan) -> None:
    from reminders.refills import alerts_check_refills

    client = world.clinician()
    plans = [pump_plan.pk, world.plan.pk]
    # Before 2027-03-01 is before the fill on the pump record.
    fields = {"refilled_on": one("2027-03-02", "2027-03-01", "2027-02-27", "2027-03-03")}

    @fuzz(n(120))
    @given(data=posts(fields), pk=st.sampled_from(plans))
    # Before the fill on the pump record: every dispatcher run failed after this.
    @example(data=[("refilled_on", "2027-02-27")], pk=pump_plan.pk)
    def run(data: Pairs, pk: int) -> None:
        site.post(
            client,
            reverse("plan_refill", args=[pk]),
            data,
            tally="plan_refill",
            # Whatever refill was accepted, the dispatcher's refill check still runs.
            after=lambda: alerts_check_refills(now=NOW + dt.timedelta(days=60)),
        )

    run()


def test_the_clinicians_calendar_address_page(site: Site, world: World) -> None:
    client = world.clinician()
    url = reverse("patient_calendar", args=[world.patient.pk])

    @fuzz(n(100))
    @given(data=posts({"action": one("issue", "revoke")}))
    def run(data: Pairs) -> None:
        site.post(client, url, data, tally="patient_calendar")

    run()


def test_buttons_without_fields_on_the_clinic_side(site: Site, world: World) -> None:
    """Submit, activate, invite and notice-read: only the path and extra fields vary."""
    client = world.clinician()
    draft = draft_plan(world)
    notice = Notice.objects.create(user=world.alice, subject="Plan 1 approved", body="…")
    ids = st.one_of(
        st.sampled_from(
            [world.plan.pk, draft.pk, world.other_plan.pk, world.patient.pk, notice.pk]
        ),
        st.integers(min_value=0, max_value=2**70),
    )
    names = st.sampled_from(["plan_submit", "plan_activate", "patient_invite", "notice_read"])

    @fuzz(n(150))
    @given(name=names, pk=ids, data=posts({}))
    def run(name: str, pk: int, data: Pairs) -> None:
        site.post(client, reverse(name, args=[pk]), data, tally=name)

    run()


# --- patient pages ----------------------------------------------------------------------


def test_answering_a_dose_in_the_portal(site: Site, world: World) -> None:
    client = world.patient_client()
    doses = list(
        Dose.objects.filter(plan=world.plan, local_date__lte="2027-03-02").values_list(
            "pk", flat=True
        )
    )
    assert world.other_plan.current_revision is not None
    foreign = Dose.objects.create(
        plan=world.other_plan,
        revision=world.other_plan.current_revision,
        local_date=dt.date(2027, 3, 2),
        local_time=dt.time(8),
        timezone="UTC",
        due_at=NOW,
        catch_up_until=NOW + dt.timedelta(hours=2),
        amount_mg=Decimal(10),
    )
    ids = st.one_of(
        st.sampled_from([*doses, foreign.pk]), st.integers(min_value=0, max_value=2**70)
    )
    fields = {"answer": one("taken", "skipped", "missed", "cancelled"), "next": one("", "missed")}

    @fuzz(n(120))
    @given(pk=ids, data=posts(fields))
    def run(pk: int, data: Pairs) -> None:
        url = reverse("patient_dose_answer", args=[pk])
        site.post(client, url, data, tally="patient_dose_answer")

    run()


def test_the_portal_check_in(site: Site, world: World) -> None:
    client = world.patient_client()

    @fuzz(n(120))
    @given(data=posts(SYMPTOM_FIELDS))
    def run(data: Pairs) -> None:
        site.post(
            client, reverse("patient_check_in"), data, tally="patient_check_in",
            known_error_keys=SYMPTOM_KEYS,
        )

    run()


def test_the_patients_settings(site: Site, world: World) -> None:
    client = world.patient_client()
    fields = {
        "action": one("emails", "language", "timezone", "other"),
        "email_dose": one("on", ""),
        "email_dose_change": one("on", ""),
        "email_missed_dose": one("on", ""),
        "email_check_in": one("on", ""),
        "language": one("en", "es", "fr"),
        "home_timezone": one("Europe/Madrid", "America/New_York", "Mars/Olympus", "Factory"),
    }

    @fuzz(n(100))
    @given(data=posts(fields))
    def run(data: Pairs) -> None:
        site.post(client, reverse("patient_settings"), data, tally="patient_settings")

    run()


def test_the_patients_calendar_page(site: Site, world: World) -> None:
    client = world.patient_client()
    fields = {
        "action": one("issue", "rotate", "revoke", "privacy"),
        "detailed_titles": one("1", "0"),
    }

    @fuzz(n(120))
    @given(data=posts(fields))
    def run(data: Pairs) -> None:
        site.post(client, reverse("my_calendar"), data, tally="my_calendar")

    run()


def test_the_patients_notices_read_button(site: Site, world: World) -> None:
    client = world.patient_client()

    @fuzz(n(50))
    @given(data=posts({}))
    def run(data: Pairs) -> None:
        site.post(client, reverse("patient_notices_read"), data, tally="patient_notices_read")

    run()


# --- links from e-mails -----------------------------------------------------------------


def test_the_action_links(site: Site, world: World) -> None:
    """Taken / skipped / missed links and the check-in link, posted by anyone (the link
    is the credential), with valid, tampered and made-up tokens."""
    client = Client(raise_request_exception=False)
    doses = Dose.objects.filter(plan=world.plan, local_date__in=["2027-03-01", "2027-03-02"])
    tokens = [
        actions.dose_link(dose.pk, action, dose.catch_up_until)
        for dose in doses
        for action in actions.DOSE_ACTIONS
    ]
    not_active = actions.check_in_link(world.other_plan.pk, NOW)  # a draft: no check-in
    tokens += [
        actions.check_in_link(world.plan.pk, NOW),
        not_active,
        actions.action_token(actions.ActionLink("dose", 10**9, "taken", NOW)),
        actions.action_token(actions.ActionLink("other", world.plan.pk, "x", NOW)),
    ]
    made_up = st.one_of(
        st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=60),
        st.sampled_from(tokens).map(lambda t: t[:-3] + "abc"),  # a tampered signature
        st.integers(min_value=401, max_value=5_000).map(lambda n: "a" * n),
    )
    token_strategy = st.one_of(st.sampled_from(tokens), st.sampled_from(tokens), made_up)

    @fuzz(n(200))
    @given(token=token_strategy, data=posts(SYMPTOM_FIELDS))
    # A check-in link of a plan no longer active: the page said only "answer every
    # question", not why it was refused.
    @example(token=not_active, data=[(key, "none") for key in SYMPTOM_FIELDS])
    def run(token: str, data: Pairs) -> None:
        url = "/a/" + quote(token, safe="") + "/"
        site.post(client, url, data, tally="action_link", known_error_keys=SYMPTOM_KEYS)

    run()


# --- accounts ---------------------------------------------------------------------------


def test_the_login_and_password_reset_forms(site: Site, world: World) -> None:
    anonymous = Client(raise_request_exception=False)
    login = {
        "username": one("sam", "alice", "nobody", "SAM"),
        "password": one("pw-for-tests-1", "wrong", ""),
    }
    reset = {"email": one("sam@example.org", "alice@clinic.example", "nobody@example.org")}

    @fuzz(n(150))
    @given(
        data=st.one_of(
            posts(login).map(lambda d: ("login", d)),
            posts(reset).map(lambda d: ("password_reset", d)),
        )
    )
    # django-axes stored the user name in 255 characters: a 500 on PostgreSQL.
    @example(data=("login", [("username", "x" * 300), ("password", "wrong")]))
    def run(data: tuple[str, Pairs]) -> None:
        name, pairs = data
        site.post(anonymous, reverse(name), pairs, tally=name)

    run()


def test_the_logout_button(site: Site, world: World) -> None:
    @fuzz(n(50))
    @given(data=posts({}), who=st.sampled_from(["alice", "sam", None]))
    def run(data: Pairs, who: str | None) -> None:
        client = Client(raise_request_exception=False)
        if who is not None:
            client.force_login(world.alice if who == "alice" else world.sam)
        site.post(client, reverse("logout"), data, tally="logout")

    run()


def test_choosing_a_password_from_an_invitation_or_reset_link(site: Site, world: World) -> None:
    """The welcome page of an invitation and Django's reset page, with their token in the
    session as Django keeps it after the first visit."""
    from django.contrib.auth.tokens import default_token_generator

    invited = new_patient(world.clinic, "Ivy", email="ivy@example.org")
    user = portal_services.patient_invite(patient=invited)
    welcome = Client(raise_request_exception=False)
    token = portal_services.invite_token_generator.make_token(user)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    page = welcome.get(reverse("patient_welcome", args=[uid, token]), follow=True)
    welcome_url = page.redirect_chain[-1][0]
    assert page.context["validlink"] is True

    reset = Client(raise_request_exception=False)
    uid = urlsafe_base64_encode(force_bytes(world.sam.pk))
    token = default_token_generator.make_token(world.sam)
    page = reset.get(reverse("password_reset_confirm", args=[uid, token]), follow=True)
    reset_url = page.redirect_chain[-1][0]
    assert page.context["validlink"] is True
    passwords = one("a-long-new-passphrase-42", "short", "ivy@example.org", "password")
    fields = {"new_password1": passwords, "new_password2": passwords}

    @fuzz(n(120))
    @given(data=posts(fields), which=st.booleans())
    def run(data: Pairs, which: bool) -> None:
        client, url = (welcome, welcome_url) if which else (reset, reset_url)
        site.post(client, url, data, tally="welcome" if which else "password_reset_confirm")

    run()


# --- made-up addresses ------------------------------------------------------------------


def test_made_up_ids_and_tokens_in_addresses(site: Site, world: World) -> None:
    """Huge, zero and other clinics' ids in every page address, made-up feed tokens and
    page numbers."""
    clinician = world.clinician()
    patient = world.patient_client()
    with_pk = [
        "patient", "patient_edit", "plan_new", "plan", "plan_handout", "plan_edit",
        "plan_review", "plan_audit", "plan_revise", "plan_cancel", "plan_calendar",
        "patient_calendar", "patient_dose_history", "patient_doses_csv",
    ]
    ids = st.one_of(
        st.sampled_from([0, world.other_plan.pk, world.other_patient.pk]),
        st.integers(min_value=0, max_value=2**80),
    )
    history = reverse("patient_dose_history", args=[world.patient.pk])
    targets = st.one_of(
        st.tuples(st.sampled_from(with_pk), ids).map(
            lambda t: (clinician, reverse(t[0], args=[t[1]]))
        ),
        ids.map(lambda pk: (patient, reverse("patient_dose_missed", args=[pk]))),
        st.text(st.characters(codec="utf-8", exclude_characters="/"), max_size=120).map(
            lambda token: (patient, "/calendar/" + quote(token, safe="") + ".ics")
        ),
        st.text(max_size=30).map(
            lambda page: (patient, reverse("patient_history") + "?" + urlencode({"page": page}))
        ),
        st.text(max_size=30).map(
            lambda page: (clinician, history + "?" + urlencode({"page": page}))
        ),
    )

    @fuzz(n(120))
    @given(target=targets)
    def run(target: tuple[Client, str]) -> None:
        client, url = target
        site.get(client, url, tally="addresses")

    run()
