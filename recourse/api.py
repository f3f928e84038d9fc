from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys import selectors
from recsys.models import Item
from recsys.services import serving

from .models import Explanation
from .serializers import ExplanationSerializer
from .services import explanations


class ExplainRecommendationView(APIView):
    """Explain one of the signed-in member's current recommendations."""

    @extend_schema(parameters=[OpenApiParameter("method", enum=explanations.METHODS, default="ig")],
                   responses=ExplanationSerializer)
    def get(self, request, item_id):
        dataset = selectors.current_dataset(request)
        if not Item.objects.filter(pk=item_id, dataset=dataset).exists():
            raise NotFound("No such item in this dataset.")
        try:
            view = explanations.explain(user=request.user, dataset=dataset, item_id=item_id,
                                        method=request.query_params.get("method", "ig"))
        except (explanations.NotRecommended, serving.NoActiveModel) as exc:
            raise NotFound(str(exc)) from exc
        except explanations.ExplanationError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(ExplanationSerializer(view.explanation).data)


class ExplanationDetailView(generics.RetrieveAPIView):
    """One of the signed-in member's stored explanations."""

    serializer_class = ExplanationSerializer

    def get_queryset(self):
        return Explanation.objects.filter(user=self.request.user)
