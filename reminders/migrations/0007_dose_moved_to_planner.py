# The dose log moves to planner (planner/migrations/0011_dose_in_the_plan_record.py).
# State only: the table, its rows and the reminders' foreign key stay as they are.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('planner', '0011_dose_in_the_plan_record'),
        ('reminders', '0006_change_notices'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='reminder',
                    name='dose',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='reminders', to='planner.dose'),
                ),
                migrations.DeleteModel(
                    name='Dose',
                ),
            ],
        ),
    ]
