"""The clinic's numbers (issue #17): validated fields set in the admin, shown as tel:
links wherever a patient is told to call the clinic."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from planner.clinic_phones import clinic_phones_text
from planner.models import Clinic, Patient, tel_uri, validate_phone
from reminders import actions, checkin, dispatch
from reminders.channels import EmailChannel, InAppChannel
from reminders.models import Reminder, ReminderKind, ReminderStatus
from tests.support.factories import patient_account
from tests.support.plans import active_plan, at_new_york, dose_at

LINK = '<a href="tel:+15550100">+1 555 0100</a>'
OUT_OF_HOURS_LINK = '<a href="tel:+15550199">+1 555 0199</a>'


@pytest.fixture
def clinic(db: None) -> Clinic:
    return Clinic.objects.create(
        name="North Demo Clinic", phone="+1 555 0100", out_of_hours_phone="+1 555 0199",
        opening_hours="Mon–Fri 08:00–18:00",
    )


@pytest.mark.parametrize("number", ["+1 555 0100", "020 7946 0000", "+44 (20) 7946-0999"])
def test_a_phone_number_as_people_write_it_is_accepted(number: str) -> None:
    validate_phone(number)


@pytest.mark.parametrize(
    "number", ["call us", "+1 55", "555-0100 ext 2", "+1 555 0100 0100 0100 01", "++15550100"]
)
def test_a_number_that_cannot_be_dialled_is_refused(number: str) -> None:
    with pytest.raises(ValidationError):
        validate_phone(number)


def test_a_bad_number_names_the_field_and_saves_nothing(clinic: Clinic) -> None:
    clinic.out_of_hours_phone = "ring the bell"
    with pytest.raises(ValidationError) as refused:
        clinic.full_clean()
    assert set(refused.value.message_dict) == {"out_of_hours_phone"}
    clinic.refresh_from_db()
    assert clinic.out_of_hours_phone == "+1 555 0199"


def test_the_admin_refuses_a_bad_number_by_field(
    client: Client, django_user_model: Any, clinic: Clinic
) -> None:
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "pw-1-root")
    client.force_login(admin)
    url = reverse("admin:planner_clinic_change", args=[clinic.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(phone="not a number", alert_escalation_hours="4")
    data["require_review_for_all_plans"] = ""
    response = client.post(url, data)
    assert response.status_code == 200
    assert "phone" in response.context["adminform"].form.errors
    clinic.refresh_from_db()
    assert clinic.phone == "+1 555 0100"


def test_a_tel_link_dials_the_digits() -> None:
    assert tel_uri("+1 555 0100") == "tel:+15550100"
    assert tel_uri("020 7946 0000") == "tel:02079460000"


def test_the_text_for_messages_names_both_numbers_and_the_hours(clinic: Clinic) -> None:
    with translation.override("en"):
        assert clinic_phones_text(clinic) == (
            "Call your clinic: +1 555 0100, Mon–Fri 08:00–18:00. Out of hours: +1 555 0199."
        )
    with translation.override("es"):
        assert clinic_phones_text(clinic).startswith("Llame a su clínica: +1 555 0100")
    assert clinic_phones_text(Clinic(name="No numbers")) == ""


@pytest.fixture
def plan(alice: Any, patient: Patient, django_user_model: Any) -> Any:
    patient.email = "sam@example.org"
    patient.save()
    patient_account(django_user_model, patient, "sam")
    return active_plan(patient, alice)


def test_patient_pages_show_the_numbers_as_tel_links(client: Client, plan: Any) -> None:
    client.force_login(plan.patient.user)
    with time_machine.travel(at_new_york("2027-03-02", "09:00"), tick=False):
        for name in ("patient_today", "patient_plan", "patient_missed"):
            body = client.get(reverse(name)).content.decode()
            assert LINK in body, name
            assert OUT_OF_HOURS_LINK in body, name
        dose = dose_at(plan, "2027-03-02", "08:00")
        token = actions.dose_link(dose.pk, "taken", dose.catch_up_until)
        assert LINK in client.get(reverse("action", args=[token])).content.decode()


def test_the_severe_check_in_result_shows_the_numbers(client: Client, plan: Any) -> None:
    client.force_login(plan.patient.user)
    answers = {s.key: "none" for s in checkin.SYMPTOMS} | {"seizure": "severe"}
    with time_machine.travel(at_new_york("2027-03-02", "09:00"), tick=False):
        body = client.post(reverse("patient_check_in"), answers).content.decode()
    assert "Contact your clinic now." in body
    assert LINK in body


def test_reminder_e_mails_carry_the_numbers(plan: Any) -> None:
    dose = dose_at(plan, "2027-03-02", "08:00")
    row = Reminder.objects.get(dose=dose, kind=ReminderKind.DOSE)
    Reminder.objects.filter(pk=row.pk).update(status=ReminderStatus.SENDING)
    dispatch.reminder_deliver(
        reminder_id=row.pk, now=dose.due_at, channels=[EmailChannel(), InAppChannel()]
    )
    [email] = mail.outbox
    # The text part shows the numbers plainly; the HTML part links them.
    assert "Call your clinic: +1 555 0100, Mon–Fri 08:00–18:00." in email.body
    assert "tel:" not in email.body
    html = email.alternatives[0][0]  # type: ignore[attr-defined]
    assert f"Call your clinic: {LINK}, Mon–Fri 08:00–18:00. Out of hours: {OUT_OF_HOURS_LINK}." in (
        html
    )


# Every reminder e-mail template that tells the patient to call (templates/reminders/email)
# is rendered into the one HTML part (base.html); the invitation has an HTML part of its own.
@pytest.mark.parametrize(
    ("kind", "day", "time"),
    [
        (ReminderKind.DOSE, "2027-03-02", "08:00"),
        (ReminderKind.DOSE_FOLLOW_UP, "2027-03-02", "08:00"),
        (ReminderKind.MISSED_DOSE, "2027-03-02", "08:00"),
        (ReminderKind.LAST_DOSE, None, None),
    ],
)
def test_every_html_e_mail_that_names_the_numbers_links_them(
    plan: Any, kind: ReminderKind, day: str | None, time: str | None
) -> None:
    if day is None:
        row = Reminder.objects.get(plan=plan, kind=kind)
        now = row.due_at
    else:
        dose = dose_at(plan, day, time or "")
        row, _ = Reminder.objects.get_or_create(
            plan=plan, dose=dose, kind=kind, defaults={"key": f"t-{kind}", "due_at": dose.due_at}
        )
        now = dose.due_at
    Reminder.objects.filter(pk=row.pk).update(status=ReminderStatus.SENDING)
    dispatch.reminder_deliver(reminder_id=row.pk, now=now, channels=[EmailChannel()])
    [email] = mail.outbox
    assert "+1 555 0100" in email.body
    assert "tel:" not in email.body
    html = email.alternatives[0][0]  # type: ignore[attr-defined]
    assert LINK in html
    assert OUT_OF_HOURS_LINK in html


def test_the_portal_invitation_names_the_numbers_plainly_and_as_links(
    client: Client, alice: Any, patient: Patient
) -> None:
    patient.email = "sam@example.org"
    patient.save()
    client.force_login(alice)
    client.post(reverse("patient_invite", args=[patient.pk]))
    [email] = mail.outbox
    assert "Call your clinic: +1 555 0100, Mon–Fri 08:00–18:00." in email.body
    assert "tel:" not in email.body
    html = email.alternatives[0][0]  # type: ignore[attr-defined]
    assert LINK in html
    assert OUT_OF_HOURS_LINK in html


def test_a_number_in_the_html_is_escaped_and_linked_once() -> None:
    from planner.clinic_phones import clinic_phones_linked

    clinic = Clinic(name="x", phone="+1 555 0100", out_of_hours_phone="555 0100")
    html = clinic_phones_linked("<b> +1 555 0100 or 555 0100", clinic)
    assert html == (
        '&lt;b&gt; <a href="tel:+15550100">+1 555 0100</a> or '
        '<a href="tel:5550100">555 0100</a>'
    )
