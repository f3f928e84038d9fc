from django.urls import path

from . import api, views

app_name = "dashboard"
urlpatterns = [
    path("", views.index, name="index"),
    path("overview/", views.overview, name="overview"),
    path("models/", views.model_registry, name="registry"),
    path("models/<int:model_id>/activate/", views.activate_model, name="activate"),
    path("models/train/", views.train_model, name="train"),
    path("comparison/", views.comparison, name="comparison"),
    path("recommendations/", views.recommendations, name="recommendations"),
    path("drift/", views.drift, name="drift"),
    path("xai/", views.xai, name="xai"),
    path("recourse/", views.user_recourse, name="recourse"),
    path("metrics/", views.metrics, name="metrics"),
    path("metrics/start/", views.start_experiment, name="start-experiment"),
    path("experiments/<int:experiment_id>/export.<str:fmt>", views.export_experiment, name="export"),
    path("summary/", views.summary, name="summary"),
    path("summary/download/", views.summary_download, name="summary-download"),
    path("feedback/", views.feedback, name="feedback"),
    path("api/overview/", api.OverviewView.as_view(), name="api-overview"),
    path("api/experiments/", api.ExperimentListView.as_view(), name="api-experiments"),
    path("api/experiments/<int:experiment_id>/", api.ExperimentDetailView.as_view(), name="api-experiment"),
    path("api/feedback/", api.FeedbackRatesView.as_view(), name="api-feedback"),
]
