from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from . import ratings, selectors
from .models import Interaction, Item
from .serializers import AddInteractionSerializer, InteractionSerializer, RecommendationsSerializer
from .services import history, serving


class HistoryView(generics.ListAPIView):
    """The signed-in member's own history in the current dataset, oldest first."""

    serializer_class = InteractionSerializer

    def get_queryset(self):
        dataset = selectors.current_dataset(self.request)
        if dataset is None:
            return Interaction.objects.none()
        return selectors.member_interactions(self.request.user, dataset)

    @extend_schema(request=AddInteractionSerializer, responses={201: InteractionSerializer})
    def post(self, request):
        """Add an item of the current dataset to the signed-in member's history (newest entry)."""
        dataset = selectors.current_dataset(request)
        serializer = AddInteractionSerializer(data=request.data, context={"scale": ratings.scale_of(dataset)})
        serializer.is_valid(raise_exception=True)
        item = Item.objects.filter(pk=serializer.validated_data["item_id"], dataset=dataset).first()
        if dataset is None or item is None:
            raise NotFound("No such item in the current dataset.")
        added = history.add_item(user=request.user, item=item, rating=serializer.validated_data.get("rating"))
        return Response(InteractionSerializer(added).data, status=201)


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
