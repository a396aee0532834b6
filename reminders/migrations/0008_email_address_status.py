# Whether the mail server refused a patient's address, owned by reminders (it was
# Patient.email_failing_since): existing marks are copied for the address they hold now.

import django.db.models.deletion
from django.db import migrations, models


def _copy_marks(apps, schema_editor):
    patients = apps.get_model("planner", "Patient")
    statuses = apps.get_model("reminders", "EmailAddressStatus")
    statuses.objects.bulk_create(
        statuses(patient_id=pk, address=email, failing_since=since)
        for pk, email, since in patients.objects.filter(
            email_failing_since__isnull=False
        ).values_list("pk", "email", "email_failing_since")
    )


def _copy_back(apps, schema_editor):
    patients = apps.get_model("planner", "Patient")
    statuses = apps.get_model("reminders", "EmailAddressStatus")
    for status in statuses.objects.all():
        patients.objects.filter(pk=status.patient_id, email=status.address).update(
            email_failing_since=status.failing_since
        )


class Migration(migrations.Migration):

    dependencies = [
        ('planner', '0011_dose_in_the_plan_record'),
        ('reminders', '0007_dose_moved_to_planner'),
    ]

    operations = [
        migrations.CreateModel(
            name='EmailAddressStatus',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('address', models.EmailField(max_length=254)),
                ('failing_since', models.DateTimeField()),
                ('patient', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='email_status', to='planner.patient')),
            ],
            options={
                'verbose_name_plural': 'e-mail address statuses',
            },
        ),
        migrations.RunPython(_copy_marks, _copy_back),
    ]
