# PatientPreferences now lives in reminders (reminders/migrations/0009). State only.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('reminders', '0009_patient_preferences_moved_from_portal'),
        ('portal', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name='PatientPreferences',
                ),
            ],
        ),
    ]
