from django.urls import path

from . import api

urlpatterns = [
    path("recommendations/<int:item_id>/explanation/", api.ExplainRecommendationView.as_view(),
         name="api-explain"),
    path("explanations/<int:pk>/", api.ExplanationDetailView.as_view(), name="api-explanation"),
    path("drift-check/", api.DriftCheckView.as_view(), name="api-drift-check"),
    path("recourse/", api.RecourseListView.as_view(), name="api-recourse-list"),
    path("recourse/preview/", api.RecoursePreviewView.as_view(), name="api-recourse-preview"),
    path("recourse/apply/", api.RecourseApplyView.as_view(), name="api-recourse-apply"),
    path("recourse/<int:pk>/undo/", api.RecourseUndoView.as_view(), name="api-recourse-undo"),
]
