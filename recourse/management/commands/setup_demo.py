"""The demo: a synthetic dataset with drift episodes, demo accounts and an active SASRec model.

In recourse because demo members are chosen by the model's own drift verdict (recsys never imports recourse).
"""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from recourse.services.drift import first_with_verdict
from recsys import jobs
from recsys.importers import synthetic
from recsys.management.progress import progress_bar
from recsys.models import Dataset, InteractionSequence, Job, TrainedModel
from recsys.services.imports import load_parsed
from recsys.services.training import start_training

REAL_CATALOGUE = Path(settings.BASE_DIR).parent / "shared" / "data" / "ml-1m" / "movies.dat"
DEMO_MODEL = {"max_len": 50, "hidden": 64, "blocks": 2, "epochs": 40, "patience": 5, "batch_size": 128}
ACCOUNTS = [
    # username, password, staff, superuser, what they are for
    ("demo", "hikmax-demo-member", False, False, "member whose history has a drift episode"),
    ("calm", "hikmax-demo-calm", False, False, "member with a drift-free history"),
    ("analyst", "hikmax-demo-analyst", True, False, "analyst (research dashboard, jobs)"),
    ("admin", "hikmax-demo-admin", True, True, "administrator (Django admin)"),
]


def demo_candidates(interactions, limit: int = 40) -> dict[str, list[str]]:
    """Users with a drift episode, most recent episode first (it pulls today's recommendations), and without one."""
    steps_from_end = interactions.groupby("user_id").cumcount(ascending=False)
    last_drift = steps_from_end[interactions["drift_episode"]].groupby(interactions["user_id"]).min()
    has_drift = interactions.groupby("user_id")["drift_episode"].any()
    return {"demo": [str(user) for user in last_drift.sort_values(kind="stable").index[:limit]],
            "calm": [str(user) for user in has_drift[~has_drift].index[:limit]]}


class Command(BaseCommand):
    help = "Create the demo: a synthetic dataset with drift episodes, demo accounts and an active SASRec model."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=400)
        parser.add_argument("--items", type=int, default=600)
        parser.add_argument("--interactions", type=int, default=30_000)
        parser.add_argument("--skip-training", action="store_true")

    def handle(self, *args, users, items, interactions, skip_training, **options):
        name = settings.HIKMAX["DEMO_DATASET"]
        dataset = Dataset.objects.filter(name=name).first() or self._create_dataset(name, users, items, interactions)
        self._create_accounts()
        if not skip_training and not TrainedModel.objects.filter(dataset=dataset, is_active=True).exists():
            self._train(dataset)
            call_command("calibrate_drift", dataset.name)
        self._link_members(dataset, checked=not skip_training)
        self._print_accounts()

    def _create_dataset(self, name, users, items, interactions):
        catalogue = synthetic.load_catalogue(REAL_CATALOGUE) if REAL_CATALOGUE.exists() else None
        with progress_bar("Generating demo data") as progress:
            parsed = synthetic.generate(
                n_users=users, n_items=items, n_interactions=interactions, seed=7, drift_users_fraction=0.25,
                drift_burst_len=6, catalogue=catalogue,
                progress=lambda done, total: progress(100 * done / max(total, 1), "simulating"),
            )
        with progress_bar("Importing demo data") as progress:
            dataset = load_parsed(name=name, parsed=parsed, title="Demo films (synthetic histories)", progress=progress)
        self._candidates = demo_candidates(parsed.interactions)
        return dataset

    def _create_accounts(self):
        User = get_user_model()
        for username, password, staff, superuser, _ in ACCOUNTS:
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff, user.is_superuser = staff, superuser
            user.set_password(password)
            user.save()

    def _link_members(self, dataset, checked: bool):
        """demo: a history the model itself finds drifting; calm: one it finds clean (first candidates unchecked)."""
        for username, drift in (("demo", True), ("calm", False)):
            member = get_user_model().objects.get(username=username)
            candidates = getattr(self, "_candidates", {}).get(username, [])
            if not candidates or InteractionSequence.objects.filter(dataset=dataset, user=member).exists():
                continue
            chosen = first_with_verdict(dataset, candidates, drift=drift) if checked else None
            external_id = chosen or candidates[0]
            InteractionSequence.objects.filter(dataset=dataset, external_user_id=external_id).update(user=member)

    def _train(self, dataset):
        job = start_training(dataset=dataset, architecture="sasrec", hyperparameters=DEMO_MODEL, activate=True,
                             enqueue=False)
        with progress_bar("Training the demo SASRec") as progress:
            jobs.run(job.pk, on_progress=progress)
        job.refresh_from_db()
        if job.status != Job.Status.SUCCEEDED:
            self.stderr.write(self.style.ERROR(f"Training failed: {job.message}"))

    def _print_accounts(self):
        self.stdout.write(self.style.SUCCESS("\nDemo accounts:"))
        for username, password, *_, purpose in ACCOUNTS:
            self.stdout.write(f"  {username:<8} password {password:<22} {purpose}")
