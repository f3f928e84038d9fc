from django.apps import AppConfig


class ForecastConfig(AppConfig):
    name = "forecast"
    verbose_name = "Emerging-hit forecaster"

    def ready(self):
        # Models are loaded only once apps are ready, so the registration is imported here.
        from accounts import personal_data

        from . import receivers, selectors  # noqa: F401 (receivers connect on import)

        personal_data.register("forecast", export=selectors.export_for_user, models=selectors.EXPORTED_MODELS)
