"""What to take, in words: "1½ tablets of 5 mg" or "7.5 mL", from the approved plan.

One composition for every place that tells the patient a dose (reminder messages on
every channel, the confirmation page behind a reminder's link, Today, the calendar's
detailed titles), so they never disagree. The tablets or volume come from the approved
revision's stored engine output (planner.schedule.ApprovedPlan), never re-planned. The
drug's name is added only where the patient chose detailed text (DESIGN.md: PHI-minimal
by default).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

import taper
from planner.display import mg
from planner.medicines import drug_label
from planner.schedule import ApprovedPlan
from reminders.models import Dose
from taper.rounding import count_text


@dataclass(frozen=True, slots=True)
class DoseAmount:
    units: tuple[dict[str, Any], ...]
    amount_mg: Decimal
    drug: str
    changed_today: bool
    form: str = "tablet"  # the product's: "tablet", "capsule", "liquid"

    def what(self) -> str:
        """ "1½ tablets of 5 mg", "1 tablet of 10 mg + ½ tablet of 5 mg", "7.5 mL",
        "3 capsules of 300 mg"; the mg amount when the approved plan stored no units (a
        plan made before units)."""
        return units_words(self.units, self.form) or f"{mg(self.amount_mg)} mg"

    def text(self, *, detailed: bool) -> str:
        """The amount for the patient: "1½ tablets of 5 mg (7.5 mg)"; with detailed text
        "1½ tablets of 5 mg (baclofen 7.5 mg)"."""
        what = self.what()
        amount = f"{mg(self.amount_mg)} mg"
        drug = drug_label(self.drug)
        if what == amount:
            return f"{drug} {amount}" if detailed and drug else amount
        if detailed and drug:
            return f"{what} ({drug} {amount})"
        return f"{what} ({amount})"


def units_words(units: Iterable[dict[str, Any]], form: str = "tablet") -> str:
    parts = []
    for unit in units:
        if "volume_ml" in unit:
            parts.append(_("%(volume)s mL") % {"volume": mg(Decimal(str(unit["volume_ml"])))})
            continue
        count = Decimal(str(unit["count"]))
        if form == "capsule":
            parts.append(
                ngettext(
                    "%(count)s capsule of %(strength)s mg",
                    "%(count)s capsules of %(strength)s mg",
                    1 if count <= 1 else 2,
                )
                % {"count": count_text(count),
                   "strength": mg(Decimal(str(unit["strength_mg"])))}
            )
            continue
        parts.append(
            ngettext(
                "%(count)s tablet of %(strength)s mg",
                "%(count)s tablets of %(strength)s mg",
                1 if count <= 1 else 2,  # ½ and 1 tablet, 1½ tablets
            )
            % {"count": count_text(count), "strength": mg(Decimal(str(unit["strength_mg"])))}
        )
    return " + ".join(parts)


def plan_dose_words(dose: dict[str, Any], product_id: str) -> str:
    """A dose of a plan's JSON (docs/plan-json.md) in words, in the active language: "1½
    tablets of 5 mg", "1½ comprimidos de 5 mg". The JSON's `units_text` ("1½ × 5 mg") is
    the engine's notation; the pages a patient reads (My plan, the handout) use this. A
    switch plan's dose names its own product (a diazepam tablet, not the clonazepam's)."""
    catalogue = taper.load_catalogue()
    product = catalogue.product(dose.get("product") or product_id)
    form = product.form if product is not None else "tablet"
    return units_words(dose.get("units") or [], form) or str(dose.get("units_text") or "")


def with_words(doses: Iterable[dict[str, Any]], product_id: str) -> list[dict[str, Any]]:
    """Each dose of a plan's JSON with its `words` (plan_dose_words)."""
    return [{**dose, "words": plan_dose_words(dose, product_id)} for dose in doses]


def dose_amount(dose: Dose, approved: ApprovedPlan | None = None) -> DoseAmount:
    """The amount of one dose of the dose log, as approved: from what the dose row
    stores (Dose.what_to_take), or, for a dose written before it stored it, from the
    revision that wrote it (pass ``approved`` when several doses of one revision are
    shown)."""
    if dose.what_to_take is not None:
        return stored_amount(dose.what_to_take, dose.amount_mg)
    if approved is None:
        approved = ApprovedPlan.of(dose.revision, dose.timezone)
    return approved_dose_amount(approved, dose.local_date, dose.local_time, dose.amount_mg)


def doses_amounts(doses: Iterable[Dose]) -> dict[int, DoseAmount]:
    """The amounts of several doses, reading each revision's stored output at most once
    (only doses written before Dose.what_to_take need it)."""
    plans: dict[tuple[int, str], ApprovedPlan] = {}
    amounts = {}
    for dose in doses:
        approved = None
        if dose.what_to_take is None:
            key = (dose.revision_id, dose.timezone)
            if key not in plans:
                plans[key] = ApprovedPlan.of(dose.revision, dose.timezone)
            approved = plans[key]
        amounts[dose.pk] = dose_amount(dose, approved)
    return amounts


def approved_dose_amount(approved: ApprovedPlan, day: dt.date, time: dt.time,
                         amount_mg: Decimal) -> DoseAmount:
    """The same for a dose of an approved schedule that is not in the dose log (the
    calendar, which renders every day of the plan)."""
    return stored_amount(approved.what_to_take(day, time), amount_mg)


def stored_amount(what_to_take: dict[str, Any], amount_mg: Decimal) -> DoseAmount:
    """The amount from ApprovedPlan.what_to_take (stored with each dose of the log)."""
    product = taper.load_catalogue().product(what_to_take["product"])
    return DoseAmount(
        units=tuple(what_to_take["units"]),
        amount_mg=amount_mg,
        drug=product.drug if product is not None else "",
        changed_today=what_to_take["changes_today"],
        form=product.form if product is not None else "tablet",
    )
