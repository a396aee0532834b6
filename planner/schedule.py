"""The approved schedule: a stored revision's engine output, read back as it was approved.

What the reviewer approved is what the patient gets. Doses, reminders and refill checks
are written from the revision's stored ``engine_output``; nothing downstream re-runs the
engine, so neither a new protocol version nor a new engine release changes a running
plan. A home-zone change keeps each dose's wall-clock time (08:00 stays 08:00) with
``zoneinfo``; it re-plans nothing.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import taper
from planner.continuity import same_wall_clock

if TYPE_CHECKING:
    from planner.models import PlanRevision

# How far ahead the open-ended maintenance doses of a reduce-to-target plan are written
# (the dispatcher tops them up every tick). Operational, not clinical: reminders need
# rows, and two weeks covers any outage of the dispatcher the health checks would miss.
MAINTENANCE_DAYS_AHEAD = 14


@dataclass(frozen=True)
class ApprovedDose:
    """One dose of the approved schedule, in the zone it was asked for."""

    local_date: dt.date
    local_time: dt.time
    timezone: str
    at: dt.datetime
    catch_up_until: dt.datetime
    amount_mg: Decimal
    step_index: int
    units_text: str
    role: str


@dataclass(frozen=True)
class ApprovedStep:
    start_date: dt.date
    end_date: dt.date
    daily_total_mg: Decimal


@dataclass(frozen=True)
class ApprovedRefill:
    filled_on: dt.date
    alarm_date: dt.date
    empty_date: dt.date
    reminder_dates: tuple[dt.date, ...]
    # Plans approved before issue 21 stored no due date: it was the alarm date.
    due_date: dt.date
    daily_dose_mcg: Decimal | None = None
    volume_ml: Decimal | None = None
    concentration_mcg_per_ml: Decimal | None = None

    @classmethod
    def of(cls, refill: taper.RefillDue) -> ApprovedRefill:
        return cls(
            filled_on=refill.filled_on,
            alarm_date=refill.alarm_date,
            empty_date=refill.empty_date,
            reminder_dates=refill.reminder_dates,
            due_date=refill.due_date,
            daily_dose_mcg=refill.daily_dose_mcg,
            volume_ml=refill.volume_ml,
            concentration_mcg_per_ml=refill.concentration_mcg_per_ml,
        )


@dataclass(frozen=True)
class ApprovedVisit:
    """A pump wean visit: the pump is reprogrammed to this daily dose and, when
    `refilled`, refilled with `refill_volume_ml`."""

    visit_date: dt.date
    daily_dose_mcg: Decimal
    refilled: bool = False
    refill_volume_ml: Decimal | None = None


def _optional_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


class ApprovedPlan:
    """A stored revision's schedule, with clock times in ``zone`` (the patient's home
    zone now, which may differ from the zone the revision was planned in)."""

    def __init__(self, engine_output: dict[str, Any], zone: str) -> None:
        self.output = engine_output
        self.zone = zone
        self.planned_zone: str = engine_output["timezone"]
        self.start_date = _date(engine_output["start_date"])
        self.end_date = _date(engine_output["end_date"])
        self.steps = tuple(
            ApprovedStep(
                start_date=_date(step["start_date"]),
                end_date=_date(step["end_date"]),
                daily_total_mg=Decimal(str(step["daily_total_mg"])),
            )
            for step in engine_output.get("steps") or []
        )
        self.refills = tuple(
            ApprovedRefill(
                filled_on=_date(refill["filled_on"]),
                alarm_date=_date(refill["alarm_date"]),
                empty_date=_date(refill["empty_date"]),
                reminder_dates=tuple(_date(day) for day in refill["reminder_dates"]),
                due_date=_date(refill.get("due_date") or refill["alarm_date"]),
                daily_dose_mcg=_optional_decimal(refill.get("daily_dose_mcg")),
                volume_ml=_optional_decimal(refill.get("volume_ml")),
                concentration_mcg_per_ml=_optional_decimal(refill.get("concentration_mcg_per_ml")),
            )
            for refill in engine_output.get("refills") or []
        )
        pump = engine_output.get("pump") or {}
        self.wean_steps = tuple(
            ApprovedVisit(
                visit_date=_date(step["visit_date"]),
                daily_dose_mcg=Decimal(str(step["daily_dose_mcg"])),
                # Before issue 21 every wean visit refilled the full reservoir: that is
                # what plans stored then were approved with.
                refilled=step.get("refilled", True),
                refill_volume_ml=_optional_decimal(
                    step["refill_volume_ml"]
                    if "refilled" in step
                    else pump.get("reservoir_ml")
                ),
            )
            for step in engine_output.get("wean_steps") or []
        )

    @classmethod
    def of(cls, revision: PlanRevision, zone: str) -> ApprovedPlan:
        return cls(revision.engine_output, zone)

    @classmethod
    def of_engine_plan(cls, plan: taper.TaperPlan) -> ApprovedPlan:
        """A plan the engine just made (the CLI, a preview) read as if it were stored."""
        return cls(taper.plan_to_json(plan), plan.request.timezone)

    @property
    def stopping(self) -> bool:
        """Whether the plan ends with no dose (a discontinuation), not at a target."""
        return not self.has_maintenance

    def units_text(self, step_index: int, time: dt.time) -> str:
        """What the patient takes at ``time`` in the step: "1 × 10 mg + ½ × 5 mg"."""
        steps = self.output.get("steps") or []
        if not 0 <= step_index < len(steps):
            return ""
        wanted = f"{time:%H:%M}"
        return next(
            (dose["units_text"] for dose in steps[step_index]["doses"] if dose["time"] == wanted),
            "",
        )

    def dose_units(self, day: dt.date, time: dt.time) -> tuple[dict[str, Any], ...]:
        """What the patient takes at ``time`` on ``day`` as approved: the stored units of
        the step in force that day (the maintenance dose after the last step), each
        ``{"strength_mg", "count"}`` for tablets or ``{"volume_ml"}`` for a liquid."""
        wanted = f"{time:%H:%M}"
        doses: list[dict[str, Any]] = []
        for step in self.output.get("steps") or []:
            if _date(step["start_date"]) <= day <= _date(step["end_date"]):
                doses = step["doses"]
                break
        else:
            if day > self.end_date:
                doses = (self.output.get("maintenance") or {}).get("doses", [])
        return next(
            (tuple(dose.get("units") or ()) for dose in doses if dose["time"] == wanted), ()
        )

    def what_to_take(self, day: dt.date, time: dt.time) -> dict[str, Any]:
        """What a dose of the dose log stores of the approved plan (Dose.what_to_take):
        the product, the units at ``time`` on ``day`` and whether the dose changes then.
        The amount in words is composed from it (reminders.amounts)."""
        return {
            "product": self.output["product"],
            "units": list(self.dose_units(day, time)),
            "changes_today": self.step_starts_on(day),
        }

    def step_starts_on(self, day: dt.date) -> bool:
        """Whether the dose changes on ``day``: a step of the approved plan starts then
        (the first step changes from the regimen the patient was on)."""
        return any(step.start_date == day for step in self.steps)

    @property
    def drug(self) -> str:
        """The drug's name as the catalogue gives it ("baclofen")."""
        product = taper.load_catalogue().product(self.output["product"])
        return product.drug if product is not None else ""

    @property
    def maintenance_doses(self) -> list[tuple[dt.time, Decimal, str]]:
        """A reduce-to-target plan's daily doses after its last step: time, amount, units."""
        maintenance = self.output.get("maintenance") or {}
        return [
            (
                dt.time.fromisoformat(dose["time"]),
                Decimal(str(dose["amount_mg"])),
                dose.get("units_text", ""),
            )
            for dose in maintenance.get("doses", [])
        ]

    def _moved(self, moment: dt.datetime) -> dt.datetime:
        if self.zone == self.planned_zone:
            return moment
        return same_wall_clock(moment, self.planned_zone, self.zone)

    @property
    def has_maintenance(self) -> bool:
        return bool(self.output.get("maintenance"))

    def doses_through(self, last_day: dt.date) -> list[ApprovedDose]:
        """The approved doses up to ``last_day``: the taper's, then, for a reduce-to-target
        plan, the maintenance dose every day after the last step (its catch-up windows
        are the last step's, which is at the same target)."""
        doses = [dose for dose in self.doses if dose.local_date <= last_day]
        maintenance = self.output.get("maintenance")
        if not maintenance or not self.output.get("steps"):
            return doses
        last_step = self.output["steps"][-1]
        windows = {entry["time"]: entry for entry in last_step.get("missed_dose", [])}
        day = self.end_date + dt.timedelta(days=1)
        while day <= last_day:
            for dose in maintenance["doses"]:
                local_time = dt.time.fromisoformat(dose["time"])
                window = windows[dose["time"]]
                until_day = day + dt.timedelta(days=1 if window["take_until_next_day"] else 0)
                zone = ZoneInfo(self.zone)
                doses.append(
                    ApprovedDose(
                        local_date=day,
                        local_time=local_time,
                        timezone=self.zone,
                        at=dt.datetime.combine(day, local_time, tzinfo=zone),
                        catch_up_until=dt.datetime.combine(
                            until_day, dt.time.fromisoformat(window["take_until"]), tzinfo=zone
                        ),
                        amount_mg=Decimal(str(dose["amount_mg"])),
                        step_index=len(self.output["steps"]) - 1,
                        units_text=dose.get("units_text", ""),
                        role=dose.get("role", ""),
                    )
                )
            day += dt.timedelta(days=1)
        return doses

    @property
    def doses(self) -> list[ApprovedDose]:
        slots = {
            (index, dose["time"]): dose
            for index, step in enumerate(self.output.get("steps") or [])
            for dose in step["doses"]
        }
        doses = []
        for event in self.output.get("dose_events") or []:
            slot = slots.get((event["step"], event["time"]), {})
            doses.append(
                ApprovedDose(
                    local_date=_date(event["date"]),
                    local_time=dt.time.fromisoformat(event["time"]),
                    timezone=self.zone,
                    at=self._moved(dt.datetime.fromisoformat(event["at"])),
                    catch_up_until=self._moved(dt.datetime.fromisoformat(event["catch_up_until"])),
                    amount_mg=Decimal(str(event["amount_mg"])),
                    step_index=event["step"],
                    units_text=slot.get("units_text", ""),
                    role=slot.get("role", event.get("role", "")),
                )
            )
        return doses

    @property
    def pump(self) -> taper.pump.PumpSettings | None:
        """The pump record as approved (settings and wean visits), for the refill
        arithmetic of taper.pump; None for an oral plan."""
        pump = self.output.get("pump")
        if pump is None:
            return None
        return taper.pump.PumpSettings(
            concentration_mcg_per_ml=Decimal(str(pump["concentration_mcg_per_ml"])),
            daily_dose_mcg=Decimal(str(pump["daily_dose_mcg"])),
            reservoir_ml=Decimal(str(pump["reservoir_ml"])),
            alarm_volume_ml=Decimal(str(pump["alarm_volume_ml"])),
            last_refill_date=_date(pump["last_refill_date"]),
            wean_steps=tuple(
                taper.pump.WeanStep(
                    visit_date=visit.visit_date,
                    daily_dose_mcg=visit.daily_dose_mcg,
                    refilled=visit.refilled,
                    refill_volume_ml=visit.refill_volume_ml,
                )
                for visit in self.wean_steps
            ),
        )

    @property
    def check_in_every_days(self) -> int:
        """The protocol's check-in interval, from the protocol version the plan records."""
        return recorded_protocol(self.output).check_in_interval_days.value

    @property
    def max_refill_interval_days(self) -> int | None:
        protocol = recorded_protocol(self.output)
        if isinstance(protocol, taper.IntrathecalProtocol):
            return taper.refill_interval_days(protocol)
        return None

    def refills_from(self, fills: tuple[taper.pump.Fill, ...]) -> tuple[ApprovedRefill, ...]:
        """The refills still to come after the fills recorded since approval (each with a
        date, a volume and a concentration): the approved pump settings and wean visits,
        the arithmetic of taper.pump, and the reminder days and maximum interval of the
        protocol version the plan was approved under. Nothing else is re-planned."""
        pump = self.pump
        protocol = recorded_protocol(self.output)
        if pump is None or not fills or not isinstance(protocol, taper.IntrathecalProtocol):
            return self.refills
        return tuple(
            ApprovedRefill.of(refill)
            for refill in taper.pump.refill_schedule(
                pump,
                start_date=self.start_date,
                reminder_days_before=protocol.refill_reminder_days_before.value,
                fills=fills,
                max_interval_days=taper.refill_interval_days(protocol),
            )
        )

    def with_refills(self, refills: tuple[ApprovedRefill, ...]) -> ApprovedPlan:
        """The same approved plan with its refill cycles as they stand after recorded refills."""
        moved = copy.copy(self)
        moved.refills = refills
        return moved


def recorded_protocol(output: dict[str, Any]) -> taper.Protocol:
    """The protocol, in the version a stored engine output records (old versions stay
    loadable), that its plan's clinical thresholds are read from."""
    catalogue = taper.load_catalogue()
    product = catalogue.product(output["product"])
    assert product is not None
    return catalogue.protocol_for(product, output["protocol"]["version"])


@dataclass(frozen=True, slots=True)
class Escalation:
    """When missed doses raise an abrupt-stop alert, from the plan's own protocol
    (escalation_missed_doses, escalation_hours_without_dose): not copied as constants."""

    missed_doses_in_a_row: int
    without_confirmed_dose: dt.timedelta


def escalation_of(output: dict[str, Any]) -> Escalation | None:
    """The plan's escalation thresholds, or None for a protocol that sets none (the
    pump's: its plans have no doses to miss)."""
    found = recorded_protocol(output)
    if not isinstance(found, taper.OralProtocol):
        return None
    return Escalation(
        missed_doses_in_a_row=found.escalation_missed_doses.value,
        without_confirmed_dose=dt.timedelta(hours=found.escalation_hours_without_dose.value),
    )


def longest_wait_without_dose() -> dt.timedelta:
    """The longest escalation_hours_without_dose of any protocol version on disk: the
    window a sweep must look back over before each plan's own threshold is applied."""
    return max(
        (
            dt.timedelta(hours=protocol.escalation_hours_without_dose.value)
            for protocol in taper.load_catalogue().protocols
            if isinstance(protocol, taper.OralProtocol)
        ),
        default=dt.timedelta(0),
    )
