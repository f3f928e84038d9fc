from django.apps import AppConfig


class RecourseConfig(AppConfig):
    name = "recourse"
    verbose_name = "Explanations, drift and recourse"

    def ready(self):
        # Models are loaded only once apps are ready, so these are imported here.
        from accounts import personal_data

        from . import selectors, signals  # noqa: F401 (signals connects its receivers on import)

        personal_data.register("recourse", export=selectors.export_for_user, models=selectors.EXPORTED_MODELS)
