from django.apps import AppConfig


class ClinicConfig(AppConfig):
    """The clinicians' and reviewers' pages (templates stay under templates/planner/)."""

    name = "clinic"
    verbose_name = "Clinic pages"
