from django.apps import AppConfig


class RecsysConfig(AppConfig):
    name = "recsys"
    verbose_name = "Recommendations"

    def ready(self):
        # Models are loaded only once apps are ready, so the registration is imported here.
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_delete, post_save

        from accounts import personal_data

        from . import collation, page_cache, receivers, selectors  # noqa: F401 (receivers connect on import)
        from .models import Item
        from .services import history

        connection_created.connect(collation.register_on_sqlite, dispatch_uid="hikmax-natural-collation")
        post_save.connect(page_cache.bump_catalogue_version, sender=Item, dispatch_uid="hikmax-catalogue-saved")
        post_delete.connect(page_cache.bump_catalogue_version, sender=Item, dispatch_uid="hikmax-catalogue-deleted")

        personal_data.register("recsys", export=selectors.export_for_user, erase=history.erase_for_user,
                               models=selectors.EXPORTED_MODELS)
