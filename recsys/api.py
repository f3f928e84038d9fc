from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .models import Interaction
from .serializers import InteractionSerializer, RecommendationsSerializer
from .services import serving


class HistoryView(generics.ListAPIView):
    """The signed-in member's own history in the current dataset, oldest first."""

    serializer_class = InteractionSerializer

    def get_queryset(self):
        dataset = selectors.current_dataset(self.request)
        if dataset is None:
            return Interaction.objects.none()
        return selectors.member_interactions(self.request.user, dataset)


class RecommendationsView(APIView):
    """Top-10 for the signed-in member from the dataset's active model."""

    @extend_schema(responses=RecommendationsSerializer)
    def get(self, request):
        dataset = selectors.current_dataset(request)
        if dataset is None:
            raise NotFound("No dataset has been imported yet.")
        try:
            recommendations = serving.recommend_for_member(request.user, dataset, n=10)
        except serving.NoActiveModel as exc:
            raise NotFound(str(exc)) from exc
        return Response(RecommendationsSerializer(recommendations).data)
