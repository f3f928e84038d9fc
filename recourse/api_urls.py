from django.urls import path

from . import api

urlpatterns = [
    path("recommendations/<int:item_id>/explanation/", api.ExplainRecommendationView.as_view(),
         name="api-explain"),
    path("explanations/<int:pk>/", api.ExplanationDetailView.as_view(), name="api-explanation"),
]
