from rest_framework import serializers

from .models import Explanation


class ExplanationSerializer(serializers.ModelSerializer):
    model_id = serializers.IntegerField(source="trained_model_id")
    target_item_id = serializers.IntegerField()

    class Meta:
        model = Explanation
        fields = ["id", "model_id", "target_item_id", "method", "interaction_ids", "raw_scores", "normalized_scores",
                  "completeness_gap", "steps", "details", "created_at"]
