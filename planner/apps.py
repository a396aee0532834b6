from django.apps import AppConfig


class PlannerConfig(AppConfig):
    name = "planner"
    verbose_name = "Taper planner"

    def ready(self) -> None:
        from planner import (
            checks,  # noqa: F401  (registers the system checks)
            middleware,  # noqa: F401  (connects the login signal)
        )
