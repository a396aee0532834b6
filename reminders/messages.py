"""What each reminder says, to whom. Plain words; for dose reminders the drug and dose
appear only if the patient chose detailed titles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from planner.clinic_phones import clinic_phones_text
from planner.display import full_date, long_day
from planner.links import url_path
from planner.medicines import drug_label
from planner.models import Patient, StaffMember
from planner.patient_words import revision_change_text
from planner.roles import Role
from reminders import actions, caregivers
from reminders.amounts import dose_amount
from reminders.channels import Message, PermanentError, PushTarget
from reminders.mime import html_paragraphs
from reminders.missed import missed_dose_advice
from reminders.models import AbruptStopAlert, Dose, Notice, Recipient, Reminder, ReminderKind
from reminders.preferences import email_failing_since, email_wanted, patient_language

# Patient subjects are translated into the patient's language; clinic ones stay English.
SUBJECTS = {
    ReminderKind.DOSE: gettext_lazy("Time for your {time} medication dose"),
    ReminderKind.DOSE_FOLLOW_UP: gettext_lazy(
        "Still time to take your {time} dose, until {until}"
    ),
    ReminderKind.DOSE_CHANGE: gettext_lazy("Your medication dose changes tomorrow"),
    ReminderKind.LAST_DOSE: gettext_lazy("Tomorrow is the last day of your medication plan"),
    ReminderKind.PLAN_REVISED: gettext_lazy("Your medication plan has changed"),
    ReminderKind.PLAN_REPLACED: gettext_lazy("Your new medication plan starts on {starts_on}"),
    ReminderKind.ZONE_CHANGED: gettext_lazy("Your dose times follow your new time zone"),
    ReminderKind.MISSED_DOSE: gettext_lazy("You missed your {time} dose: what to do now"),
    ReminderKind.REFILL: gettext_lazy("Pump refill due by {alarm_date}"),
    ReminderKind.CHECK_IN: gettext_lazy("How are you feeling? A short check-in"),
    ReminderKind.SUPPLY: gettext_lazy("Collect more of your medicine before {runs_out}"),
    ReminderKind.ABRUPT_STOP_ALERT: "Abrupt-stop alert needs attention: patient {patient_ref}",
    ReminderKind.CHANNEL_FAILING: "Reminders cannot reach patient {patient_ref}",
}


# What a caregiver is told (reminders.caregivers): no drug, no dose, no action link.
CAREGIVER_SUBJECTS = {
    ReminderKind.MISSED_DOSE: gettext_lazy("{who} has not confirmed a dose"),
    ReminderKind.ABRUPT_STOP_ALERT: gettext_lazy("{who} may need your help today"),
}


# The attribute reminders.dispatch puts the patient's push subscriptions in.
PUSH_SUBSCRIPTIONS_LOADED = "push_subscriptions_loaded"


def _url(path: str) -> str:
    return settings.SITE_URL + path


def _html_part(context: dict[str, Any], text: str) -> Callable[[], str]:
    """The e-mail's HTML part (templates/reminders/email/base.html): the text's
    paragraphs (html_paragraphs) and the context's links as buttons, rendered when an
    e-mail is sent, in the language active now (the patient's, or English for the clinic
    and staff): a reminder that goes out only by push, text or in-app never renders it,
    and its cost falls on the e-mail channel (issue #17, delivery cost)."""
    language = translation.get_language()

    def render() -> str:
        before, after = html_paragraphs(text, context.get("links", ()))
        with translation.override(language):
            return render_to_string(
                "reminders/email/base.html",
                {**context, "paragraphs": before, "paragraphs_after": after},
            )

    return render


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
        "clinic": patient.clinic,  # its numbers are tel: links in the HTML part
        "plan_id": row.plan_id,
        "detailed": patient.calendar_detailed_titles,
        # The plan's drug, for the texts that name it in detailed mode only (a patient
        # may taper two drugs at once; by default no text names a drug).
        "medicine": drug_label(row.plan.drug),
        "site_url": settings.SITE_URL,
        "patient_ref": f"#{patient.pk}",
        "plan_url": _url(url_path("plan", row.plan_id)),
        # "Call your clinic: +1 555 0100 (tel:+15550100)…" for every patient message.
        "clinic_call": clinic_phones_text(patient.clinic),
        **row.context,
    }
    dose = row.dose
    if dose is not None:
        amount = dose_amount(dose)
        context.update(
            dose=dose,
            time=f"{dose.local_time:%H:%M}",
            until=f"{_local(dose.catch_up_until, patient):%H:%M}",
            # What to take, the same words on every channel, Today and the action page.
            amount=amount.text(detailed=patient.calendar_detailed_titles),
            amount_changed=amount.changed_today,
        )
        if row.kind == ReminderKind.MISSED_DOSE:
            # The same advice as the "I missed a dose" page, at the moment it is sent:
            # it names the next dose not yet taken (reminders.missed).
            context["advice"] = missed_dose_advice(dose=dose, now=timezone.now()).text
        if row.kind in (ReminderKind.DOSE, ReminderKind.DOSE_FOLLOW_UP):
            context["links"] = dose_links(dose)
    if row.kind == ReminderKind.CHECK_IN:
        context["links"] = [
            (
                _("Answer the check-in"),
                _url(url_path("action", actions.check_in_link(row.plan_id, timezone.now()))),
            )
        ]
    if row.kind == ReminderKind.SUPPLY:
        # A date only: which medicine and how much is on My plan (PHI-minimal).
        context["runs_out"] = long_day(row.context["runs_out_on"])
        context["my_plan_url"] = _url(url_path("patient_plan"))
    if row.kind == ReminderKind.PLAN_REPLACED:
        # Dates in the patient's words and language, as on Today ("lunes 8 de marzo").
        for key in ("starts_on", "last_day"):
            if row.context.get(key):
                context[key] = long_day(row.context[key])
    if row.kind == ReminderKind.PLAN_REVISED:
        if row.context.get("effective_from"):
            context["effective_from"] = full_date(row.context["effective_from"])
        # The change in the patient's language, from the code and numbers stored with the
        # row (planner.patient_words); a row stored before them keeps its English words.
        context["change"] = revision_change_text(row.context) or row.context.get("change", "")
    if row.kind == ReminderKind.ZONE_CHANGED:
        context["dropped_text"] = ", ".join(row.context.get("dropped", []))
    if row.kind == ReminderKind.ABRUPT_STOP_ALERT:
        # The e-mail names no drug, class, dose or symptom (PHI-minimal): only a link to
        # the alert's page, which shows what happened and the withdrawal risk.
        alert = AbruptStopAlert.objects.filter(pk=row.context.get("alert_id")).first()
        context["alert"] = alert
        context["alert_url"] = (
            _url(reverse("alert", args=[alert.pk])) if alert is not None else context["plan_url"]
        )
    return context


def dose_links(dose: Dose) -> list[tuple[str, str]]:
    """The signed links of a dose's reminders (the first and the follow-up): answer it,
    get help, or be reminded again later (the action page offers the snoozes the
    dose still allows)."""
    labels = [
        ("taken", _("I have taken it")),
        ("skipped", _("I am skipping it")),
        ("missed", _("I missed it — what now?")),
        ("snooze", _("Remind me later")),
    ]
    return [
        (label, _url(url_path("action", actions.dose_link(dose.pk, action,
                                                          dose.catch_up_until))))
        for action, label in labels
    ]


def messages_for(row: Reminder) -> list[Message]:
    """The message for one row: a patient's in their own language, the clinic's and
    staff members' in English; the e-mail copy to a patient only if they want this kind
    by e-mail."""
    if row.recipient == Recipient.STAFF:
        return [_staff_message(row)]
    patient = row.plan.patient
    if row.recipient == Recipient.CAREGIVER:
        with translation.override(patient_language(patient)):
            return [_caregiver_message(row)]
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
        html = _html_part({"subject": notice.subject}, text)
    return Message(
        subject=notice.subject, text=text, html=html, emails=(user.email,),
        user_id=user.pk, reminder_id=row.pk,
    )  # fmt: skip


def _caregiver_message(row: Reminder) -> Message:
    """A missed dose or an abrupt-stop alert, told to a confirmed caregiver by e-mail or
    text: the patient's first name only if they chose so, the dose's time, the clinic's
    numbers; never the drug, the dose or a link that acts on the plan."""
    caregiver = caregivers.caregiver_still_told(row)
    if caregiver is None:
        raise PermanentError("the caregiver is no longer told")
    clinic = caregiver.patient.clinic
    context = {
        "caregiver": caregiver,
        "who": caregivers.caregiver_who(caregiver),
        "time": row.context.get("time", ""),
        "clinic": clinic,
        "by_text": not caregiver.email,
    }
    subject = str(CAREGIVER_SUBJECTS[ReminderKind(row.kind)]).format(who=context["who"])
    text = render_to_string(f"reminders/email/caregiver_{row.kind}.txt", context).strip() + "\n"
    html = _html_part({"subject": subject, "clinic": clinic}, text)
    sms_to = ""
    if caregiver.phone and settings.SMS_PROVIDER and caregiver.opted_out_at is None:
        sms_to = caregiver.phone
    emails = (caregiver.email,) if caregiver.email else ()
    if not emails and not sms_to:
        raise PermanentError("no way to reach the caregiver (texts off, or STOP)")
    return Message(
        subject=subject,
        text=text,
        html=html,
        emails=emails,
        reminder_id=row.pk,
        # A text says it all: it is short, and it has no link to leave out.
        short_text=" ".join(text.split()),
        sms_to=sms_to,
    )


# Kinds whose opening paragraph can name an amount even in plain text (a revision's
# "change"): push and SMS leave it out unless the patient chose detailed text.
OPENING_MAY_NAME_DOSES = frozenset({ReminderKind.PLAN_REVISED})


def short_text(row: Reminder, text: str, *, detailed: bool) -> str:
    """The push and SMS wording: the e-mail's own opening and closing paragraphs (the
    same template and context, so whatever the e-mail says first and its "call your
    clinic" reach every channel), without the lines that carry links (a text has no
    buttons; a notification shows them as actions)."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        words = " ".join(
            " ".join(line.split()) for line in paragraph.splitlines() if "://" not in line
        ).strip()
        if words:
            # "Check your plan:" lost its address: it ends the sentence instead.
            paragraphs.append(words[:-1] + "." if words.endswith(":") else words)
    if not paragraphs:
        return ""
    opening, closing = paragraphs[0], paragraphs[-1]
    if row.kind in OPENING_MAY_NAME_DOSES and not detailed:
        return closing if len(paragraphs) > 1 else ""
    return opening if closing == opening else f"{opening} {closing}"


def _patient_channels(patient: Patient) -> dict[str, Any]:
    """Where push and SMS go, from the rows the delivery loaded with the patient
    (reminders.dispatch._start_delivery prefetches them); nowhere while the channel is
    not configured (keys or provider removed), so nothing fails for want of it."""
    targets: tuple[PushTarget, ...] = ()
    if settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY:
        # A plain list the delivery attached (cheaper than a prefetch cache per patient);
        # read from the database when the message is made elsewhere.
        subscriptions = getattr(patient, PUSH_SUBSCRIPTIONS_LOADED, None)
        if subscriptions is None:
            subscriptions = list(patient.push_subscriptions.all())
        targets = tuple(
            PushTarget(row.pk, row.endpoint, row.p256dh, row.auth) for row in subscriptions
        )
    number = None
    if settings.SMS_PROVIDER:
        try:
            number = patient.sms_number
        except ObjectDoesNotExist:
            number = None
    return {
        "push_targets": targets,
        "sms_to": number.phone if number is not None and number.textable else "",
    }


def _messages_for(row: Reminder) -> list[Message]:
    context = _context(row)
    subject = str(SUBJECTS[ReminderKind(row.kind)]).format(
        **{key: value for key, value in context.items() if isinstance(value, str | int)}
    )
    text = render_to_string(f"reminders/email/{row.kind}.txt", context).strip() + "\n"
    html = _html_part({**context, "subject": subject}, text)
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
    channels = _patient_channels(patient)
    reaches_phone = bool(channels["push_targets"] or channels["sms_to"])
    return [
        Message(
            subject=subject,
            text=text,
            html=html,
            emails=emails,
            user_id=patient.user_id,
            reminder_id=row.pk,
            short_text=_lock_screen_text(row, context, text) if reaches_phone else "",
            links=tuple(context.get("links", ())),
            open_url=_url(url_path("patient_today")),
            **channels,
        )
    ]


def _lock_screen_text(row: Reminder, context: dict[str, Any], text: str) -> str:
    """The push and SMS wording (short_text) of the e-mail. A plain e-mail may say the
    amount to take ("amount" in the context); a lock screen or a text does not name a
    dose unless the patient chose detailed text: the same template is rendered again
    with the plan standing in for the amount."""
    if not context["detailed"] and "amount" in context:
        plain = {**context, "amount": _("the amount in your plan")}
        text = render_to_string(f"reminders/email/{row.kind}.txt", plain)
    return short_text(row, text, detailed=context["detailed"])
