"""What each reminder says, to whom. Plain words; for dose reminders the drug and dose
appear only if the patient chose detailed titles."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from planner.models import Patient, StaffMember
from planner.roles import Role
from reminders import actions
from reminders.channels import Message, PermanentError
from reminders.missed import missed_dose_advice
from reminders.models import AbruptStopAlert, Notice, Recipient, Reminder, ReminderKind
from reminders.preferences import email_failing_since, email_wanted, patient_language

# Patient subjects are translated into the patient's language; clinic ones stay English.
SUBJECTS = {
    ReminderKind.DOSE: gettext_lazy("Time for your {time} medication dose"),
    ReminderKind.DOSE_CHANGE: gettext_lazy("Your medication dose changes tomorrow"),
    ReminderKind.LAST_DOSE: gettext_lazy("Tomorrow is the last day of your medication plan"),
    ReminderKind.PLAN_REVISED: gettext_lazy("Your medication plan has changed"),
    ReminderKind.PLAN_REPLACED: gettext_lazy("Your new medication plan starts on {starts_on}"),
    ReminderKind.ZONE_CHANGED: gettext_lazy("Your dose times follow your new time zone"),
    ReminderKind.MISSED_DOSE: gettext_lazy("You missed your {time} dose: what to do now"),
    ReminderKind.REFILL: gettext_lazy("Pump refill due by {alarm_date}"),
    ReminderKind.CHECK_IN: gettext_lazy("How are you feeling? A short check-in"),
    ReminderKind.ABRUPT_STOP_ALERT: "Abrupt-stop risk: patient {patient_ref}",
    ReminderKind.CHANNEL_FAILING: "Reminders cannot reach patient {patient_ref}",
}


def _url(path: str) -> str:
    return settings.SITE_URL + path


def _clinic_emails(clinic_id: int) -> tuple[str, ...]:
    staff = StaffMember.objects.filter(
        clinic_id=clinic_id, user__groups__name=Role.CLINICIAN.value, user__is_active=True
    ).exclude(user__email="")
    return tuple(sorted(set(staff.values_list("user__email", flat=True))))


def _local(moment: dt.datetime, patient: Patient) -> dt.datetime:
    return moment.astimezone(ZoneInfo(patient.home_timezone))


def _context(row: Reminder) -> dict[str, Any]:
    patient = row.plan.patient
    context: dict[str, Any] = {
        "row": row,
        "patient": patient,
        "plan_id": row.plan_id,
        "detailed": patient.calendar_detailed_titles,
        "site_url": settings.SITE_URL,
        "patient_ref": f"#{patient.pk}",
        "plan_url": _url(reverse("plan", args=[row.plan_id])),
        **row.context,
    }
    dose = row.dose
    if dose is not None:
        context.update(
            dose=dose,
            time=f"{dose.local_time:%H:%M}",
            until=f"{_local(dose.catch_up_until, patient):%H:%M}",
        )
        if row.kind == ReminderKind.MISSED_DOSE:
            # The same advice as the "I missed a dose" page, at the moment it is sent:
            # it names the next dose not yet taken (reminders.missed).
            context["advice"] = missed_dose_advice(dose=dose, now=timezone.now()).text
        if row.kind == ReminderKind.DOSE:
            context["links"] = [
                (
                    _("I have taken it"),
                    _url(
                        reverse(
                            "action",
                            args=[actions.dose_link(dose.pk, "taken", dose.catch_up_until)],
                        )
                    ),
                ),
                (
                    _("I am skipping it"),
                    _url(
                        reverse(
                            "action",
                            args=[actions.dose_link(dose.pk, "skipped", dose.catch_up_until)],
                        )
                    ),
                ),
                (
                    _("I missed it — what now?"),
                    _url(
                        reverse(
                            "action",
                            args=[actions.dose_link(dose.pk, "missed", dose.catch_up_until)],
                        )
                    ),
                ),
            ]
    if row.kind == ReminderKind.CHECK_IN:
        context["links"] = [
            (
                _("Answer the check-in"),
                _url(reverse("action", args=[actions.check_in_link(row.plan_id, timezone.now())])),
            )
        ]
    if row.kind == ReminderKind.ZONE_CHANGED:
        context["dropped_text"] = ", ".join(row.context.get("dropped", []))
    if row.kind == ReminderKind.ABRUPT_STOP_ALERT:
        context["alert"] = AbruptStopAlert.objects.filter(pk=row.context.get("alert_id")).first()
    return context


def messages_for(row: Reminder) -> list[Message]:
    """The message for one row: a patient's in their own language, the clinic's and
    staff members' in English; the e-mail copy to a patient only if they want this kind
    by e-mail."""
    if row.recipient == Recipient.STAFF:
        return [_staff_message(row)]
    patient = row.plan.patient
    language = patient_language(patient) if row.recipient == Recipient.PATIENT else "en"
    with translation.override(language):
        return _messages_for(row)


def _staff_message(row: Reminder) -> Message:
    """A staff member's e-mail is the in-app notice written with the row (a review
    decision): the same subject and words."""
    notice = Notice.objects.select_related("user").filter(reminder=row).first()
    user = notice.user if notice is not None else None
    if notice is None or user is None or not user.is_active or not user.email:
        raise PermanentError("no notice, or no active staff member with an e-mail address")
    text = notice.body
    with translation.override("en"):
        html = render_to_string(
            "reminders/email/base.html",
            {"subject": notice.subject, "paragraphs": text.split("\n\n")},
        )
    return Message(
        subject=notice.subject, text=text, html=html, emails=(user.email,),
        user_id=user.pk, reminder_id=row.pk,
    )  # fmt: skip


def _messages_for(row: Reminder) -> list[Message]:
    context = _context(row)
    subject = str(SUBJECTS[ReminderKind(row.kind)]).format(
        **{key: value for key, value in context.items() if isinstance(value, str | int)}
    )
    text = render_to_string(f"reminders/email/{row.kind}.txt", context).strip() + "\n"
    html = render_to_string(
        "reminders/email/base.html",
        {**context, "subject": subject, "paragraphs": text.split("\n\n")},
    )
    patient = row.plan.patient
    if row.recipient == Recipient.CLINIC:
        return [
            Message(
                subject=subject,
                text=text,
                html=html,
                emails=_clinic_emails(patient.clinic_id),
                clinic_id=patient.clinic_id,
                reminder_id=row.pk,
            )
        ]
    emails = (patient.email,) if patient.email and not email_failing_since(patient) else ()
    if not emails and patient.user_id is None:
        raise PermanentError("no working e-mail address and no account to reach the patient")
    if emails and patient.user_id is not None and not email_wanted(patient, row.kind):
        emails = ()  # the patient turned this kind off; the in-app notice is still stored
    return [
        Message(
            subject=subject,
            text=text,
            html=html,
            emails=emails,
            user_id=patient.user_id,
            reminder_id=row.pk,
        )
    ]
