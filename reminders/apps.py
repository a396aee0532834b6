from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "reminders"
    verbose_name = "Reminders"

    def ready(self) -> None:
        # Reminder rows and notices follow planner's changes (planner.signals).
        from reminders import receivers  # noqa: F401
