from rest_framework import serializers

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
