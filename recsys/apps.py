from django.apps import AppConfig


class RecsysConfig(AppConfig):
    name = "recsys"
    verbose_name = "Recommendations"

    def ready(self):
        # Models are loaded only once apps are ready, so the registration is imported here.
        from accounts import personal_data

        from . import receivers, selectors  # noqa: F401 (receivers connect on import)
        from .services import history

        personal_data.register("recsys", export=selectors.export_for_user, erase=history.erase_for_user,
                               models=selectors.EXPORTED_MODELS)
