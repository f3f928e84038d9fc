from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q

from recsys.models import Dataset, Item


def artefact_path(forecaster: "Forecaster", filename: str) -> str:
    return f"forecast/{forecaster.dataset.name}/v{forecaster.version}/{filename}"


class Forecaster(models.Model):
    """A versioned glass-box forecaster of emerging hits on one dataset, with its audit and governance card."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="forecasters")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    is_active = models.BooleanField(default=False)
    settings = models.JSONField(default=dict, blank=True, help_text="ForecastConfig: policy, cutoff, models…")
    report = models.JSONField(default=dict, blank=True, help_text="Metrics with CIs, explanations, audits")
    threshold = models.FloatField(null=True, blank=True)
    cutoff_timestamp = models.BigIntegerField(null=True, blank=True)
    has_tags = models.BooleanField(default=False)
    n_candidates = models.PositiveIntegerField(default=0)
    n_positives = models.PositiveIntegerField(default=0)
    artefact = models.FileField(upload_to=artefact_path, blank=True, help_text="Fitted pipelines (joblib)")
    card = models.FileField(upload_to=artefact_path, blank=True, help_text="Model Governance Card (HTML)")
    error = models.TextField(blank=True)
    training_seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "version"], name="forecaster_unique_version"),
            models.UniqueConstraint(
                fields=["dataset"], condition=Q(is_active=True), name="one_active_forecaster_per_dataset"
            ),
        ]

    def __str__(self):
        return f"Forecaster v{self.version} on {self.dataset.name}"

    @property
    def primary_metrics(self) -> dict:
        primary = self.report.get("primary_model")
        return self.report.get("models", {}).get(primary, {}).get("test", {}) if primary else {}


class EmergingTitle(models.Model):
    """One title of a forecaster's ranking of today's emerging candidates."""

    forecaster = models.ForeignKey(Forecaster, on_delete=models.CASCADE, related_name="titles")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()
    probability = models.FloatField()
    flagged = models.BooleanField(help_text="Probability at or above the forecaster's decision threshold")
    explanation = models.JSONField(default=dict, blank=True, help_text="TreeSHAP: base value, contributions")

    class Meta:
        ordering = ["forecaster", "rank"]
        constraints = [models.UniqueConstraint(fields=["forecaster", "item"], name="emerging_title_unique_item")]
        indexes = [models.Index(fields=["forecaster", "rank"])]

    def __str__(self):
        return f"#{self.rank} {self.item.title}"
