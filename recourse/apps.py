from django.apps import AppConfig


class RecourseConfig(AppConfig):
    name = "recourse"
    verbose_name = "Explanations, drift and recourse"

    def ready(self):
        from . import signals  # noqa: F401
