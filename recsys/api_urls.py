from django.urls import path

from . import api

urlpatterns = [
    path("history/", api.HistoryView.as_view(), name="api-history"),
    path("recommendations/", api.RecommendationsView.as_view(), name="api-recommendations"),
]
