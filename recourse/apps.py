from django.apps import AppConfig


class RecourseConfig(AppConfig):
    name = "recourse"
    verbose_name = "Explanations, drift and recourse"
