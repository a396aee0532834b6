"""Every stored revision names the protocol version it was planned with in its engine
input, so re-planning it (a revision, a zone change) never picks up a newer version."""

from django.db import migrations


def pin(apps, schema_editor):
    PlanRevision = apps.get_model("planner", "PlanRevision")
    for revision in PlanRevision.objects.all().iterator():
        if "protocol_version" not in revision.engine_input:
            revision.engine_input = {
                **revision.engine_input,
                "protocol_version": revision.protocol_version,
            }
            revision.save(update_fields=["engine_input"])


class Migration(migrations.Migration):
    dependencies = [("planner", "0006_patient_height_dialysis_delivery")]

    operations = [migrations.RunPython(pin, migrations.RunPython.noop)]
