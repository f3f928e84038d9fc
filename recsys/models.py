import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q, TextChoices
from django.db.models.functions import Lower

SQLITE_LOWER = "hikmax_lower"  # registered on every SQLite connection by recsys.collation


@models.CharField.register_lookup
class UnicodeLower(Lower):
    """``title__unicode_lower__contains=query``: text and query both lowered in every alphabet. PostgreSQL's LOWER
    already does that; SQLite's lowers A-Z only (so 'песня' never found 'Песня'), so there it is Python's."""

    lookup_name = "unicode_lower"
    bilateral = True

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function=SQLITE_LOWER, **extra_context)


class Dataset(models.Model):
    class ErasurePolicy(TextChoices):  # not models.TextChoices: the "models" reverse relation shadows the module here
        DELETE = "delete", "Delete the member's interactions"
        ANONYMISE = "anonymise", "Keep interactions, detached and anonymised"

    class ItemKind(TextChoices):  # what the member's pages call the items (recsys.vocabulary)
        FILMS = "films", "Films that members watched"
        ITEMS = "items", "Items that members picked (any domain: tracks, products, articles…)"

    name = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source_format = models.CharField(max_length=32, blank=True)
    source_checksum = models.CharField(max_length=64, blank=True)
    has_timestamps = models.BooleanField(default=True)
    has_categories = models.BooleanField(default=True)
    item_kind = models.CharField(
        "the items are", max_length=8, choices=ItemKind.choices, default=ItemKind.FILMS,
        help_text="The words the member's pages use for the items; chosen from the format at import unless the "
                  "importer said, and editable here (a MovieLens-format file can hold music, a CSV can hold films)")
    rating_low = models.FloatField(
        null=True, blank=True, help_text="The lowest rating the imported files hold (empty: they hold none)")
    rating_high = models.FloatField(
        null=True, blank=True,
        help_text="The highest rating the imported files hold: the top of the scale the member's pages read ratings "
                  "on (recsys.ratings: 5 is stars; empty: five stars, the scale members rate on). Set it to the "
                  "scale's real top if no rating in the files reached it")
    field_mapping = models.JSONField(
        default=list, blank=True, editable=False,
        help_text="[[role, where the last import read it from], …]: which columns became user, item, rating, …")
    erasure_policy = models.CharField(max_length=16, choices=ErasurePolicy.choices, default=ErasurePolicy.ANONYMISE)
    is_default = models.BooleanField(
        "site default", default=False, help_text="New members and members without a history land on this dataset"
    )
    n_users = models.PositiveIntegerField(default=0)
    n_items = models.PositiveIntegerField(default=0)
    n_interactions = models.PositiveIntegerField(default=0)
    last_model_version = models.PositiveIntegerField(
        default=0, editable=False, help_text="The highest model version number given out here (never given again)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_dataset"),
        ]

    def __str__(self):
        return self.title or self.name

    def clean(self):
        """The rating range is a scale (recsys.ratings.scale_of): both ends or neither, the top above 0 and the low."""
        low, high = self.rating_low, self.rating_high
        if (low is None) != (high is None):
            raise ValidationError("Give both ends of the rating range, or neither (then ratings are read as stars).")
        if high is not None and low is not None and (high <= 0 or high <= low):
            raise ValidationError({"rating_high": "The top of the rating scale must be above 0 and above its low end."})


class Item(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=64)
    title = models.CharField(max_length=300)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    # "|"-joined category names: portable across SQLite and PostgreSQL and cheap to bulk-load.
    categories = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "external_id"], name="item_unique_external_id"),
        ]
        indexes = [models.Index(fields=["dataset", "title"])]

    def __str__(self):
        return self.title

    @property
    def category_list(self) -> list[str]:
        return self.parse_categories(self.categories)

    @staticmethod
    def parse_categories(text: str | None) -> list[str]:
        """The one category parser: names split on "|" or ",", stripped, empty ones and repeats dropped.

        Importers store "|"-joined names; rows edited by hand or loaded elsewhere may use commas.
        """
        names = (part.strip() for part in (text or "").replace(",", "|").split("|"))
        return list(dict.fromkeys(name for name in names if name))

    @staticmethod
    def title_contains(query: str, prefix: str = "") -> Q:
        """Rows whose title contains ``query``, ignoring case in every alphabet ('águas' finds 'Águas de Março')."""
        return Q(**{f"{prefix}title__unicode_lower__contains": query})

    @staticmethod
    def in_category(name: str, prefix: str = "") -> Q:
        """Rows whose categories, as parse_categories reads them, include this name exactly."""
        separator = r"[|,]"
        pattern = rf"(^|{separator})\s*{re.escape(name.strip())}\s*($|{separator})"
        return Q(**{f"{prefix}categories__regex": pattern})


class InteractionSequence(models.Model):
    """One person's history in one dataset; optionally linked to an account."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="sequences")
    external_user_id = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sequences",
    )
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "external_user_id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "external_user_id"], name="sequence_unique_external_user"),
            models.UniqueConstraint(
                fields=["dataset", "user"],
                condition=Q(user__isnull=False),
                name="sequence_one_per_account_and_dataset",
            ),
        ]

    def __str__(self):  # "demo / user account-5" read as the demo account's
        return f"history {self.external_user_id} in dataset {self.dataset.name}"


class InteractionQuerySet(models.QuerySet):
    def active(self) -> "InteractionQuerySet":
        """Interactions the model learns from: excluded ones are left out (a down-weighted one stays)."""
        return self.filter(state=Interaction.State.ACTIVE)

    def chronological(self) -> "InteractionQuerySet":
        """Oldest first; equal timestamps keep the source file's row order."""
        return self.order_by(*Interaction.CHRONOLOGICAL)


class Interaction(models.Model):
    """A history entry. Recourse never deletes rows: it excludes them or lowers their weight."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        EXCLUDED = "excluded", "Excluded"

    class Source(models.TextChoices):
        IMPORT = "import", "Imported"
        MANUAL = "manual", "Added by the member"

    sequence = models.ForeignKey(InteractionSequence, on_delete=models.CASCADE, related_name="interactions")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="interactions")
    timestamp = models.BigIntegerField(help_text="Unix seconds, or ordinal for formats without time")
    position = models.BigIntegerField(
        null=True, blank=True, help_text="Row order in the source file: the tie-break for equal timestamps"
    )
    rating = models.FloatField(null=True, blank=True)
    weight = models.FloatField(default=1.0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.IMPORT)

    CHRONOLOGICAL = ("timestamp", F("position").asc(nulls_last=True), "id")

    objects = InteractionQuerySet.as_manager()

    class Meta:
        ordering = ["sequence", "timestamp", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="interaction_unique_position"),
            models.CheckConstraint(
                condition=Q(weight__gte=0.0) & Q(weight__lte=1.0), name="interaction_weight_in_unit_range"
            ),
        ]
        indexes = [models.Index(fields=["sequence", "timestamp", "position"])]

    def __str__(self):
        return f"{self.item_id} at {self.timestamp}"


class NotInterested(models.Model):
    """A member's "Not interested" on a recommendation: the item is hidden from them and counts as a dislike.

    Undo sets ``undone_at``; the row stays as a record of the signal.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="not_interested")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "item"], condition=Q(undone_at__isnull=True),
                                    name="not_interested_once_per_item"),
        ]

    def __str__(self):
        return f"{self.user} is not interested in {self.item}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None


class ItemTag(models.Model):
    """A free-text tag one person put on an item (MovieLens tags.csv); the forecaster learns tag sentiment."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="tags")
    sequence = models.ForeignKey(InteractionSequence, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(max_length=255)
    timestamp = models.BigIntegerField(help_text="Unix seconds")

    class Meta:
        ordering = ["item", "timestamp", "id"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "item", "tag", "timestamp"], name="item_tag_unique"),
        ]

    def __str__(self):
        return self.tag


class TrainedModel(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Architecture(models.TextChoices):
        SASREC = "sasrec", "SASRec"
        GRU4REC = "gru4rec", "GRU4Rec"
        TCN = "tcn", "TCN"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="models")
    version = models.PositiveIntegerField(
        editable=False,
        help_text="v1, v2, … per dataset, in the order the versions were created (set on the first save). "
                  "Versions created before numbering per dataset keep the number they had (their id).",
    )
    architecture = models.CharField(max_length=16, choices=Architecture.choices)
    hyperparameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    is_active = models.BooleanField(default=False)
    artefact_path = models.CharField(max_length=500, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    training_curve = models.JSONField(default=list, blank=True)
    data_snapshot = models.JSONField(default=dict, blank=True)
    calibration = models.JSONField(default=dict, blank=True)
    device = models.CharField(max_length=64, blank=True)
    training_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset"], condition=Q(is_active=True), name="one_active_model_per_dataset"
            ),
            models.UniqueConstraint(fields=["dataset", "version"], name="trained_model_unique_version"),
        ]

    def __str__(self):
        return f"{self.get_architecture_display()} v{self.version} on {self.dataset.name}"

    def save(self, *args, **kwargs):
        if self.version is None:
            with transaction.atomic():
                # The dataset's counter (its row locked by the update): two versions created at once get different
                # numbers, and a deleted version's number is never given to another.
                Dataset.objects.filter(pk=self.dataset_id).update(last_model_version=F("last_model_version") + 1)
                self.version = Dataset.objects.values_list("last_model_version", flat=True).get(pk=self.dataset_id)
                return super().save(*args, **kwargs)
        return super().save(*args, **kwargs)


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    ACTIVE = (Status.QUEUED, Status.RUNNING)
    duplicate = False  # set by jobs.start_job: True when an identical active job was returned instead

    kind = models.CharField(max_length=40)
    queue = models.CharField(max_length=20, default="default")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from the worker running it")
    finished_at = models.DateTimeField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True, help_text="Kind, owner and parameters, hashed")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "-created_at"])]
        constraints = [
            # One queued-or-running job per submission: a double click returns the first job.
            models.UniqueConstraint(fields=["fingerprint"], name="job_one_active_per_fingerprint",
                                    condition=Q(status__in=["queued", "running"]) & ~Q(fingerprint="")),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class ErasedHistory(models.Model):
    """An imported history whose member erased their data: a re-import of the dataset's files leaves its rows out,
    so the erasure is not undone by importing the same (or a newer) file again.

    Only a hash of the dataset and the external user id is kept (``recsys.services.history.erased_key``)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    user_key = models.CharField(max_length=64, help_text="sha256 of the dataset's id and the external user id")
    erased_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "user_key"], name="erased_history_once")]

    def __str__(self):
        return f"an erased history in {self.dataset.name}"


class TrainingExclusion(models.Model):
    """An administrator's decision to leave a member's history out of training; lifting it keeps the record.

    No data is deleted: the interactions stay as they are and every other use of them is unchanged.
    """

    sequence = models.ForeignKey(InteractionSequence, on_delete=models.CASCADE, related_name="training_exclusions")
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["sequence"], condition=Q(lifted_at__isnull=True),
                                    name="one_open_training_exclusion_per_sequence"),
        ]

    def __str__(self):
        state = "lifted" if self.lifted_at else "in force"
        return f"{self.sequence} left out of training ({state})"

    @property
    def in_force(self) -> bool:
        return self.lifted_at is None
