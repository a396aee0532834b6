"""What the API reads and writes. Writes are validated here for JSON types, then by the
same rules the pages use (planner.forms.PatientForm, the taper engine), then saved
by planner.services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

import taper
from api.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictDecimalField,
    StrictIntegerField,
)
from planner import medicines
from planner.forms import PatientForm
from planner.models import MRN_MAX_LENGTH, CnsDepressant, Patient, PlanFlag, Sex, TaperPlan
from reminders.models import AbruptStopAlert, Dose

# --- refusals ------------------------------------------------------------------


# A field named "errors" would hide Serializer.errors, hence the inline class.
ErrorsSerializer = inline_serializer(
    name="Errors",
    fields={
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text='Dotted field path ("doses.1.time", "__all__" for none) → sentences.',
        )
    },
)


class DetailSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()


# --- patients ------------------------------------------------------------------


class RefuseUnknownFields(serializers.Serializer[Any]):
    """Unknown fields are refused by name, as the engine refuses them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {key: [f'Unknown field "{key}".'] for key in unknown}
                )
        return super().to_internal_value(data)


class PlanCancelRequestSerializer(RefuseUnknownFields):
    """Why the plan is stopped: required through the API, whatever the plan's state
    (the service itself requires it for an active plan only)."""

    reason = serializers.CharField(max_length=1000, trim_whitespace=True)


class PatientSerializer(serializers.ModelSerializer[Patient]):
    class Meta:
        model = Patient
        # What the new-patient page asks for, plus the record's id and creation time.
        fields = ["id", *PatientForm.Meta.fields, "created_at"]
        read_only_fields = fields

    cns_depressants = serializers.ListField(
        child=serializers.ChoiceField(choices=CnsDepressant.choices)
    )
    email = serializers.CharField(help_text="An e-mail address, or empty when none.")


class PatientCreateSerializer(RefuseUnknownFields):
    """JSON types first, then PatientForm: the same rules as the new-patient page."""

    given_name = StrictCharField(max_length=100)
    family_name = StrictCharField(max_length=100)
    # Letters, digits and - . / (PatientForm); unique within the clinic.
    mrn = StrictCharField(required=False, allow_blank=True, max_length=MRN_MAX_LENGTH)
    date_of_birth = serializers.DateField()
    sex = serializers.ChoiceField(choices=Sex.choices)
    # Checked as an address by PatientForm; blank means none.
    email = StrictCharField(required=False, allow_blank=True, max_length=254)
    home_timezone = StrictCharField(
        max_length=64,
        help_text="IANA name of a real place, e.g. Europe/London (not UTC, Etc/… or "
        "aliases such as US/Eastern)",
    )
    # Ranges are PatientForm's (taper.limits), checked in validate().
    weight_kg = StrictDecimalField(
        required=False, allow_null=True, max_digits=5, decimal_places=1
    )
    creatinine_clearance_ml_min = StrictDecimalField(
        required=False, allow_null=True, max_digits=5, decimal_places=1
    )
    serum_creatinine_mg_dl = StrictDecimalField(
        required=False, allow_null=True, max_digits=5, decimal_places=2
    )
    pregnancy_trimester = StrictIntegerField(required=False, min_value=0, max_value=3)
    breastfeeding = StrictBooleanField(required=False)
    seizure_history = StrictBooleanField(required=False)
    cns_depressants = serializers.ListField(
        child=serializers.ChoiceField(choices=CnsDepressant.choices),
        required=False,
        max_length=len(CnsDepressant.choices),
    )
    height_cm = StrictDecimalField(
        required=False, allow_null=True, max_digits=4, decimal_places=1
    )
    dialysis = StrictBooleanField(required=False)
    expected_delivery_date = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        form_data: dict[str, Any] = {"pregnancy_trimester": 0}
        for key, value in attrs.items():
            if value is None:
                continue
            form_data[key] = value.isoformat() if isinstance(value, dt.date) else value
        form = PatientForm(data=form_data, clinic=self.context.get("clinic"))
        if not form.is_valid():
            raise serializers.ValidationError(
                {field: [str(error) for error in errors] for field, errors in form.errors.items()}
            )
        cleaned: dict[str, Any] = form.cleaned_data
        return cleaned


# --- plans ---------------------------------------------------------------------


class DoseInputSerializer(serializers.Serializer[Any]):
    time = serializers.CharField(help_text="HH:MM, 24-hour clock, in the patient's zone")
    amount_mg = serializers.FloatField()
    role = serializers.ChoiceField(
        choices=["morning", "midday", "evening", "bedtime", "night"], required=False
    )


class GoalSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=["discontinue", "reduce"])
    target_daily_mg = serializers.FloatField(required=False)


class WeanStepSerializer(serializers.Serializer[Any]):
    visit_date = serializers.DateField()
    daily_dose_mcg = serializers.FloatField()
    refilled = serializers.BooleanField(
        required=False, help_text="The pump is refilled at this visit (default false)."
    )
    refill_volume_ml = serializers.FloatField(
        required=False, help_text="Required when refilled: the volume put in (mL)."
    )


class PumpSerializer(serializers.Serializer[Any]):
    concentration_mcg_per_ml = serializers.FloatField()
    daily_dose_mcg = serializers.FloatField()
    reservoir_ml = serializers.FloatField()
    alarm_volume_ml = serializers.FloatField()
    last_refill_date = serializers.DateField()
    wean_steps = WeanStepSerializer(many=True, required=False)


PACE_SCHEMA = {
    "oneOf": [
        {"type": "string", "enum": ["standard", "slower"]},
        {
            "type": "object",
            "properties": {
                "length_days": {"type": "integer", "minimum": 0},
                "step_days": {"type": "integer"},
                "shape": {"type": "string", "enum": ["linear", "proportional"]},
                "percent_per_step": {"type": "number", "minimum": 5, "maximum": 50},
            },
        },
    ]
}


@extend_schema_field(PACE_SCHEMA)
class PaceField(serializers.JSONField):
    pass


class ProductOptionsSerializer(serializers.Serializer[Any]):
    """Tablets and capsules: the strengths at hand (docs/plan-json.md, product_options)."""

    strengths_mg = serializers.ListField(child=serializers.FloatField(), required=False)
    allow_halves = serializers.BooleanField(required=False)
    fewest_strengths = serializers.BooleanField(required=False)


class RegimenSerializer(serializers.Serializer[Any]):
    """Documents the regimen part of a plan request; the engine validates it."""

    product = serializers.ChoiceField(choices=[p.id for p in taper.list_products()])
    doses = DoseInputSerializer(many=True, required=False)
    pump = PumpSerializer(required=False)
    start_date = serializers.DateField()
    goal = GoalSerializer(required=False)
    pace = PaceField(required=False)
    abrupt_stop_reason = serializers.CharField(required=False)
    product_options = ProductOptionsSerializer(required=False)
    switch_to = serializers.ChoiceField(
        # The products some plan may switch to (planner.medicines.switch_targets).
        choices=sorted(
            {t.id for p in taper.list_products() for t in medicines.switch_targets(p.id)}
        ),
        required=False,
        help_text='Benzodiazepines: switch to this product before the taper '
        '("diazepam-oral-tablet"), with the protocol\'s recorded equivalence; the plan then '
        "carries `equivalence` and the flag EQUIVALENCE_SWITCH (review).",
    )


class EnginePatientSerializer(serializers.Serializer[Any]):
    age_years = serializers.FloatField()
    months_on_therapy = serializers.FloatField(required=False)
    weight_kg = serializers.FloatField(required=False)
    sex = serializers.ChoiceField(choices=["female", "male"], required=False)
    creatinine_clearance_ml_min = serializers.FloatField(required=False)
    serum_creatinine_mg_dl = serializers.FloatField(required=False)
    serum_creatinine_umol_l = serializers.FloatField(required=False)
    pregnancy_trimester = serializers.IntegerField(required=False)
    breastfeeding = serializers.BooleanField(required=False)
    seizure_history = serializers.BooleanField(required=False)
    cns_depressants = serializers.ListField(
        child=serializers.ChoiceField(choices=CnsDepressant.values), required=False
    )
    height_cm = serializers.FloatField(required=False)
    dialysis = serializers.BooleanField(required=False)
    expected_delivery_date = serializers.DateField(required=False)


class RevisionInputSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["hold", "step_back", "slow_down"])
    from_date = serializers.DateField()
    days = serializers.IntegerField(required=False)


class PreviewRequestSerializer(RegimenSerializer):
    """The input of `manage.py taper_plan` (docs/plan-json.md)."""

    timezone = serializers.CharField(help_text="IANA zone name")
    patient = EnginePatientSerializer()
    revisions = RevisionInputSerializer(many=True, required=False)


class PlanCreateRequestSerializer(RegimenSerializer):
    """A plan for a stored patient: the zone and the patient facts come from the record."""

    months_on_therapy = serializers.IntegerField(
        required=False, help_text="Required for oral products."
    )
    submission_key = serializers.CharField(
        required=False,
        max_length=64,
        help_text="Idempotency key: sending the same key again returns the same plan.",
    )


class PlanJsonSerializer(serializers.Serializer[Any]):
    """The engine's plan JSON (docs/plan-json.md); only its main fields are listed."""

    protocol = serializers.DictField()
    product = serializers.CharField()
    timezone = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    duration_days = serializers.IntegerField()
    steps = serializers.ListField(child=serializers.DictField())
    dose_events = serializers.ListField(child=serializers.DictField())
    flags = serializers.ListField(child=serializers.DictField())
    requires_review = serializers.BooleanField()
    disclaimer = serializers.CharField()
    switch_to = serializers.CharField(required=False, allow_null=True)
    equivalence = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="A switch plan's conversion: from_product, to_product, factor, source, "
        "range, range_source, factor_choice, table.",
    )


class PlanFlagSerializer(serializers.ModelSerializer[PlanFlag]):
    class Meta:
        model = PlanFlag
        fields = ["code", "severity", "message", "source"]


class PlanSerializer(serializers.ModelSerializer[TaperPlan]):
    patient = serializers.IntegerField(source="patient_id", read_only=True)
    revision = serializers.IntegerField(source="current_revision.number", read_only=True)
    start_date = serializers.DateField(source="current_revision.start_date", read_only=True)
    end_date = serializers.DateField(source="current_revision.end_date", read_only=True)
    switch_to = serializers.SerializerMethodField(
        help_text="The product the plan switches to before the taper (benzodiazepines to "
        "diazepam), or null."
    )

    class Meta:
        model = TaperPlan
        fields = [
            "id",
            "patient",
            "drug",
            "status",
            "requires_review",
            "revision",
            "start_date",
            "end_date",
            "created_at",
            "updated_at",
            "submitted_at",
            "approved_at",
            "activated_at",
            "cancelled_at",
            "switch_to",
        ]
        read_only_fields = fields

    def get_switch_to(self, plan: TaperPlan) -> str | None:
        revision = plan.current_revision
        if revision is None:
            return None
        value = revision.engine_input.get("switch_to")
        return value if isinstance(value, str) else None


class PlanDetailSerializer(PlanSerializer):
    product = serializers.CharField(source="current_revision.regimen.product", read_only=True)
    flags = PlanFlagSerializer(source="current_revision.flags", many=True, read_only=True)
    plan = serializers.SerializerMethodField()

    class Meta(PlanSerializer.Meta):
        fields = [*PlanSerializer.Meta.fields, "product", "flags", "plan"]
        read_only_fields = fields

    @extend_schema_field(PlanJsonSerializer)
    def get_plan(self, plan: TaperPlan) -> dict[str, Any]:
        assert plan.current_revision is not None
        output: dict[str, Any] = plan.current_revision.engine_output
        return output


class DoseSerializer(serializers.ModelSerializer[Dose]):
    class Meta:
        model = Dose
        fields = [
            "id",
            "local_date",
            "local_time",
            "timezone",
            "due_at",
            "catch_up_until",
            "amount_mg",
            "units_text",
            "status",
            "answered_at",
        ]
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer[AbruptStopAlert]):
    patient = serializers.IntegerField(source="plan.patient_id", read_only=True)

    class Meta:
        model = AbruptStopAlert
        fields = ["id", "plan", "patient", "reason", "since", "raised_at", "detail"]
        read_only_fields = fields
