"""The research dashboard's JSON endpoints (staff only), listed in /api/schema/."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from recourse.models import Experiment
from recsys.models import Dataset

from . import reads


class ExperimentSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.name")
    model = serializers.IntegerField(source="trained_model_id", allow_null=True)
    results = serializers.JSONField(help_text="Per-strategy summaries as stored by the population experiment.")
    params = serializers.JSONField()

    class Meta:
        model = Experiment
        fields = ["id", "name", "dataset", "model", "status", "params", "error", "created_at", "results"]


class ExperimentRowSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.name")
    job = serializers.IntegerField(source="job_id", allow_null=True)
    params = serializers.JSONField()

    class Meta:
        model = Experiment
        fields = ["id", "name", "dataset", "status", "params", "job", "created_at"]


class OverviewSerializer(serializers.Serializer):
    dataset = serializers.CharField()
    users = serializers.IntegerField()
    items = serializers.IntegerField()
    interactions = serializers.IntegerField()
    sparsity = serializers.FloatField(allow_null=True)
    sequence_length = serializers.DictField(help_text="min, median, mean and max interactions per user")


class FeedbackRateSerializer(serializers.Serializer):
    method = serializers.CharField()
    total = serializers.IntegerField()
    helpful = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class ExperimentListView(APIView):
    """The 100 most recent population experiments."""

    permission_classes = [IsAdminUser]

    @extend_schema(operation_id="research_api_experiments_list",
                   responses=inline_serializer("ExperimentList", {"results": ExperimentRowSerializer(many=True)}))
    def get(self, request):
        rows = Experiment.objects.select_related("dataset").order_by("-created_at")[:100]
        return Response({"results": ExperimentRowSerializer(rows, many=True).data})


class ExperimentDetailView(generics.RetrieveAPIView):
    """One experiment with its parameters and results."""

    permission_classes = [IsAdminUser]
    serializer_class = ExperimentSerializer
    queryset = Experiment.objects.select_related("dataset")
    lookup_url_kwarg = "experiment_id"


class OverviewView(APIView):
    """Counts and sequence-length statistics of a dataset (default: the one with the active model)."""

    permission_classes = [IsAdminUser]

    @extend_schema(parameters=[OpenApiParameter("dataset", int, description="dataset id")],
                   responses=OverviewSerializer)
    def get(self, request):
        key = request.query_params.get("dataset", "")
        dataset = (Dataset.objects.filter(pk=int(key)).first() if key.isdigit() else None) or reads.default_dataset()
        if dataset is None:
            raise NotFound("No dataset has been imported yet.")
        overview = reads.dataset_overview(dataset)
        return Response(OverviewSerializer({
            "dataset": dataset.name, "users": overview.users, "items": overview.items,
            "interactions": overview.interactions, "sparsity": overview.sparsity,
            "sequence_length": overview.length_stats,
        }).data)


class FeedbackRatesView(APIView):
    """How often members found each explanation method helpful."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=inline_serializer("FeedbackRates", {"results": FeedbackRateSerializer(many=True)}))
    def get(self, request):
        return Response({"results": FeedbackRateSerializer(reads.feedback_rates(), many=True).data})
