# The e-mail failing mark is now a reminders row (reminders.EmailAddressStatus, filled
# from this column by reminders/migrations/0008): reminders writes no patient rows.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('planner', '0011_dose_in_the_plan_record'),
        ('reminders', '0008_email_address_status'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='historicalpatient',
            name='email_failing_since',
        ),
        migrations.RemoveField(
            model_name='patient',
            name='email_failing_since',
        ),
    ]
