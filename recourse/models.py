from django.conf import settings
from django.db import models


class Explanation(models.Model):
    """Why one item was recommended to one member, by one method, for one model version and history."""

    class Method(models.TextChoices):
        INTEGRATED_GRADIENTS = "ig", "Integrated Gradients"
        ATTENTION = "attention", "Attention weights"
        OCCLUSION = "occlusion", "Leave-one-out occlusion"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="explanations")
    trained_model = models.ForeignKey("recsys.TrainedModel", on_delete=models.CASCADE, related_name="explanations")
    target_item = models.ForeignKey("recsys.Item", on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=12, choices=Method.choices)
    history_fingerprint = models.CharField(max_length=64)
    interaction_ids = models.JSONField(default=list, help_text="The explained interactions, oldest first")
    raw_scores = models.JSONField(default=list)
    normalized_scores = models.JSONField(default=list)
    completeness_gap = models.FloatField(null=True, blank=True)
    steps = models.PositiveIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True, help_text="Narrative, counterfactuals, agreement")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "trained_model", "target_item", "method", "history_fingerprint"],
                name="explanation_cached_once",
            )
        ]

    def __str__(self):
        return f"{self.get_method_display()} of {self.target_item} for {self.user}"


class ExplanationFeedback(models.Model):
    """A member's "Was this helpful?" answer, shown to analysts."""

    explanation = models.ForeignKey(Explanation, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    helpful = models.BooleanField()
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{'Helpful' if self.helpful else 'Not helpful'}: {self.explanation}"
