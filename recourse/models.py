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


class DriftResult(models.Model):
    """One drift check of a member's history: flagged interactions and the yes/no verdict."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drift_results")
    trained_model = models.ForeignKey("recsys.TrainedModel", on_delete=models.CASCADE, related_name="drift_results")
    method = models.CharField(max_length=20, default="taste")
    drift = models.BooleanField()
    reason = models.CharField(max_length=300)
    # The paper's genre method (ig_alignment) only; None for the taste check.
    alignment = models.FloatField(null=True, blank=True)
    alignment_without_flagged = models.FloatField(null=True, blank=True)
    ads_without_flagged = models.FloatField(null=True, blank=True)
    ads_cutoff = models.FloatField(null=True, blank=True)
    interaction_ids = models.JSONField(default=list, help_text="The checked interactions, oldest first")
    drift_scores = models.JSONField(default=list)
    flagged_interaction_ids = models.JSONField(default=list, help_text="Most suspicious first")
    history_fingerprint = models.CharField(max_length=64)
    details = models.JSONField(default=dict, blank=True, help_text=(
        "Taste check: the suggested fix {interaction id: weight}, top 10 now and after it (item ids), the "
        "likelihood of the established taste before/after, the evidence and its calibrated cutoff"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Drift check of {self.user}: {'yes' if self.drift else 'no'}"


class RecourseResult(models.Model):
    """An applied correction of a member's history, with everything needed to undo it exactly."""

    class Origin(models.TextChoices):
        FIX = "fix", "Fix my recommendations"
        HISTORY = "history", "My history"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recourse_results")
    sequence = models.ForeignKey("recsys.InteractionSequence", on_delete=models.CASCADE, related_name="+")
    trained_model = models.ForeignKey("recsys.TrainedModel", null=True, on_delete=models.SET_NULL, related_name="+")
    changes = models.JSONField(help_text="[{interaction_id, title, before: {state, weight}, after: {state, weight}}]")
    metrics = models.JSONField(default=dict, help_text="Alignment, ADS and DTC before/after; top-10 before/after")
    suggested_by_engine = models.BooleanField(default=False)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.FIX)
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    # Set by corrections.undo: titles of changed entries deleted from the history since, so not restored.
    gone: tuple[str, ...] = ()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Correction #{self.pk} by {self.user} ({len(self.changes)} change(s))"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None

    @property
    def top10_replaced(self) -> int | None:
        """How many of the member's top 10 this correction replaced, as previewed; None when not measured."""
        before, after = self.metrics.get("top_before"), self.metrics.get("top_after")
        return None if before is None or after is None else len(set(after) - set(before))


class Experiment(models.Model):
    """A population drift/recourse experiment (paper Tables 3-4), run as a job on the xai queue."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=120)
    dataset = models.ForeignKey("recsys.Dataset", on_delete=models.CASCADE, related_name="experiments")
    trained_model = models.ForeignKey("recsys.TrainedModel", on_delete=models.CASCADE, related_name="experiments")
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    job = models.ForeignKey("recsys.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} on {self.dataset}"


class DriftWatch(models.Model):
    """Proactive drift checks of one member in one dataset: new interactions not checked yet and the rate limit.

    ``arrivals`` counts batches of new interactions; a check covers those counted when it started
    (``checked_arrivals``), so interactions arriving during a check are checked next time.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drift_watches")
    dataset = models.ForeignKey("recsys.Dataset", on_delete=models.CASCADE, related_name="+")
    arrivals = models.PositiveIntegerField(default=0)
    checked_arrivals = models.PositiveIntegerField(default=0)
    pending_since = models.DateTimeField(null=True, blank=True, help_text="First arrival not checked yet")
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["pending_since", "pk"]
        verbose_name_plural = "drift watches"
        constraints = [models.UniqueConstraint(fields=["user", "dataset"], name="drift_watch_once_per_member")]

    def __str__(self):
        return f"Drift watch of {self.user} in {self.dataset_id}"

    @property
    def is_pending(self) -> bool:
        return self.arrivals > self.checked_arrivals


class DriftAlert(models.Model):
    """A proactive notice: a background drift check found interactions pulling the member's recommendations off
    their taste. At most one open (neither dismissed nor closed) per member and dataset."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drift_alerts")
    dataset = models.ForeignKey("recsys.Dataset", on_delete=models.CASCADE, related_name="+")
    drift_result = models.ForeignKey(DriftResult, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    flagged_interaction_ids = models.JSONField(default=list, help_text="What pulled them, most suspicious first")
    narrative = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "dataset"], name="one_open_drift_alert_per_member",
                                    condition=models.Q(dismissed_at__isnull=True, closed_at__isnull=True)),
        ]

    def __str__(self):
        return f"Drift alert for {self.user} ({self.state})"

    @property
    def state(self) -> str:
        if self.dismissed_at:
            return "dismissed"
        return "closed" if self.closed_at else "open"


class NeverFlag(models.Model):
    """A member's "Don't flag this again" on one interaction: drift checks never flag it (until undone).

    Undo sets ``undone_at``; the row stays as a record of the choice.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="never_flags")
    interaction = models.ForeignKey("recsys.Interaction", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "interaction"], condition=models.Q(undone_at__isnull=True),
                                    name="never_flag_once_per_interaction"),
        ]

    def __str__(self):
        return f"{self.user}: don't flag interaction {self.interaction_id}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None
