# The dose log moves from reminders to planner (issue #15: the frozen schedule is part of
# the plan record). State only: the table keeps its name (reminders_dose) and its rows.

import django.db.models.deletion
from django.db import migrations, models


def _content_type_follows(apps, schema_editor):
    # Permissions granted on the dose log (the reviewers' admin view) stay granted.
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label="planner", model="dose").exists():
        content_types.objects.filter(app_label="reminders", model="dose").update(
            app_label="planner"
        )


def _content_type_back(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label="reminders", model="dose").exists():
        content_types.objects.filter(app_label="planner", model="dose").update(
            app_label="reminders"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('planner', '0010_merge_patient_mrn'),
        ('reminders', '0006_change_notices'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Dose',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('local_date', models.DateField()),
                        ('local_time', models.TimeField()),
                        ('timezone', models.CharField(max_length=64)),
                        ('due_at', models.DateTimeField()),
                        ('catch_up_until', models.DateTimeField()),
                        ('amount_mg', models.DecimalField(decimal_places=2, max_digits=7)),
                        ('units_text', models.CharField(blank=True, max_length=100)),
                        ('role', models.CharField(blank=True, max_length=12)),
                        ('status', models.CharField(choices=[('scheduled', 'Due'), ('taken', 'Taken'), ('skipped', 'Skipped'), ('missed', 'Missed'), ('cancelled', 'Cancelled')], default='scheduled', max_length=12)),
                        ('answered_at', models.DateTimeField(blank=True, null=True)),
                        ('plan', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='doses', to='planner.taperplan')),
                        ('revision', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='doses', to='planner.planrevision')),
                    ],
                    options={
                        'db_table': 'reminders_dose',
                        'ordering': ['due_at', 'id'],
                        'indexes': [models.Index(fields=['plan', 'due_at'], name='dose_plan_due'), models.Index(condition=models.Q(('status', 'scheduled')), fields=['catch_up_until'], name='dose_scheduled_catch_up'), models.Index(condition=models.Q(('status', 'missed')), fields=['due_at'], name='dose_missed_due')],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('status', 'cancelled'), _negated=True), fields=('plan', 'local_date', 'local_time'), name='one_live_dose_per_plan_slot'), models.CheckConstraint(condition=models.Q(('amount_mg__gt', 0)), name='dose_amount_positive')],
                    },
                ),
            ],
        ),
        migrations.RunPython(_content_type_follows, _content_type_back),
    ]
