"""Train a model version in the foreground, through the same service and job as the admin's Train action."""

import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from recsys import jobs
from recsys.ml.config import LOSSES, ModelConfig
from recsys.ml.evaluation import PROTOCOLS
from recsys.models import Dataset, Job, TrainedModel
from recsys.services import training

# command option -> ModelConfig field
OPTION_FIELDS = {"epochs": "epochs", "max_len": "max_len", "hidden": "hidden", "batch_size": "batch_size",
                 "dropout": "dropout", "loss": "loss"}


class Command(BaseCommand):
    help = ("Train a sequential recommender on a dataset as a training job run in this process "
            "(recorded exactly like the admin's Train action), with a per-epoch progress bar. Options left out are "
            "chosen from the data (loss by catalogue size, max length from the histories, dropout from their "
            "size and sparsity, validation frequency from its measured cost) and listed in the model's "
            "hyper-parameters under 'auto'.")

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="dataset name or id")
        parser.add_argument("--arch", required=True, choices=training.ARCHITECTURES)
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--max-len", type=int, help="L, the longest history the model reads")
        parser.add_argument("--hidden", type=int, help="d, embedding and hidden size")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--dropout", type=float)
        parser.add_argument("--loss", choices=LOSSES)
        parser.add_argument("--activate", action="store_true", help="make the model active when it is ready")
        parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                            help="any other ModelConfig field, value as JSON (repeatable), e.g. --set blocks=1")

    def handle(self, *args, dataset, arch, activate, **options):
        found = find_dataset(dataset)
        hyperparameters = {**parse_settings(options["set"]),
                           **{field: options[option] for option, field in OPTION_FIELDS.items()
                              if options[option] is not None}}
        try:
            job = training.start_training(dataset=found, architecture=arch, hyperparameters=hyperparameters,
                                          activate=activate, enqueue=False)
        except training.TrainingError as exc:
            raise CommandError(str(exc)) from exc
        model = TrainedModel.objects.get(pk=job.params["model_id"])
        with EpochBar(model) as bar:
            jobs.run(job.pk, on_progress=bar)
        job.refresh_from_db()
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"Training job #{job.pk} {job.status}: {job.message}")
        model.refresh_from_db()
        self.stdout.write(metrics_table(model))
        self.stdout.write(self.style.SUCCESS(
            f"{model} ready ({len(model.training_curve)} epochs, {model.training_seconds:.1f} s, job #{job.pk})"
            + ("; active" if model.is_active else "")
        ))


def find_dataset(name_or_id: str) -> Dataset:
    found = Dataset.objects.filter(name=name_or_id).first()
    if found is None and name_or_id.isdigit():
        found = Dataset.objects.filter(pk=int(name_or_id)).first()
    if found is None:
        raise CommandError(f"No dataset named {name_or_id!r} (and no dataset with that id).")
    return found


def parse_settings(pairs: list[str]) -> dict:
    """{"field": value} from FIELD=VALUE strings; the value is read as JSON, else kept as a string."""
    settings = {}
    for pair in pairs:
        field, separator, value = pair.partition("=")
        if not separator or not field.strip():
            raise CommandError(f"--set expects FIELD=VALUE, got {pair!r}.")
        try:
            settings[field.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[field.strip()] = value
    return settings


class EpochBar:
    """A tqdm bar over epochs, fed by the job's progress callback; loss, validation NDCG@10 and the seconds
    spent training and validating come from the training curve the service records on the model row before
    each epoch's progress report."""

    def __init__(self, model: TrainedModel):
        self.model_id = model.pk
        total = model.hyperparameters.get("epochs", ModelConfig.epochs)
        self.bar = tqdm(total=total, desc=str(model), unit="epoch")
        self.ndcg = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.bar.close()

    def __call__(self, percent: float, message: str = "") -> None:
        curve = TrainedModel.objects.values_list("training_curve", flat=True).get(pk=self.model_id)
        if len(curve) <= self.bar.n:
            self.bar.write(message)  # a phase: reading histories, evaluating
            return
        point = curve[-1]
        self.ndcg = (point.get("valid") or {}).get("NDCG@10", self.ndcg)
        self.bar.update(len(curve) - self.bar.n)
        ndcg = "—" if self.ndcg is None else f"{self.ndcg:.4f}"
        seconds = f"train {point.get('seconds', 0.0):.1f}s"
        if point.get("valid"):
            seconds += f" + valid {point.get('valid_seconds', 0.0):.1f}s"
        self.bar.set_postfix_str(f"loss {point['loss']:.4f}, valid NDCG@10 {ndcg}, {seconds}")


def metrics_table(model: TrainedModel) -> str:
    lines = [f"{'protocol':<9} {'scorer':<13} {'HR@10':>7} {'NDCG@10':>8}"]
    for protocol in PROTOCOLS:
        for scorer, report in model.metrics.get(protocol, {}).items():
            metrics = report["metrics"]
            lines.append(f"{protocol:<9} {scorer:<13} {metrics['HR@10']:>7.4f} {metrics['NDCG@10']:>8.4f}")
    return "\n".join(lines)
