from rest_framework import generics

from . import selectors
from .models import Interaction
from .serializers import InteractionSerializer


class HistoryView(generics.ListAPIView):
    """The signed-in member's own history in the current dataset, oldest first."""

    serializer_class = InteractionSerializer

    def get_queryset(self):
        dataset = selectors.current_dataset(self.request)
        if dataset is None:
            return Interaction.objects.none()
        return selectors.member_interactions(self.request.user, dataset)
