"""Invitations, the clinic's dose history and CSV, reminder e-mail choices, the home
time zone and the patient's language."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from planner.models import AccessAction, AccessLogEntry, Patient, TaperPlan
from portal import selectors, services
from reminders import dispatch, feeds
from reminders.channels import Channel, EmailChannel, InAppChannel
from reminders.models import (
    DoseStatus,
    Notice,
    PatientPreferences,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from tests.support.plans import at_new_york, dose_at

CHANNELS: list[Channel] = [EmailChannel(), InAppChannel()]


# --- invitations -----------------------------------------------------------------------


def invite(client: Client, alice: Any, patient: Patient) -> str:
    client.force_login(alice)
    response = client.post(reverse("patient_invite", args=[patient.pk]))
    assert response.status_code == 302
    client.logout()
    match = re.search(r"http://\S+/me/welcome/\S+/", str(mail.outbox[-1].body))
    assert match is not None
    return match.group(0).split("://", 1)[1].split("/", 1)[1].join(["/", ""])


PASSWORD = "a-long-new-passphrase-42"


def set_password(client: Client, link: str, password: str = PASSWORD) -> Any:
    form_page = client.get(link, follow=True)
    return client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": password, "new_password2": password},
    )


def test_an_invited_patient_sets_a_password_and_lands_on_today(
    client: Client, alice: Any, patient: Patient
) -> None:
    patient.email = "sam@example.org"
    patient.save()
    link = invite(client, alice, patient)
    patient.refresh_from_db()
    assert patient.user is not None
    assert not patient.user.has_usable_password()
    assert mail.outbox[-1].to == ["sam@example.org"]
    response = set_password(client, link)
    assert response.status_code == 302
    assert response["Location"] == reverse("patient_today")
    assert client.get(reverse("patient_today")).status_code == 200
    patient.user.refresh_from_db()
    assert patient.user.has_usable_password()


def test_an_invitation_link_works_only_once(
    client: Client, alice: Any, patient: Patient
) -> None:
    patient.email = "sam@example.org"
    patient.save()
    link = invite(client, alice, patient)
    set_password(client, link)
    client.logout()
    again = client.get(link, follow=True)
    assert again.context["validlink"] is False
    assert "This link no longer works" in again.content.decode()


def test_an_invitation_link_expires(client: Client, alice: Any, patient: Patient) -> None:
    patient.email = "sam@example.org"
    patient.save()
    link = invite(client, alice, patient)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=4)):
        page = client.get(link, follow=True)
    assert page.context["validlink"] is False


def test_a_clinician_of_another_clinic_cannot_invite(
    client: Client, charlie: Any, patient: Patient
) -> None:
    patient.email = "sam@example.org"
    patient.save()
    client.force_login(charlie)
    assert client.post(reverse("patient_invite", args=[patient.pk])).status_code == 404
    assert mail.outbox == []


def test_a_patient_without_an_e_mail_address_is_not_invited(
    client: Client, alice: Any, patient: Patient
) -> None:
    client.force_login(alice)
    page = client.post(reverse("patient_invite", args=[patient.pk]), follow=True)
    assert "e-mail address" in page.content.decode()
    patient.refresh_from_db()
    assert patient.user is None


def test_the_welcome_link_cannot_open_a_staff_account(client: Client, alice: Any) -> None:
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    alice.set_unusable_password()
    alice.save()
    token = services.invite_token_generator.make_token(alice)
    link = reverse("patient_welcome", args=[urlsafe_base64_encode(force_bytes(alice.pk)), token])
    assert client.get(link, follow=True).context["validlink"] is False


# --- the clinic's dose history ---------------------------------------------------------


def test_the_csv_lists_the_dose_history_and_logs_the_download(
    client: Client, alice: Any, patient: Patient, plan: TaperPlan
) -> None:
    taken = dose_at(plan, "2027-03-01", "08:00")
    taken.status = DoseStatus.TAKEN
    taken.answered_at = dt.datetime(2027, 3, 1, 13, 5, tzinfo=dt.UTC)
    taken.save()
    client.force_login(alice)
    response = client.get(reverse("patient_doses_csv", args=[patient.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == list(selectors.CSV_HEADER)
    assert rows[1][1:4] == ["2027-03-01", "08:00", "America/New_York"]
    assert rows[1][6:] == ["taken", "2027-03-01 13:05"]
    assert len(rows) == 2
    entry = AccessLogEntry.objects.get(action=AccessAction.DOSE_HISTORY_CSV)
    assert (entry.user, entry.patient) == (alice, patient)


def test_the_csv_neutralises_spreadsheet_formulas(
    client: Client, alice: Any, patient: Patient, plan: TaperPlan
) -> None:
    dose = dose_at(plan, "2027-03-01", "08:00")
    dose.status = DoseStatus.TAKEN
    dose.units_text = '=HYPERLINK("http://evil.example","x")'
    dose.save()
    client.force_login(alice)
    body = client.get(reverse("patient_doses_csv", args=[patient.pk])).content.decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[1][5] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    for bad in ("+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert selectors.csv_cell(bad) == "'" + bad
    assert selectors.csv_cell("10.00") == "10.00"


def test_the_clinic_history_and_csv_are_hidden_from_another_clinic_and_from_patients(
    client: Client, charlie: Any, sam: Any, patient: Patient, plan: TaperPlan
) -> None:
    client.force_login(charlie)
    assert client.get(reverse("patient_doses_csv", args=[patient.pk])).status_code == 404
    assert client.get(reverse("patient_dose_history", args=[patient.pk])).status_code == 404
    client.force_login(sam)
    assert client.get(reverse("patient_doses_csv", args=[patient.pk])).status_code == 403
    assert not AccessLogEntry.objects.exists()


def test_viewing_the_clinic_history_page_is_logged(
    client: Client, alice: Any, patient: Patient, plan: TaperPlan
) -> None:
    client.force_login(alice)
    page = client.get(reverse("patient_dose_history", args=[patient.pk]))
    assert page.status_code == 200
    assert "Download the dose history (CSV)" in page.content.decode()
    assert AccessLogEntry.objects.filter(
        action=AccessAction.DOSE_HISTORY, patient=patient, user=alice
    ).exists()


# --- reminder e-mail choices -----------------------------------------------------------


def email_choices(**overrides: bool) -> dict[str, Any]:
    choices = {"email_dose": True, "email_dose_change": True, "email_missed_dose": True,
               "email_check_in": True} | overrides
    return {"action": "emails", **{key: "on" for key, on in choices.items() if on}}


def test_dose_e_mails_cannot_be_turned_off_without_a_calendar_subscription(
    sam_client: Client, plan: TaperPlan, patient: Patient
) -> None:
    response = sam_client.post(reverse("patient_settings"), email_choices(email_dose=False))
    assert response.status_code == 400
    assert "only while your plan is in your calendar" in response.content.decode()
    assert not PatientPreferences.objects.filter(patient=patient, email_dose=False).exists()


def test_dose_e_mails_can_be_turned_off_while_subscribed_and_come_back_on_revocation(
    sam_client: Client, plan: TaperPlan, patient: Patient, sam: Any
) -> None:
    feeds.feed_token_issue(patient=patient, by=sam)
    response = sam_client.post(reverse("patient_settings"), email_choices(email_dose=False))
    assert response.status_code == 302
    assert services.preferences_for(patient).email_dose is False
    from reminders.preferences import email_wanted

    assert email_wanted(patient, ReminderKind.DOSE) is False
    feeds.feed_token_revoke(patient=patient, by=sam)
    assert email_wanted(patient, ReminderKind.DOSE) is True
    page = sam_client.get(reverse("patient_settings")).content.decode()
    assert "dose e-mails are on again" in page


def deliver(row: Reminder, now: dt.datetime) -> str:
    Reminder.objects.filter(pk=row.pk).update(status=ReminderStatus.SENDING)
    return dispatch.reminder_deliver(reminder_id=row.pk, now=now, channels=CHANNELS)


def test_the_dispatcher_sends_no_e_mail_of_a_kind_turned_off_but_keeps_the_notice(
    plan: TaperPlan, patient: Patient, sam: Any
) -> None:
    feeds.feed_token_issue(patient=patient, by=sam)
    services.preferences_update(
        patient=patient, email_dose=False, email_dose_change=True,
        email_missed_dose=True, email_check_in=True,
    )
    dose = dose_at(plan, "2027-03-01", "08:00")
    row = Reminder.objects.get(dose=dose, kind=ReminderKind.DOSE)
    assert deliver(row, dose.due_at) == "sent"
    assert mail.outbox == []
    assert Notice.objects.filter(user=sam, reminder=row).exists()


def test_the_dispatcher_still_e_mails_kinds_left_on(plan: TaperPlan, patient: Patient) -> None:
    services.preferences_update(
        patient=patient, email_dose=True, email_dose_change=True,
        email_missed_dose=True, email_check_in=False,
    )
    dose = dose_at(plan, "2027-03-01", "08:00")
    assert deliver(Reminder.objects.get(dose=dose, kind=ReminderKind.DOSE), dose.due_at) == "sent"
    assert len(mail.outbox) == 1
    check_in = Reminder.objects.filter(plan=plan, kind=ReminderKind.CHECK_IN).order_by("due_at")[0]
    assert deliver(check_in, check_in.due_at) == "sent"
    assert len(mail.outbox) == 1


# --- time zone -------------------------------------------------------------------------


def test_changing_the_home_time_zone_keeps_wall_clock_times_of_future_doses(
    sam_client: Client, plan: TaperPlan, patient: Patient
) -> None:
    past = dose_at(plan, "2027-03-01", "08:00")
    with time_machine.travel(at_new_york("2027-03-01", "09:00"), tick=False):
        response = sam_client.post(
            reverse("patient_settings"), {"action": "timezone", "home_timezone": "Europe/Madrid"}
        )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.home_timezone == "Europe/Madrid"
    future = dose_at(plan, "2027-03-02", "08:00")
    assert future.timezone == "Europe/Madrid"
    assert future.due_at == dt.datetime(2027, 3, 2, 7, 0, tzinfo=dt.UTC)
    assert future.catch_up_until == dt.datetime(2027, 3, 2, 10, 0, tzinfo=dt.UTC)
    assert Reminder.objects.get(dose=future, kind=ReminderKind.DOSE).due_at == future.due_at
    past_again = dose_at(plan, "2027-03-01", "08:00")
    assert past_again.due_at == past.due_at  # the past stays as it was
    # The calendar feed follows the new home zone too: same clock time, new zone.
    calendar = feeds.patient_feed(patient).body.decode()
    assert "DTSTART;TZID=Europe/Madrid:20270301T080000" in calendar
    assert "America/New_York" not in calendar


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus", "localtime", "Factory", "Etc/GMT+5", "UTC", "US/Eastern"]
)
def test_a_zone_that_is_not_a_real_place_is_refused(
    sam_client: Client, plan: TaperPlan, patient: Patient, zone: str
) -> None:
    response = sam_client.post(
        reverse("patient_settings"), {"action": "timezone", "home_timezone": zone}
    )
    assert response.status_code == 400
    assert "home_timezone" in response.context["timezone_form"].errors
    patient.refresh_from_db()
    assert patient.home_timezone == "America/New_York"


def test_the_settings_offer_real_places_by_region(sam_client: Client, plan: TaperPlan) -> None:
    page = sam_client.get(reverse("patient_settings")).content.decode()
    assert '<optgroup label="Europe">' in page
    assert '<option value="Europe/Madrid">Madrid — Spain' in page
    for unreal in ('value="UTC"', 'value="Factory"', 'value="localtime"', 'value="Etc/GMT+5"'):
        assert unreal not in page


def test_a_zone_stored_before_real_places_is_not_shown_as_another_place(
    sam_client: Client, plan: TaperPlan, patient: Patient
) -> None:
    Patient.objects.filter(pk=patient.pk).update(home_timezone="UTC")
    page = sam_client.get(reverse("patient_settings")).content.decode()
    select = page.split('name="home_timezone"', 1)[1].split("</select>", 1)[0]
    # Nothing selected: the browser shows the first option, the blank one.
    assert select.split("<option", 2)[1].startswith(' value="">Choose your home time zone')
    assert " selected" not in select


# --- language --------------------------------------------------------------------------


def test_a_patient_who_chooses_spanish_sees_the_pages_in_spanish(
    sam_client: Client, plan: TaperPlan
) -> None:
    response = sam_client.post(
        reverse("patient_settings"), {"action": "language", "language": "es"}
    )
    assert response.status_code == 302
    with time_machine.travel(at_new_york("2027-03-01", "09:30"), tick=False):
        body = sam_client.get(reverse("patient_today")).content.decode()
    assert '<html lang="es">' in body
    assert "Sus dosis de hoy" in body
    assert "Your doses today" not in body


def test_a_reminder_e_mail_to_a_spanish_speaking_patient_is_in_spanish(
    plan: TaperPlan, patient: Patient
) -> None:
    services.language_set(patient=patient, language="es")
    dose = dose_at(plan, "2027-03-01", "08:00")
    assert deliver(Reminder.objects.get(dose=dose, kind=ReminderKind.DOSE), dose.due_at) == "sent"
    message = mail.outbox[0]
    assert message.subject == "Es la hora de su dosis de las 08:00"
    assert "Nunca tome dos dosis a la vez." in message.body


def test_the_invitation_goes_out_in_the_patients_language(
    client: Client, alice: Any, patient: Patient
) -> None:
    patient.email = "sam@example.org"
    patient.save()
    PatientPreferences.objects.create(patient=patient, language="es")
    client.force_login(alice)
    client.post(reverse("patient_invite", args=[patient.pk]))
    assert "Elija su contraseña aquí" in mail.outbox[0].body


@pytest.mark.parametrize("language", ["en", "es"])
def test_missed_dose_advice_is_worded_for_the_clock_in_each_language(
    plan: TaperPlan, language: str
) -> None:
    from django.utils import translation

    from reminders.missed import missed_dose_advice

    dose = dose_at(plan, "2027-03-01", "08:00")
    with translation.override(language):
        advice = missed_dose_advice(dose=dose, now=at_new_york("2027-03-01", "09:30"))
    expected = {"en": "until 11:00", "es": "hasta las 11:00"}[language]
    assert expected in advice.text
    assert advice.can_still_take


def test_the_page_behind_an_e_mail_link_speaks_the_patients_language(
    client: Client, plan: TaperPlan, patient: Patient
) -> None:
    from reminders import actions

    services.language_set(patient=patient, language="es")
    dose = dose_at(plan, "2027-03-01", "08:00")
    url = reverse("action", args=[actions.dose_link(dose.pk, "missed", dose.catch_up_until)])
    with time_machine.travel(at_new_york("2027-03-01", "09:30"), tick=False):
        body = client.get(url).content.decode()
    assert "Todavía puede tomarla ahora, hasta las 11:00." in body
    assert '<html lang="es">' in body


def test_an_invitation_link_never_reaches_the_logs(
    client: Client, alice: Any, patient: Patient
) -> None:
    import logging

    from planner.logfilters import RedactSecrets

    patient.email = "sam@example.org"
    patient.save()
    link = invite(client, alice, patient)
    uid, token = link.rstrip("/").split("/")[-2:]
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1,
                               '"GET %s HTTP/1.1" 302 0', (link,), None)
    RedactSecrets().filter(record)
    logged = record.getMessage()
    assert "/me/welcome/[redacted]" in logged
    assert token not in logged
    assert uid not in logged


def test_a_patient_who_forgot_the_password_chooses_a_new_one_by_e_mail(
    client: Client, alice: Any, patient: Patient
) -> None:
    patient.email = "sam@example.org"
    patient.save()
    set_password(client, invite(client, alice, patient))
    client.logout()
    mail.outbox.clear()

    login_page = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in login_page
    # An unknown address gets the same answer and no e-mail: nobody learns who has an account.
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert unknown["Location"] == reverse("password_reset_done")
    assert mail.outbox == []

    sent = client.post(reverse("password_reset"), {"email": "sam@example.org"})
    assert sent["Location"] == reverse("password_reset_done")
    assert [m.to for m in mail.outbox] == [["sam@example.org"]]
    match = re.search(r"http://[^/\s]+(/accounts/reset/\S+/)", str(mail.outbox[0].body))
    assert match is not None
    form_page = client.get(match.group(1), follow=True)
    assert form_page.context["validlink"] is True
    new = "another-long-passphrase-77"
    done = client.post(form_page.redirect_chain[-1][0],
                       {"new_password1": new, "new_password2": new})
    assert done["Location"] == reverse("password_reset_complete")
    patient.refresh_from_db()
    assert patient.user is not None
    logged_in = Client().post(reverse("login"),
                              {"username": patient.user.get_username(), "password": new})
    assert logged_in.status_code == 302
    # The link worked once.
    assert client.get(match.group(1), follow=True).context["validlink"] is False


def test_the_login_page_speaks_spanish_to_a_spanish_browser(client: Client) -> None:
    page = client.get(reverse("login"), headers={"accept-language": "es"}).content.decode()
    assert "¿Olvidó su contraseña?" in page


def test_a_clinician_changing_the_home_zone_moves_the_doses_too(
    plan: TaperPlan, patient: Patient, alice: Any
) -> None:
    from planner import services as planner_services

    with time_machine.travel(at_new_york("2027-03-01", "09:00"), tick=False):
        planner_services.patient_update(
            patient=patient, data={"home_timezone": "Europe/Madrid"}, by=alice
        )
    future = dose_at(plan, "2027-03-02", "08:00")
    assert future.timezone == "Europe/Madrid"
    assert future.due_at == dt.datetime(2027, 3, 2, 7, 0, tzinfo=dt.UTC)
    assert Reminder.objects.get(dose=future, kind=ReminderKind.DOSE).due_at == future.due_at


def test_an_invitation_that_cannot_be_e_mailed_says_so_and_keeps_nothing(
    client: Client, alice: Any, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smtplib

    from django.contrib.auth.models import User
    from django.core.mail import EmailMessage

    def refuse(self: Any, fail_silently: bool = False) -> int:
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(EmailMessage, "send", refuse)
    patient.email = "sam@example.org"
    patient.save()
    users = User.objects.count()
    client.force_login(alice)
    response = client.post(reverse("patient_invite", args=[patient.pk]), follow=True)
    assert response.status_code == 200
    assert "could not be sent just now" in response.content.decode()
    patient.refresh_from_db()
    assert patient.user is None
    assert User.objects.count() == users
