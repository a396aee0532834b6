# The patient's delivery preferences move from portal to reminders, which reads them to
# deliver (issue #15 layering). State only: the table keeps its name and rows.

import django.db.models.deletion
from django.db import migrations, models


def _content_type_follows(apps, schema_editor):
    # Permissions granted on the preferences (the reviewers' admin view) stay granted.
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label="reminders", model="patientpreferences").exists():
        content_types.objects.filter(app_label="portal", model="patientpreferences").update(
            app_label="reminders"
        )


def _content_type_back(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label="portal", model="patientpreferences").exists():
        content_types.objects.filter(app_label="reminders", model="patientpreferences").update(
            app_label="portal"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('planner', '0012_email_failing_moved_to_reminders'),
        ('reminders', '0008_email_address_status'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='PatientPreferences',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('email_dose', models.BooleanField(default=True, verbose_name='Dose reminders')),
                        ('email_dose_change', models.BooleanField(default=True, verbose_name='Dose changes and the last day')),
                        ('email_missed_dose', models.BooleanField(default=True, verbose_name='Missed-dose follow-ups')),
                        ('email_check_in', models.BooleanField(default=True, verbose_name='Symptom check-ins')),
                        ('language', models.CharField(choices=[('en', 'English'), ('es', 'Español')], default='en', max_length=5)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('patient', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='portal_preferences', to='planner.patient')),
                    ],
                    options={
                        'verbose_name_plural': 'patient preferences',
                        'db_table': 'portal_patientpreferences',
                    },
                ),
            ],
        ),
        migrations.RunPython(_content_type_follows, _content_type_back),
    ]
