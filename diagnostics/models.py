from django.conf import settings
from django.db import models

from recsys.models import Dataset, Job


class DiagnosticRun(models.Model):
    """Which members and titles the model leans on: one retrain per (entity, seed), plus the unablated model."""

    class Architecture(models.TextChoices):
        MF = "mf", "Matrix factorisation (ALS)"
        SASREC = "sasrec", "SASRec"
        GRU4REC = "gru4rec", "GRU4Rec"
        TCN = "tcn", "TCN"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="diagnostic_runs")
    architecture = models.CharField(max_length=16, choices=Architecture.choices)
    hyperparameters = models.JSONField(default=dict, blank=True)
    seeds = models.JSONField(default=list)
    sample_seed = models.PositiveIntegerField(default=0)
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="diagnostic_run")
    data_path = models.CharField(max_length=500, blank=True)  # the histories every retrain of the run reads
    evaluated_users = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Diagnostics #{self.pk}: {self.get_architecture_display()} on {self.dataset.name}"


class Retrain(models.Model):
    """One retrain without one entity (or without nothing: the unablated model) under one seed."""

    class Kind(models.TextChoices):
        NONE = "none", "Nothing removed"
        USER = "user", "Member"
        ITEM = "item", "Title"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(DiagnosticRun, on_delete=models.CASCADE, related_name="retrains")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    key = models.CharField(max_length=64, blank=True)  # external user or item id
    seed = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    ranks = models.JSONField(null=True, blank=True)  # rank of each evaluated user's held-out item
    seconds = models.FloatField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "kind", "key", "seed"]
        constraints = [
            models.UniqueConstraint(fields=["run", "kind", "key", "seed"], name="one_retrain_per_entity_and_seed"),
        ]

    def __str__(self):
        removed = "nothing" if self.kind == self.Kind.NONE else f"{self.kind} {self.key}"
        return f"Run {self.run_id}: without {removed}, seed {self.seed} ({self.status})"
