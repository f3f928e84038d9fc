from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "diagnostics"
    verbose_name = "Deletion diagnostics"

    def ready(self):
        # Models are loaded only once apps are ready, so the registration is imported here.
        from accounts import personal_data

        from . import receivers, selectors  # noqa: F401 (receivers connect on import)

        personal_data.register("diagnostics", export=selectors.export_for_user, models=selectors.EXPORTED_MODELS)
