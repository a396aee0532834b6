"""Forms for clinicians. Validation of the regimen itself is the engine's: the form
builds the engine's input, asks `taper` to plan it and puts each refusal next to the
field it names."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

import taper
from planner import continuity, engine_input, plan_reads, zones
from planner.models import Clinic, CnsDepressant, Patient, Sex
from taper import limits
from taper.rounding import format_amount

# Wean visits one page can hold; the API takes up to the protocol's max_wean_steps (24).
WEAN_ROWS = engine_input.WEAN_FORM_ROWS
DOSE_ROWS = 4


class PlainDecimalField(forms.DecimalField):
    """A number typed as text, read one way only. A browser's number input dropped what
    it could not read (letters in a weight vanished) and a decimal comma could turn
    "2,5" into 25: the server now sees what was typed and refuses what it cannot read
    unambiguously, naming the field."""

    widget = forms.TextInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")
        self.widget.attrs.setdefault("autocomplete", "off")

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        name = self.label or "This number"
        if isinstance(value, str) and "," in value:
            raise forms.ValidationError(
                f"{name}: write decimals with a point, as in 2.5. A comma cannot be read "
                "safely (2,5 or 2,500?), so nothing was saved.",
                code="comma",
            )
        try:
            return super().to_python(value)
        except forms.ValidationError as error:
            if error.code == "invalid":
                raise forms.ValidationError(
                    f"{name}: enter a number in figures, such as 2.5.", code="invalid"
                ) from error
            raise


class PatientForm(forms.ModelForm[Patient]):
    cns_depressants = forms.MultipleChoiceField(
        choices=CnsDepressant.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Other CNS depressants",
    )

    class Meta:
        model = Patient
        fields = [
            "given_name",
            "family_name",
            "mrn",
            "date_of_birth",
            "sex",
            "email",
            "home_timezone",
            "weight_kg",
            "creatinine_clearance_ml_min",
            "serum_creatinine_mg_dl",
            "pregnancy_trimester",
            "breastfeeding",
            "seizure_history",
            "cns_depressants",
            "height_cm",
            "dialysis",
            "expected_delivery_date",
        ]
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}),
            "expected_delivery_date": forms.DateInput(attrs={"type": "date"}),
            "pregnancy_trimester": forms.Select(
                choices=[
                    (0, "Not pregnant"),
                    (1, "First trimester"),
                    (2, "Second trimester"),
                    (3, "Third trimester"),
                ]
            ),
        }
        field_classes = {
            "weight_kg": PlainDecimalField,
            "creatinine_clearance_ml_min": PlainDecimalField,
            "serum_creatinine_mg_dl": PlainDecimalField,
            "height_cm": PlainDecimalField,
        }
        labels = {
            "weight_kg": "Weight (kg)",
            "creatinine_clearance_ml_min": "Creatinine clearance (mL/min)",
            "serum_creatinine_mg_dl": "Serum creatinine (mg/dL)",
            "height_cm": "Height (cm)",
            "dialysis": "On dialysis",
            "expected_delivery_date": "Expected delivery date",
        }
        help_texts = {
            "creatinine_clearance_ml_min": "Enter CrCl, or serum creatinine to compute it "
            "(Cockcroft–Gault; under 18 the bedside Schwartz formula, which needs the "
            "height), not both.",
            "height_cm": "Needed with a serum creatinine under 18; in adults it lets "
            "Cockcroft–Gault use adjusted body weight.",
            "expected_delivery_date": "If pregnant: a taper that would end on or after it is "
            "flagged.",
        }

    def __init__(self, *args: Any, clinic: Clinic | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The MRN is unique within this clinic (the record's own, when editing).
        self.clinic = clinic if clinic is not None else getattr(self.instance, "clinic", None)
        # Real places only, by region, with friendly names (planner.zones).
        self.fields["home_timezone"] = forms.ChoiceField(
            label="Home time zone",
            choices=[("", "Choose the patient's home time zone"), *zones.zone_choices()],
        )
        self.fields["sex"] = forms.ChoiceField(label="Sex", choices=Sex.choices)

    def clean_mrn(self) -> str:
        mrn: str = self.cleaned_data.get("mrn", "").strip()
        if mrn and self.clinic is not None:
            others = Patient.objects.filter(clinic=self.clinic, mrn=mrn)
            if self.instance.pk is not None:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                raise forms.ValidationError("MRN: another patient of this clinic has this MRN.")
        return mrn

    def clean_date_of_birth(self) -> dt.date:
        born: dt.date = self.cleaned_data["date_of_birth"]
        if born > dt.date.today():
            raise forms.ValidationError("Date of birth cannot be in the future.")
        if born.year < 1900:
            raise forms.ValidationError("Date of birth must be after 1900.")
        return born

    # The engine's own ranges (taper.limits): a record the engine would refuse is
    # refused here, on the field, not later on the plan page.
    def _in_range(self, field: str, fact: limits.FactRange) -> Decimal | None:
        value: Decimal | None = self.cleaned_data.get(field)
        if value is not None and not fact.contains(value):
            raise forms.ValidationError(fact.message)
        return value

    def clean_weight_kg(self) -> Decimal | None:
        return self._in_range("weight_kg", limits.WEIGHT_KG)

    def clean_creatinine_clearance_ml_min(self) -> Decimal | None:
        return self._in_range("creatinine_clearance_ml_min", limits.CREATININE_CLEARANCE_ML_MIN)

    def clean_serum_creatinine_mg_dl(self) -> Decimal | None:
        return self._in_range("serum_creatinine_mg_dl", limits.SERUM_CREATININE_MG_DL)

    def clean_height_cm(self) -> Decimal | None:
        return self._in_range("height_cm", limits.HEIGHT_CM)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        born = cleaned.get("date_of_birth")
        age = engine_input.age_on(born, timezone.localdate()) if born else None
        for refusal in limits.pregnancy_refusals(
            trimester=cleaned.get("pregnancy_trimester"),
            sex=cleaned.get("sex"),
            age_years=Decimal(age) if age is not None else None,
        ):
            self.add_error("pregnancy_trimester", refusal)
        if (
            cleaned.get("creatinine_clearance_ml_min") is not None
            and cleaned.get("serum_creatinine_mg_dl") is not None
        ):
            self.add_error(
                "serum_creatinine_mg_dl",
                "Enter either creatinine clearance or serum creatinine, not both.",
            )
        return cleaned


DOSE_ROLE_CHOICES = [
    ("", "from the clock"),
    ("morning", "morning dose"),
    ("midday", "midday dose"),
    ("evening", "evening dose"),
    ("bedtime", "bedtime dose"),
    ("night", "night dose"),
]


class PlanForm(forms.Form):
    """The regimen, the goal and the pace: everything of a plan that is not a patient fact."""

    months_on_therapy = forms.IntegerField(label="Months on therapy", min_value=0, max_value=1200)
    start_date = forms.DateField(
        label="First day of the taper", widget=forms.DateInput(attrs={"type": "date"})
    )
    goal = forms.ChoiceField(
        choices=[("discontinue", "Stop completely"), ("reduce", "Reduce to a target daily dose")],
        initial="discontinue",
    )
    target_daily_mg = PlainDecimalField(
        label="Target daily dose (mg)", required=False, max_digits=7, decimal_places=2
    )
    pace = forms.ChoiceField(
        choices=[
            ("standard", "Protocol pace"),
            ("slower", "Slower (× 1.5)"),
            ("custom", "Custom length and step"),
        ],
        initial="standard",
    )
    length_days = forms.IntegerField(label="Taper length (days)", required=False)
    step_days = forms.IntegerField(label="Days per step", required=False)
    shape = forms.ChoiceField(
        choices=[("linear", "Equal reductions"), ("proportional", "Proportional reductions")],
        initial="linear",
        required=False,
    )
    percent_per_step = PlainDecimalField(
        label="Percent of the current dose cut per step",
        required=False,
        max_digits=4,
        decimal_places=1,
        help_text="Proportional reductions only; empty for the protocol's default.",
    )
    abrupt_stop_reason = forms.CharField(
        label="Reason for stopping faster than the hard floor",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only for a serious adverse reaction; the plan then needs a reviewer.",
    )
    # Intrathecal pump record.
    pump_concentration_mcg_per_ml = PlainDecimalField(
        label="Pump concentration (mcg/mL)", required=False
    )
    pump_daily_dose_mcg = PlainDecimalField(label="Pump daily dose (mcg/day)", required=False)
    pump_reservoir_ml = PlainDecimalField(label="Reservoir volume (mL)", required=False)
    pump_alarm_volume_ml = PlainDecimalField(label="Low-reservoir alarm (mL)", required=False)
    pump_last_refill_date = forms.DateField(
        label="Last refill", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    # Strengths and splitting (issue #18; docs/plan-json.md "product_options"): nothing
    # ticked is every strength, halves allowed, as before.
    whole_tablets_only = forms.BooleanField(
        label="Whole tablets only (no halves)", required=False
    )
    fewest_strengths = forms.BooleanField(
        label="Fewest strengths",
        required=False,
        help_text="The same doses from as few kinds of tablet as possible.",
    )
    # How many wean-visit rows the clinician has opened ("Add a wean visit").
    wean_rows = forms.IntegerField(
        widget=forms.HiddenInput, required=False, min_value=0, max_value=WEAN_ROWS
    )
    submission_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    # The plan the clinician chose to start from ("start from plan N"), to say so again
    # when the form comes back with errors.
    source_plan = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(
        self,
        *args: Any,
        patient: Patient,
        refuse_duplicates: bool = False,
        editing: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.patient = patient
        # Saving (not previewing) a plan identical to an open one is refused; a draft
        # being changed is not a duplicate of itself.
        self.refuse_duplicates = refuse_duplicates
        self.editing = editing
        self.fields["product"] = forms.ChoiceField(
            label="Product", choices=[(p.id, p.name) for p in engine_input.site_products()]
        )
        self.fields["tablet_strengths"] = forms.MultipleChoiceField(
            label="Strengths the patient has or the pharmacy stocks",
            required=False,
            choices=engine_input.tablet_strength_choices(),
            widget=forms.CheckboxSelectMultiple,
            help_text="Tablets only; none ticked: every strength.",
        )
        for row in range(1, DOSE_ROWS + 1):
            self.fields[f"dose_time_{row}"] = forms.TimeField(
                label=f"Dose {row} time",
                required=False,
                widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            )
            self.fields[f"dose_amount_{row}"] = PlainDecimalField(
                label=f"Dose {row} amount (mg)",
                required=False,
                max_digits=7,
                decimal_places=2,
            )
            self.fields[f"dose_role_{row}"] = forms.ChoiceField(
                label=f"Dose {row} is the",
                required=False,
                choices=DOSE_ROLE_CHOICES,
            )
            self.fields[f"dose_remove_{row}"] = forms.BooleanField(
                label=f"Remove dose {row}", required=False
            )
        for row in range(1, WEAN_ROWS + 1):
            self.fields[f"wean_date_{row}"] = forms.DateField(
                label=f"Visit {row} date",
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}),
            )
            self.fields[f"wean_dose_{row}"] = PlainDecimalField(
                label=f"Visit {row}: new daily dose (mcg/day)",
                required=False,
                max_digits=7,
                decimal_places=2,
            )
            self.fields[f"wean_refilled_{row}"] = forms.BooleanField(
                label=f"Refill at visit {row}", required=False
            )
            self.fields[f"wean_volume_{row}"] = PlainDecimalField(
                label=f"Visit {row}: volume filled (mL)",
                required=False,
                max_digits=6,
                decimal_places=2,
            )
        self.engine_input: dict[str, Any] | None = None
        self.plan: taper.TaperPlan | None = None

    def dose_rows(
        self,
    ) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (
                self[f"dose_time_{r}"],
                self[f"dose_amount_{r}"],
                self[f"dose_role_{r}"],
                self[f"dose_remove_{r}"],
            )
            for r in range(1, DOSE_ROWS + 1)
        ]

    def shelf_fields(self) -> list[forms.BoundField]:
        names = ("tablet_strengths", "whole_tablets_only", "fewest_strengths")
        return [self[name] for name in names]

    def pump_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("pump_")]

    def wean_rows_shown(self) -> int:
        """Wean-visit rows open on the page: every row holding a value, or as many as the
        clinician opened, plus one when they just pressed "Add a wean visit"."""
        source = self.data if self.is_bound else self.initial
        filled = [
            row
            for row in range(1, WEAN_ROWS + 1)
            if any(source.get(f"wean_{part}_{row}") for part in ("date", "dose", "volume"))
        ]
        opened = str(source.get("wean_rows") or "0")
        shown = max([*filled, int(opened) if opened.isdigit() else 0, 0])
        if self.is_bound and "add_visit" in self.data:
            shown += 1
        return min(shown, WEAN_ROWS)

    def wean_visit_rows(
        self,
    ) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (
                self[f"wean_date_{r}"],
                self[f"wean_dose_{r}"],
                self[f"wean_refilled_{r}"],
                self[f"wean_volume_{r}"],
            )
            for r in range(1, self.wean_rows_shown() + 1)
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        data, rows = engine_input.from_plan_form(self.patient, cleaned, DOSE_ROWS)
        try:
            request = taper.parse_request(data)
            self.plan = taper.plan(request)
        except taper.InvalidPlanInput as refusal:
            for key, messages in refusal.errors.items():
                field = engine_input.form_field_for(key, rows)
                for message in messages:
                    if field in self.fields:
                        self.add_error(field, message)
                    elif key.startswith("patient."):
                        # Patient facts are edited on the patient record, not in this form.
                        self.add_error(None, f"Patient record: {message}")
                    else:
                        self.add_error(None, message)
            return cleaned
        late = continuity.start_refusal(
            self.plan.start_date, self.patient.home_timezone, timezone.now()
        )
        if late is not None:
            self.add_error("start_date", late)
        # The schedule is drawn even when saving it is refused.
        self.engine_input = data
        if self.refuse_duplicates:
            same = plan_reads.plan_same_as(
                self.patient,
                data,
                exclude_plan_id=self.editing.pk if self.editing is not None else None,
                submission_key=cleaned.get("submission_key") or None,
            )
            if same is not None:
                self.add_error(
                    None,
                    f"Nothing differs from plan {same.pk} ({same.get_status_display().lower()}):"
                    f" saving would only make a copy of it. Change the regimen, goal or pace,"
                    f" or open plan {same.pk}.",
                )
        return cleaned


class RevisionForm(forms.Form):
    kind = forms.ChoiceField(
        label="Change",
        choices=[
            ("hold", "Hold the current step for some days"),
            ("step_back", "Step back to the last tolerated dose"),
            ("slow_down", "Slow the rest of the taper (× 1.5)"),
        ],
        widget=forms.RadioSelect,
    )
    from_date = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Days before this stay as they were.",
    )
    days = forms.IntegerField(
        label="Days to hold", required=False, min_value=1, max_value=60,
        help_text="Only for holding the current step.",
    )
    note = forms.CharField(
        label="Why (shown in the plan's history)", required=False, max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("kind") == "hold" and cleaned.get("days") is None:
            self.add_error("days", "Say for how many days to hold the current step.")
        return cleaned


class AlertActionForm(forms.Form):
    """Acknowledge, annotate or close an abrupt-stop alert (reminders.alerts)."""

    action = forms.ChoiceField(
        choices=[("acknowledge", "Acknowledge"), ("note", "Add the note"), ("close", "Close")]
    )
    text = forms.CharField(
        label="Note (what was done or found; shown with your name and the time)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CancelForm(forms.Form):
    """The reason for cancelling a plan; the service decides whether one is required.
    A form so that what PostgreSQL cannot store (a NUL character) is refused here."""

    reason = forms.CharField(required=False, max_length=1000, strip=False)


class ReviewForm(forms.Form):
    # The version on the reviewer's screen: a decision never lands on a later one.
    revision = forms.IntegerField(
        widget=forms.HiddenInput,
        error_messages={"required": "Open the review page again: it says which version "
                        "you decide on.", "invalid": "Open the review page again."},
    )
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(
        label="Comment (required to reject; the author sees it)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("decision") == "reject" and not (cleaned.get("comment") or "").strip():
            self.add_error("comment", "Say why: the author sees this comment.")
        return cleaned


class RefillForm(forms.Form):
    """A pump refill as the clinic did it: the day, the volume put in and, when it
    changed, the concentration (reminders.refills.refill_record checks the numbers)."""

    refilled_on = forms.DateField(
        label="Refill date", widget=forms.DateInput(attrs={"type": "date"})
    )
    volume_ml = PlainDecimalField(
        label="Volume filled (mL)", min_value=Decimal("0.1"), max_digits=6, decimal_places=2
    )
    concentration_mcg_per_ml = PlainDecimalField(
        label="New concentration (mcg/mL)",
        required=False,
        max_digits=7,
        decimal_places=2,
        help_text="Only when the concentration changed.",
    )


class SupplyDispensedForm(forms.Form):
    """What the clinic dispensed for an oral plan: one quantity field per strength (or
    the liquid) of the plan, pre-filled with the plan's dispensing list, and the day.
    A blank or 0 strength is not recorded (planner.supply.supply_dispensed_record)."""

    dispensed_on = forms.DateField(
        label="Dispensed on", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, keys: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys = {}
        for index, (key, listed) in enumerate(keys):
            name = f"quantity_{index}"
            self.keys[name] = key
            product = taper.load_catalogue().product(key.product)
            drug = product.drug.capitalize() if product is not None else key.product
            if key.strength_mg is None:
                label = f"{product.name if product is not None else drug} (mL)"
            else:
                form = product.form if product is not None else "tablet"
                label = f"{drug} {format_amount(key.strength_mg)} mg ({form}s)"
            self.fields[name] = PlainDecimalField(
                label=label,
                required=False,
                min_value=Decimal(0),
                max_digits=8,
                decimal_places=2,
                initial=listed or None,
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name, key in self.keys.items():
            value = cleaned.get(name)
            if value is not None and key.strength_mg is not None and value != int(value):
                self.add_error(name, "Enter whole tablets or capsules.")
        return cleaned

    def quantities(self) -> dict[Any, Decimal]:
        return {
            key: self.cleaned_data[name]
            for name, key in self.keys.items()
            if self.cleaned_data.get(name) is not None
        }
