from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys import selectors
from recsys.models import Item
from recsys.services import serving

from .models import Explanation, RecourseResult
from .serializers import (
    ApplyRequestSerializer,
    DriftResultSerializer,
    ExplanationSerializer,
    PreviewRequestSerializer,
    PreviewSerializer,
    RecourseResultSerializer,
)
from .services import corrections, drift, explanations
from .services.context import DriftUnavailable


class ExplainRecommendationView(APIView):
    """Explain one of the signed-in member's current recommendations."""

    @extend_schema(parameters=[OpenApiParameter("method", enum=explanations.METHODS, default="ig")],
                   responses=ExplanationSerializer)
    def get(self, request, item_id):
        dataset = selectors.current_dataset(request)
        if dataset is None or not Item.objects.filter(pk=item_id, dataset=dataset).exists():
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


def _current_dataset(request):
    dataset = selectors.current_dataset(request)
    if dataset is None:
        raise NotFound("No dataset has been imported yet.")
    return dataset


def _client_error(exc):
    if isinstance(exc, serving.NoActiveModel):
        return NotFound(str(exc))
    return ValidationError({"detail": str(exc)})


class DriftCheckView(APIView):
    """Run a drift check (the category-free taste check) on the signed-in member's history; the result holds
    its suggested fix, which is what a preview without changes returns."""

    @extend_schema(request=None, responses=DriftResultSerializer)
    def post(self, request):
        try:
            check = drift.check_drift(user=request.user, dataset=_current_dataset(request))
        except (DriftUnavailable, serving.NoActiveModel) as exc:
            raise _client_error(exc) from exc
        return Response(DriftResultSerializer(check.result).data)


class RecoursePreviewView(APIView):
    """Preview a correction (your changes, or the engine's suggestion). Changes nothing."""

    @extend_schema(request=PreviewRequestSerializer, responses=PreviewSerializer)
    def post(self, request):
        data = _validated(PreviewRequestSerializer, request)
        dataset = _current_dataset(request)
        try:
            if data.get("changes"):
                shown = corrections.preview(user=request.user, dataset=dataset, changes=_changes(data))
            else:  # the drift check's fix (the same analysis of the same history)
                shown = corrections.suggest(user=request.user, dataset=dataset)
        except (corrections.CorrectionError, DriftUnavailable, serving.NoActiveModel) as exc:
            raise _client_error(exc) from exc
        return Response(PreviewSerializer(shown).data)


class RecourseApplyView(APIView):
    """Apply a previewed correction to the signed-in member's history."""

    @extend_schema(request=ApplyRequestSerializer, responses={201: RecourseResultSerializer})
    def post(self, request):
        data = _validated(ApplyRequestSerializer, request)
        try:
            result = corrections.apply(user=request.user, dataset=_current_dataset(request), changes=_changes(data),
                                       fingerprint=data["fingerprint"])
        except (corrections.CorrectionError, DriftUnavailable, serving.NoActiveModel) as exc:
            raise _client_error(exc) from exc
        return Response(RecourseResultSerializer(result).data, status=201)


class RecourseUndoView(APIView):
    """Undo one of the signed-in member's corrections."""

    @extend_schema(request=None, responses=RecourseResultSerializer)
    def post(self, request, pk):
        try:
            result = corrections.undo(user=request.user, result_id=pk)
        except RecourseResult.DoesNotExist as exc:
            raise NotFound("No such correction.") from exc
        except corrections.CorrectionError as exc:
            raise _client_error(exc) from exc
        return Response(RecourseResultSerializer(result).data)


class RecourseListView(generics.ListAPIView):
    """The signed-in member's corrections, newest first."""

    serializer_class = RecourseResultSerializer

    def get_queryset(self):
        return RecourseResult.objects.filter(user=self.request.user)


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _changes(data) -> dict[int, float]:
    return {change["interaction_id"]: change["weight"] for change in data["changes"]}
