from rest_framework import serializers

from recsys.params import MAX_ID

from .models import DriftResult, Explanation, RecourseResult


class ExplanationSerializer(serializers.ModelSerializer):
    model_id = serializers.IntegerField(source="trained_model_id")
    target_item_id = serializers.IntegerField()

    class Meta:
        model = Explanation
        fields = ["id", "model_id", "target_item_id", "method", "interaction_ids", "raw_scores", "normalized_scores",
                  "completeness_gap", "steps", "details", "created_at"]


class DriftResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = DriftResult
        fields = ["id", "trained_model_id", "method", "drift", "reason", "interaction_ids", "drift_scores",
                  "flagged_interaction_ids", "details", "created_at"]


class ChangeSerializer(serializers.Serializer):
    interaction_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    weight = serializers.FloatField(min_value=0.0, max_value=1.0,
                                    help_text="0 removes (excludes) the interaction; (0, 1) down-weights it; "
                                              "below 1")

    def validate_weight(self, weight: float) -> float:
        if not weight < 1.0:
            raise serializers.ValidationError("A weight must be below 1 (1 would change nothing).")
        return weight


class PreviewRequestSerializer(serializers.Serializer):
    changes = ChangeSerializer(many=True, required=False,
                               help_text="Your own changes; omit to preview the fix your drift check found")


class PreviewSerializer(serializers.Serializer):
    changes = serializers.SerializerMethodField()
    fingerprint = serializers.CharField(help_text="Send back with apply; refused if your history changed since")
    taste_before = serializers.FloatField(allow_null=True, help_text=(
        "Mean log-probability of your kept interactions, now; null when the change keeps none"))
    taste_after = serializers.FloatField(allow_null=True,
                                         help_text="The same after the change (higher: closer to your taste)")
    ads = serializers.FloatField(help_text="Shift of the next-item distribution (Jensen-Shannon, 0-1)")
    top_before = serializers.SerializerMethodField()
    top_after = serializers.SerializerMethodField()
    suggested = serializers.BooleanField()
    satisfied = serializers.BooleanField(allow_null=True, help_text="For a suggestion: it brings items back")
    note = serializers.CharField()
    drift_check_id = serializers.IntegerField(source="check_id", allow_null=True)

    def get_changes(self, obj) -> list[dict]:
        return [{"interaction_id": pk, "weight": weight} for pk, weight in obj.changes.items()]

    def get_top_before(self, obj) -> list[dict]:
        return [{"id": item.pk, "title": item.title, "left": item in obj.left} for item in obj.top_before]

    def get_top_after(self, obj) -> list[dict]:
        return [{"id": item.pk, "title": item.title, "new": item in obj.entered} for item in obj.top_after]


class ApplyRequestSerializer(serializers.Serializer):
    changes = ChangeSerializer(many=True, min_length=1)
    fingerprint = serializers.CharField(min_length=1, help_text="From the preview")


class RecourseResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = RecourseResult
        fields = ["id", "trained_model_id", "changes", "metrics", "suggested_by_engine", "origin", "created_at",
                  "undone_at"]
