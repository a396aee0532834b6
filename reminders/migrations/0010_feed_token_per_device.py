"""One calendar address per device (issue #17). The address a patient already has keeps
working and becomes their first named device, named in their language."""

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

FIRST_DEVICE = {"en": "My first device", "es": "Mi primer dispositivo"}


def name_existing_addresses(apps, schema_editor):
    FeedToken = apps.get_model("reminders", "FeedToken")
    PatientPreferences = apps.get_model("reminders", "PatientPreferences")
    languages = dict(PatientPreferences.objects.values_list("patient_id", "language"))
    for token in FeedToken.objects.filter(name=""):
        language = languages.get(token.patient_id, "en")
        token.name = FIRST_DEVICE.get(language, FIRST_DEVICE["en"])
        token.save(update_fields=["name"])


def keep_one_live_address_per_patient(apps, schema_editor):
    """Going back to one address per patient: the newest live one stays."""
    FeedToken = apps.get_model("reminders", "FeedToken")
    seen = set()
    for token in FeedToken.objects.filter(revoked_at__isnull=True).order_by("-created_at", "-id"):
        if token.patient_id in seen:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
        seen.add(token.patient_id)


class Migration(migrations.Migration):

    dependencies = [
        ('planner', '0010_merge_patient_mrn'),
        ('reminders', '0009_patient_preferences_moved_from_portal'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='feedtoken',
            options={'ordering': ['created_at', 'id']},
        ),
        migrations.RemoveConstraint(
            model_name='feedtoken',
            name='one_live_feed_token_per_patient',
        ),
        migrations.AddField(
            model_name='feedtoken',
            name='name',
            field=models.CharField(blank=True, max_length=60),
        ),
        migrations.AddField(
            model_name='historicalfeedtoken',
            name='name',
            field=models.CharField(blank=True, max_length=60),
        ),
        migrations.RunPython(name_existing_addresses, keep_one_live_address_per_patient),
        migrations.AddIndex(
            model_name='feedtoken',
            index=models.Index(condition=models.Q(('revoked_at__isnull', True)), fields=['patient'], name='feed_token_live_per_patient'),
        ),
    ]
