from collections import Counter

from django.db import migrations, models

import planner.models


def zone_of_most_patients(apps, schema_editor):
    """An existing clinic starts with the zone most of its patients live in."""
    Clinic = apps.get_model("planner", "Clinic")
    Patient = apps.get_model("planner", "Patient")
    for clinic in Clinic.objects.all():
        zones = Counter(
            Patient.objects.filter(clinic=clinic).values_list("home_timezone", flat=True)
        )
        if zones:
            clinic.time_zone = zones.most_common(1)[0][0]
            clinic.save(update_fields=["time_zone"])


class Migration(migrations.Migration):

    dependencies = [
        ("planner", "0006_patient_height_dialysis_delivery"),
    ]

    operations = [
        migrations.AddField(
            model_name="clinic",
            name="time_zone",
            field=models.CharField(
                default="UTC",
                help_text="The zone the clinic's pages show times in, such as Europe/London.",
                max_length=64,
                validators=[planner.models.validate_clinic_time_zone],
            ),
        ),
        migrations.AddField(
            model_name="historicalclinic",
            name="time_zone",
            field=models.CharField(
                default="UTC",
                help_text="The zone the clinic's pages show times in, such as Europe/London.",
                max_length=64,
                validators=[planner.models.validate_clinic_time_zone],
            ),
        ),
        migrations.RunPython(zone_of_most_patients, migrations.RunPython.noop),
    ]
