from rest_framework import serializers

from . import ratings
from .models import Interaction, Item


class ItemSerializer(serializers.ModelSerializer):
    categories = serializers.ListField(source="category_list", child=serializers.CharField())

    class Meta:
        model = Item
        fields = ["id", "external_id", "title", "year", "categories"]


class InteractionSerializer(serializers.ModelSerializer):
    item = ItemSerializer()

    class Meta:
        model = Interaction
        fields = ["id", "item", "timestamp", "rating", "weight", "state", "source"]


class AddInteractionSerializer(serializers.Serializer):
    item_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="An item of the current dataset")
    rating = serializers.FloatField(
        required=False, allow_null=True,
        help_text=f"On the dataset's rating scale, in steps of about a tenth of it: {ratings.STARS.member_rule} on "
                  "five stars")

    def validate_rating(self, rating):
        """The context's ``scale``: the current dataset's (``ratings.scale_of``)."""
        scale = self.context["scale"]
        if rating is not None and not scale.is_member_rating(rating):
            raise serializers.ValidationError(scale.member_rule)
        return rating


class RecommendedItemSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.FloatField()
    item = ItemSerializer()


class RecommendationsSerializer(serializers.Serializer):
    model_id = serializers.IntegerField(source="model.pk")
    architecture = serializers.CharField(source="model.architecture")
    fallback = serializers.BooleanField(help_text="True when these are the most popular items, not personal ones")
    truncated = serializers.BooleanField()
    ignored_item_ids = serializers.SerializerMethodField()
    items = RecommendedItemSerializer(many=True)

    def get_ignored_item_ids(self, obj) -> list[int]:
        return [item.pk for item in obj.ignored]
