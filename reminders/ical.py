"""iCalendar rendering of taper plans: the download, the subscription feed and the
`taper_plan --format ics` output all come from here.

The calendar shows; the reminders remind (DESIGN.md). Event text is PHI-minimal by
default: no drug, no dose, just "Medication dose" and a link to the patient's page (and,
for a patient on tapers of two medicines, the plan's number: "Medication dose (plan 12)").
UIDs come from the plan and the dose slot, so a revision updates events in place;
SEQUENCE counts the changes of each event and DTSTAMP is the time of its last change,
so repeated requests give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from icalendar import Alarm, Calendar, Event, Timezone, vDuration

import taper
from planner.display import full_date, mg
from planner.medicines import drug_label
from planner.schedule import ApprovedDose, ApprovedPlan
from reminders.amounts import approved_dose_amount

PRODID = "-//Taper Planner//taper-planner//EN"
UID_DOMAIN = "taper-planner"
DOSE_MINUTES = 15
# Clients that honour these poll the feed every few hours; Google ignores them, which is
# why reminders never rely on the calendar alone.
REFRESH_INTERVAL = dt.timedelta(hours=4)
DAYS_AHEAD_ALARM = dt.timedelta(days=2)
DISCLAIMER = gettext_lazy(
    "The planner supports your clinicians; it does not replace their advice."
)


@dataclass(frozen=True, slots=True)
class PlanVersion:
    """One revision of a plan, as approved and stored (or as the engine just made it, for
    the CLI), and when it was made."""

    changed_at: dt.datetime
    plan: ApprovedPlan | taper.TaperPlan


@dataclass(frozen=True, slots=True)
class CalendarPlan:
    key: str  # stable per plan, e.g. "plan-12"
    versions: tuple[PlanVersion, ...]  # oldest first; the last is in force
    # The plan's number as the clinic and the patient's My plan page call it ("plan 12"):
    # PHI-minimal titles carry it when the calendar holds plans of more than one medicine.
    number: int | None = None
    # When the plan came into the calendar (approved or activated; its first version's
    # time if not given): from then on the other plans' titles carry their numbers.
    shown_since: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    detailed_titles: bool = False
    link: str = ""
    name: str = ""  # "" is "Medication plan" in the language of the rendering
    # Changing the privacy choice rewrites every event: it counts as a change.
    changed_at: dt.datetime | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    uid: str
    kind: str
    start: dt.datetime | dt.date
    content: tuple[object, ...]  # the clinical facts the text is made from
    summary: str  # PHI-minimal, or naming the drug and dose (detailed titles)
    description: str
    alarm_before: dt.timedelta | None
    # A dose repeated daily at the same time: one event with an RRULE; 0 repeats daily
    # with no end (a maintenance dose).
    count: int = 1


def _dose_series(events: Iterable[ApprovedDose], zone: ZoneInfo) -> list[list[ApprovedDose]]:
    """Runs of consecutive days on which a dose time has the same dose and the same
    catch-up rule. Each run is one recurring event, so a 12-week plan is dozens of
    events rather than hundreds, and the wall-clock time survives daylight saving
    because the recurrence is expanded in the patient's zone."""
    by_slot: dict[dt.time, list[ApprovedDose]] = {}
    for event in events:
        by_slot.setdefault(event.local_time, []).append(event)
    one_day = dt.timedelta(days=1)
    runs: list[list[ApprovedDose]] = []
    for slot_events in by_slot.values():
        slot_events.sort(key=lambda e: e.local_date)
        run: list[ApprovedDose] = []
        # Each dose's rule is worked out once (a year-long plan has hundreds of doses).
        run_rule: tuple[dt.time, int] | None = None
        for event in slot_events:
            rule = _rule(event, zone)
            if run and (
                event.local_date - run[-1].local_date != one_day
                or event.amount_mg != run[-1].amount_mg
                or rule != run_rule
            ):
                runs.append(run)
                run = []
            run.append(event)
            run_rule = rule
        if run:
            runs.append(run)
    return runs


def _rule(event: ApprovedDose, zone: ZoneInfo) -> tuple[dt.time, int]:
    until = event.catch_up_until.astimezone(zone)
    return until.time(), (until.date() - event.local_date).days


def _uid(key: str, *parts: str) -> str:
    return "-".join((key, *parts)) + f"@{UID_DOMAIN}"


def _mg(amount: Decimal) -> str:
    return mg(amount)


class _MissTexts:
    """The missed-dose advice of a plan's dose events, translated once per plan: a long
    plan has many events whose advice differs only in the time."""

    def __init__(self, open_app: str) -> None:
        self.open_app = open_app
        self.disclaimer = str(DISCLAIMER)
        self.texts: dict[tuple[str, bool], str] = {}

    def __call__(self, until: dt.datetime, next_day: bool) -> str:
        key = (f"{until:%H:%M}", next_day)
        text = self.texts.get(key)
        if text is None:
            text = self.texts[key] = _miss_text(until, next_day, self.open_app, self.disclaimer)
        return text


def _miss_text(until: dt.datetime, next_day: bool, open_app: str, disclaimer: str) -> str:
    if next_day:
        text = _(
            "If you miss this dose, take it as soon as you remember, up to %(until)s the "
            "next day. After that, skip it and take the next dose at its usual time. Never "
            "take two doses at once."
        )
    else:
        text = _(
            "If you miss this dose, take it as soon as you remember, up to %(until)s. After "
            "that, skip it and take the next dose at its usual time. Never take two doses "
            "at once."
        )
    return f"{text % {'until': f'{until:%H:%M}'}}{open_app}\n{disclaimer}"


def plan_entries(
    key: str, source: ApprovedPlan | taper.TaperPlan, link: str, *, detailed: bool = False
) -> list[Entry]:
    """Every calendar event of one plan, with a UID stable across revisions: from the
    approved, stored schedule (planner.schedule), never by planning again. Titles name
    the drug and dose only when ``detailed`` (the patient's choice)."""
    plan = source if isinstance(source, ApprovedPlan) else ApprovedPlan.of_engine_plan(source)
    entries: list[Entry] = []
    # Detailed titles name the plan's own drug (a patient may taper two at once); the
    # UIDs carry the plan's key, so two plans' events at the same time stay distinct.
    medicine = drug_label(plan.drug) if detailed else ""
    zone = ZoneInfo(plan.zone)
    open_app = " " + _("Open the app: %(link)s") % {"link": link} if link else ""
    miss_text = _MissTexts(open_app)
    dose_title = _("Medication dose")
    for series in _dose_series(plan.doses, zone):
        first = series[0]
        until = first.catch_up_until.astimezone(zone)
        next_day = until.date() != first.local_date
        units = plan.units_text(first.step_index, first.local_time)
        entries.append(
            Entry(
                uid=_uid(key, "dose", f"{first.local_time:%H%M}", first.local_date.isoformat()),
                kind="dose",
                start=dt.datetime.combine(first.local_date, first.local_time, tzinfo=zone),
                count=len(series),
                content=("dose", first.amount_mg, units, f"{until:%H:%M}", len(series)),
                summary=approved_dose_amount(
                    plan, first.local_date, first.local_time, first.amount_mg
                ).text(detailed=True)
                if detailed
                else dose_title,
                description=miss_text(until, next_day),
                alarm_before=dt.timedelta(0),
            )
        )
    # A reduce-to-target plan goes on at its target after the last step: one open-ended
    # daily event per dose time, until the clinic ends or replaces the plan.
    after = plan.end_date + dt.timedelta(days=1)
    # Only such a plan has doses after its end (reading every dose again for a plan that
    # stops would double the cost of a long plan's feed, issue #22).
    for dose in plan.doses_through(after) if plan.has_maintenance else ():
        if dose.local_date != after:
            continue
        until = dose.catch_up_until.astimezone(zone)
        entries.append(
            Entry(
                uid=_uid(key, "maintenance", f"{dose.local_time:%H%M}"),
                kind="dose",
                start=dt.datetime.combine(after, dose.local_time, tzinfo=zone),
                count=0,
                content=("maintenance", dose.amount_mg, dose.units_text, f"{until:%H:%M}"),
                summary=approved_dose_amount(
                    plan, dose.local_date, dose.local_time, dose.amount_mg
                ).text(detailed=True)
                if detailed
                else dose_title,
                description=miss_text(until, until.date() != after),
                alarm_before=dt.timedelta(0),
            )
        )
    change_title = _("Your dose changes tomorrow")
    change_text = _("Tomorrow your doses change. Check your plan.") + open_app
    for previous, step in zip(plan.steps, plan.steps[1:], strict=False):
        day_before = step.start_date - dt.timedelta(days=1)
        entries.append(
            Entry(
                uid=_uid(key, "change", step.start_date.isoformat()),
                kind="change",
                start=day_before,
                content=("change", previous.daily_total_mg, step.daily_total_mg),
                summary=capfirst(
                    _("%(medicine)s dose changes tomorrow: %(from)s → %(to)s mg a day")
                    % {
                        "medicine": medicine,
                        "from": _mg(previous.daily_total_mg),
                        "to": _mg(step.daily_total_mg),
                    }
                )
                if detailed
                else change_title,
                description=change_text,
                alarm_before=None,
            )
        )
    if plan.steps:
        final = plan.steps[-1]
        stopping = plan.stopping
        entries.append(
            Entry(
                uid=_uid(key, "last-dose"),
                kind="last",
                start=final.end_date,
                content=("last", final.end_date, stopping),
                summary=capfirst(
                    (
                        _("Last day of %(medicine)s taper")
                        if stopping
                        else _("%(medicine)s taper reaches target")
                    )
                    % {"medicine": medicine}
                )
                if detailed
                else (_("Last day of your plan") if stopping else _("Last step of your plan")),
                description=(
                    (
                        _(
                            "Today is the last day with doses. From tomorrow take none "
                            "unless your clinic says otherwise."
                        )
                        if stopping
                        else _("From today keep taking this dose until your clinic says otherwise.")
                    )
                    + open_app
                ),
                alarm_before=None,
            )
        )
    # Refills by their place in the plan (the next one, the one after): a recorded
    # refill moves the next refill's event, with a higher SEQUENCE, rather than adding one.
    for index, refill in enumerate(plan.refills, start=1):
        entries.append(
            Entry(
                uid=_uid(key, "refill", str(index)),
                kind="refill",
                start=refill.due_date,
                content=("refill", refill.due_date, refill.alarm_date, refill.empty_date),
                summary=_("Baclofen pump refill due") if detailed else _("Pump refill due"),
                description=_(
                    "Your pump must be refilled by today; it runs empty on %(day)s. A pump "
                    "that runs empty causes sudden withdrawal, which can be life-threatening: "
                    "call your clinic."
                )
                % {"day": full_date(refill.empty_date)}
                + open_app,
                alarm_before=dt.timedelta(days=7),
            )
        )
    for visit in plan.wean_steps:
        entries.append(
            Entry(
                uid=_uid(key, "visit", visit.visit_date.isoformat()),
                kind="visit",
                start=visit.visit_date,
                content=("visit", visit.visit_date, visit.daily_dose_mcg),
                summary=_("Pump visit: dose to %(mcg)s mcg/day")
                % {"mcg": _mg(visit.daily_dose_mcg)}
                if detailed
                else _("Clinic visit"),
                description=_("Clinic visit to adjust your pump.") + open_app,
                alarm_before=DAYS_AHEAD_ALARM,
            )
        )
    return entries


@dataclass(frozen=True, slots=True)
class _Versioned:
    entry: Entry
    sequence: int
    changed_at: dt.datetime


def _versioned_entries(plan: CalendarPlan, link: str, detailed: bool) -> list[_Versioned]:
    """The current entries, each with how often and when it last changed."""
    history: dict[str, tuple[tuple[object, ...], int, dt.datetime]] = {}
    current: list[Entry] = []
    for number, version in enumerate(plan.versions, start=1):
        # Earlier versions count only for their content: their titles are never shown.
        in_force = number == len(plan.versions)
        current = plan_entries(plan.key, version.plan, link, detailed=detailed and in_force)
        for entry in current:
            seen = history.get(entry.uid)
            if seen is None:
                history[entry.uid] = (entry.content, 0, version.changed_at)
            elif seen[0] != entry.content:
                history[entry.uid] = (entry.content, seen[1] + 1, version.changed_at)
    return [_Versioned(entry, history[entry.uid][1], history[entry.uid][2]) for entry in current]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def render_calendar(plans: Sequence[CalendarPlan], settings: CalendarSettings) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    name = settings.name or _("Medication plan")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    starts: list[dt.date] = []
    zones: set[str] = set()
    shared = _SharedValues()
    # Two tapers at once: PHI-minimal titles would be two "Medication dose" at the same
    # minute. Each then says its plan's number, the words My plan uses for it when the
    # patient has plans of more than one medicine (portal.selectors.PatientPlans.several);
    # with one medicine nothing changes. Detailed titles name the drug already.
    arrived: dict[str, dt.datetime] = {}  # when each medicine's first plan came in
    for plan in plans if len(plans) > 1 and not settings.detailed_titles else ():
        drug, shown = _drug(plan), _shown_since(plan)
        arrived[drug] = min(arrived.get(drug, shown), shown)
    labelled = not settings.detailed_titles and len(arrived) > 1
    label = _("%(title)s (plan %(number)s)") if labelled else ""
    # The titles gained the number when the second medicine came in: that counts as a
    # change of the events made before (SEQUENCE and DTSTAMP), as a new privacy choice
    # does.
    since = sorted(arrived.values())[1] if labelled else None
    for plan in plans:
        number = plan.key.removeprefix("plan-") if plan.number is None else plan.number
        # A plan that came in before the second medicine had its titles without the number.
        renamed = since is not None and _shown_since(plan) < since
        for item in _versioned_entries(plan, settings.link, settings.detailed_titles):
            summary, sequence, changed_at = item.entry.summary, item.sequence, item.changed_at
            if labelled:
                summary = label % {"title": summary, "number": number}
                if renamed and since is not None and changed_at < since:
                    sequence, changed_at = sequence + 1, since
            calendar.add_component(
                _event(item.entry, summary, sequence, changed_at, settings, shared)
            )
            start = item.entry.start
            if isinstance(start, dt.datetime):
                zones.add(str(start.tzinfo))
                start = start.date()
            starts.append(start)
    if starts:
        # One sub-component per transition over the plans' span: Mozilla's ical.js
        # (Thunderbird) ignores the long RDATE lists of an open-ended VTIMEZONE and
        # would show every dose an hour off in summer.
        first, last = min(starts) - dt.timedelta(days=7), max(starts) + dt.timedelta(days=400)
        for tzid in sorted(zones):
            calendar.add_component(_vtimezone(tzid, first, last))
    body: bytes = calendar.to_ical()
    return body


def _vtimezone(tzid: str, first: dt.date, last: dt.date) -> Timezone:
    """icalendar's VTIMEZONE for the span, with every RDATE turned into a sub-component
    of its own: ical.js misreads a sub-component that carries RDATEs."""
    timezone = Timezone.from_tzid(tzid, first_date=first, last_date=last)
    for sub in list(timezone.subcomponents):
        rdates = sub.pop("RDATE", None)
        if rdates is None:
            continue
        for rdate in rdates if isinstance(rdates, list) else [rdates]:
            for moment in rdate.dts:
                onset = sub.__class__()
                for name, value in sub.property_items(recursive=False):
                    if name not in {"BEGIN", "END", "DTSTART"}:
                        onset.add(name, value)
                onset.add("dtstart", moment.dt)
                timezone.add_component(onset)
    return timezone


class _SharedValues:
    """Property values that many events carry (the class, the link, a title, the advice
    for a catch-up time, DTSTAMP, SEQUENCE, a day count), and the alarms of a title,
    converted to icalendar's own types once per rendering and shared by those events: a
    year-long plan has over a hundred events and the conversion was a good part of
    rendering them (issue #22). Each value is made by icalendar's own ``add``, so the
    bytes are the library's; an event takes it as it is (``event["CLASS"] = value``, the
    component's dictionary interface), with nothing left to convert."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, object], Any] = {}
        self.alarms: dict[tuple[str, dt.timedelta], Alarm] = {}

    def __call__(self, name: str, value: object, same_as: object = None) -> Any:
        """``value`` as icalendar's type; ``same_as`` stands for a value that cannot be a
        dictionary key (a recurrence rule)."""
        key = (name, value if same_as is None else same_as)
        found = self.values.get(key)
        if found is None:
            holder = Event()
            holder.add(name, value)
            found = self.values[key] = holder[name]
        return found

    def alarm(self, title: str, before: dt.timedelta) -> Alarm:
        """The display alarm of every event with this title, ``before`` its start."""
        found = self.alarms.get((title, before))
        if found is None:
            found = self.alarms[(title, before)] = Alarm()
            found["ACTION"] = self("action", "DISPLAY")
            found["DESCRIPTION"] = self("description", title)
            found["TRIGGER"] = self("trigger", -before)
        return found


def _drug(plan: CalendarPlan) -> str:
    source = plan.versions[-1].plan
    if isinstance(source, ApprovedPlan):
        return source.drug
    return ApprovedPlan.of_engine_plan(source).drug


def _shown_since(plan: CalendarPlan) -> dt.datetime:
    return plan.shown_since or plan.versions[0].changed_at


def _event(
    entry: Entry,
    title: str,
    sequence: int,
    changed_at: dt.datetime,
    settings: CalendarSettings,
    shared: _SharedValues,
) -> Event:
    sequence += settings.version
    if settings.changed_at is not None and settings.changed_at > changed_at:
        changed_at = settings.changed_at
    event = Event()
    event.add("uid", entry.uid)
    event.add("dtstart", entry.start)
    event["DTSTAMP"] = shared("dtstamp", _utc(changed_at))
    event["SEQUENCE"] = shared("sequence", sequence)
    event["SUMMARY"] = shared("summary", title)
    event["DESCRIPTION"] = shared("description", entry.description)
    event["CLASS"] = shared("class", "PRIVATE")
    if settings.link:
        event["URL"] = shared("url", settings.link)
    if isinstance(entry.start, dt.datetime):
        event["DURATION"] = shared("duration", dt.timedelta(minutes=DOSE_MINUTES))
        if entry.count > 1:
            event["RRULE"] = shared("rrule", {"FREQ": "DAILY", "COUNT": entry.count}, entry.count)
        elif entry.count == 0:  # open-ended: the maintenance dose of a reduce-to-target plan
            event.add("rrule", {"FREQ": "DAILY"})
    else:
        event.add("dtend", entry.start + dt.timedelta(days=1))
    if entry.alarm_before is not None:
        event.add_component(shared.alarm(title, entry.alarm_before))
    return event


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def calendar_for_engine_plan(
    plan: taper.TaperPlan, *, key: str = "plan", changed_at: dt.datetime, detailed: bool = False
) -> bytes:
    """The calendar a patient would get for one plan, without any database."""
    return render_calendar(
        [CalendarPlan(key=key, versions=(PlanVersion(changed_at=changed_at, plan=plan),))],
        CalendarSettings(detailed_titles=detailed),
    )

