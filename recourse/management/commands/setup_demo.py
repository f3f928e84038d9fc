"""The demo: a synthetic dataset with learnable structure and late drift episodes (or a real MovieLens folder),
demo accounts and an active SASRec model.

In recourse because demo members are chosen by the model's own drift verdict (recsys never imports recourse).
"""

import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db.models import Count

from recourse.services.context import DriftUnavailable
from recourse.services.demo_facts import drift_facts
from recourse.services.drift import first_with_verdict
from recsys import jobs
from recsys.importers import synthetic
from recsys.management.progress import progress_bar
from recsys.models import Dataset, Interaction, InteractionSequence, Job, TrainedModel
from recsys.services import registry
from recsys.services.imports import import_dataset, load_parsed
from recsys.services.training import start_training

REAL_CATALOGUE = Path(settings.BASE_DIR).parent / "shared" / "data" / "ml-1m" / "movies.dat"
# Measured on the demo world (2026-12-02): 25 epochs at lr 0.003 / patience 5 stopped at epoch 8 with full HR@10
# 0.058 vs most-popular 0.072; 200 epochs at lr 0.001, dropout 0.2, patience 30 reach 0.25 vs 0.07 (~3 minutes).
DEMO_MODEL = {"max_len": 50, "hidden": 64, "blocks": 2, "epochs": 200, "patience": 30, "batch_size": 128, "lr": 0.001,
              "dropout": 0.2}
# The demo world: the paper's mixture plus structure a sequential model can learn (franchises watched in order,
# taste that moves slowly, themed sessions), and a late burst of off-taste films, drawn uniformly (not by popularity),
# for 8 % of the users (a quarter made a quarter of the reference histories bursty; docs/benchmarks.md, issue 18/19).
DEMO_WORLD: dict[str, Any] = {"seed": 7, "drift_users_fraction": 0.08, "drift_burst_len": 8, "drift_window": 0.25,
              "drift_items": "uniform", "sequel_share": 0.35, "taste_evolution": 1.0, "session_theme": 0.6}
REAL_DATA_ENV = "HIKMAX_DEMO_DATA"
REAL_CANDIDATE_LENGTHS = (30, 200)  # real data has no planted drift: try members with mid-length histories
ACCOUNTS = [
    # username, password, staff, superuser, what they are for
    ("demo", "hikmax-demo-member", False, False, "member whose history has a drift episode"),
    ("calm", "hikmax-demo-calm", False, False, "member with a drift-free history"),
    ("analyst", "hikmax-demo-analyst", True, False, "analyst (research dashboard, jobs)"),
    ("admin", "hikmax-demo-admin", True, True, "administrator (Django admin)"),
]


def planted_bursts(parsed) -> dict[str, dict]:
    """Each synthetic user's planted off-taste burst: start date (ISO, UTC), length and its categories."""
    interactions = parsed.interactions[parsed.interactions["drift_episode"]]
    categories = parsed.items.set_index("external_id")["categories"]
    disliked = parsed.profiles.set_index("user_id")["disliked_categories"]
    bursts = {}
    for user, rows in interactions.groupby("user_id", sort=False):
        names = sorted({name for item in rows["item_id"] for name in categories.get(item, ())} & set(disliked[user]))
        start = datetime.fromtimestamp(int(rows["timestamp"].min()), tz=UTC).date().isoformat()
        bursts[str(user)] = {"start": start, "start_timestamp": int(rows["timestamp"].min()), "length": len(rows),
                             "categories": names}
    return bursts


def since_burst(interactions):
    """Rows from the start of each user's planted burst to the end of that user's history (False elsewhere)."""
    started = interactions.groupby("user_id", sort=False)["drift_episode"].cummax()
    return started.astype(bool)


def demo_candidates(interactions, limit: int = 40) -> dict[str, list[str]]:
    """Users with a drift episode, most recent episode first (it pulls today's recommendations), and without one."""
    steps_from_end = interactions.groupby("user_id").cumcount(ascending=False)
    last_drift = steps_from_end[interactions["drift_episode"]].groupby(interactions["user_id"]).min()
    has_drift = interactions.groupby("user_id")["drift_episode"].any()
    return {"demo": [str(user) for user in last_drift.sort_values(kind="stable").index[:limit]],
            "calm": [str(user) for user in has_drift[~has_drift].index[:limit]]}


class Command(BaseCommand):
    help = ("Create the demo: a synthetic dataset with learnable sequential structure and late off-taste bursts "
            f"(or the MovieLens folder in ${REAL_DATA_ENV}), demo accounts and an active SASRec model.")

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=400)
        parser.add_argument("--items", type=int, default=600)
        parser.add_argument("--interactions", type=int, default=30_000)
        parser.add_argument("--data", default=os.environ.get(REAL_DATA_ENV, ""),
                            help=f"a MovieLens (or other importable) folder to use instead (default: ${REAL_DATA_ENV})")
        parser.add_argument("--skip-training", action="store_true")

    def handle(self, *args, users, items, interactions, data, skip_training, **options):
        name = settings.HIKMAX["DEMO_DATASET"]
        dataset = Dataset.objects.filter(name=name).first()
        if dataset is None:
            dataset = self._import_real(name, data) if data else self._create_dataset(name, users, items, interactions)
        if not Dataset.objects.filter(is_default=True).exists():
            registry.make_default(dataset)
        self._create_accounts()
        if not skip_training and not TrainedModel.objects.filter(dataset=dataset, is_active=True).exists():
            self._train(dataset)
            call_command("calibrate_drift", dataset.name)
        self._add_recent(dataset)
        self._link_members(dataset, checked=not skip_training)
        self._print_quality(dataset)
        if not skip_training:
            self._print_drift_facts(dataset)
        self._print_accounts()

    def _create_dataset(self, name, users, items, interactions):
        catalogue = synthetic.load_catalogue(REAL_CATALOGUE) if REAL_CATALOGUE.exists() else None
        with progress_bar("Generating demo data") as progress:
            parsed = synthetic.generate(
                n_users=users, n_items=items, n_interactions=interactions, catalogue=catalogue, **DEMO_WORLD,
                progress=lambda done, total: progress(100 * done / max(total, 1), "simulating"),
            )
        # The catalogue is what the members watched (and so what the model knows), not all of the real one.
        watched = parsed.items[parsed.items["external_id"].isin(parsed.interactions["item_id"].unique())]
        parsed = dataclasses.replace(parsed, items=watched.reset_index(drop=True))
        # The model is trained (and the drift check calibrated) on the histories as they were before the planted
        # bursts; each burst and what followed it arrive afterwards, as new interactions do between retrainings.
        before = dataclasses.replace(parsed, interactions=parsed.interactions[~since_burst(parsed.interactions)])
        with progress_bar("Importing demo data") as progress:
            dataset = load_parsed(name=name, parsed=before, title="Demo films (synthetic histories)", progress=progress)
        self._recent = parsed
        self._candidates = demo_candidates(parsed.interactions)
        self._bursts = planted_bursts(parsed)
        return dataset

    def _add_recent(self, dataset):
        """The interactions since each planted burst began, added to the histories the model was trained on."""
        parsed = getattr(self, "_recent", None)
        if parsed is None:
            return
        before = dataset.n_interactions
        dataset = load_parsed(name=dataset.name, parsed=parsed, title=dataset.title)
        trained = TrainedModel.objects.filter(dataset=dataset, is_active=True).exists()
        self.stdout.write(f"Added {dataset.n_interactions - before:,} interactions: the planted bursts and what "
                          f"followed them{', made since the model was trained' if trained else ''}")

    def _import_real(self, name, path):
        with progress_bar(f"Importing {path}") as progress:
            dataset = import_dataset(name=name, path=path, title=f"{Path(path).name} (real histories)",
                                     progress=progress)
        low, high = REAL_CANDIDATE_LENGTHS
        lengths = (Interaction.objects.filter(sequence__dataset=dataset).values("sequence__external_user_id")
                   .annotate(n=Count("id")).filter(n__gte=low, n__lte=high).order_by("sequence__external_user_id"))
        users = [row["sequence__external_user_id"] for row in lengths[:200]]
        self._candidates = {"demo": users, "calm": users}
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
        taken = set()
        for username, drift in (("demo", True), ("calm", False)):
            member = get_user_model().objects.get(username=username)
            candidates = [c for c in getattr(self, "_candidates", {}).get(username, []) if c not in taken]
            if not candidates or InteractionSequence.objects.filter(dataset=dataset, user=member).exists():
                continue
            chosen = first_with_verdict(dataset, candidates, drift=drift) if checked else None
            external_id = chosen or candidates[0]
            taken.add(external_id)
            burst = getattr(self, "_bursts", {}).get(external_id)
            sequence = InteractionSequence.objects.get(dataset=dataset, external_user_id=external_id)
            if burst:  # the planted truth, for the demo's guide and the export (the model never reads it)
                sequence.attributes = {**sequence.attributes, "planted_off_taste_burst": burst}
            sequence.user = member
            sequence.save(update_fields=["user", "attributes"])
            if burst and username == "demo":
                self.stdout.write(f"demo's planted off-taste burst: {burst['length']} films from {burst['start']} "
                                  f"({', '.join(burst['categories'])})")

    def _train(self, dataset):
        job = start_training(dataset=dataset, architecture="sasrec", hyperparameters=DEMO_MODEL, activate=True,
                             enqueue=False)
        with progress_bar("Training the demo SASRec") as progress:
            jobs.run(job.pk, on_progress=progress)
        job.refresh_from_db()
        if job.status != Job.Status.SUCCEEDED:
            self.stderr.write(self.style.ERROR(f"Training failed: {job.message}"))

    def _print_quality(self, dataset):
        """The active model's full-ranking HR@10 beside most-popular's (the demo is meaningless if they tie)."""
        model = TrainedModel.objects.filter(dataset=dataset, is_active=True).first()
        full = (model.metrics if model else {}).get("full", {})
        if "model" not in full:
            return
        mine, popular = (full[name]["metrics"]["HR@10"] for name in ("model", "most-popular"))
        low, high = full["model"].get("ci", {}).get("HR@10", (mine, mine))
        ratio = f"{mine / popular:.1f}x" if popular else "n/a"
        self.stdout.write(self.style.SUCCESS(
            f"\nDemo model {model}: full-ranking HR@10 {mine:.3f} (95% CI {low:.3f}-{high:.3f}) vs most-popular "
            f"{popular:.3f} ({ratio}) on {full['model']['num_users']} test users"))

    def _print_drift_facts(self, dataset):
        """What the drift check says for demo and calm, measured now (not assumed): verdict, the share of flagged
        films that are the planted burst, what the fix brings back, and the check after the fix (applied, then
        undone)."""
        for username in ("demo", "calm"):
            member = get_user_model().objects.get(username=username)
            try:
                facts = drift_facts(member, dataset)
            except DriftUnavailable as exc:
                self.stdout.write(f"{username}: drift check unavailable: {exc}")
                continue
            for line in facts.lines():
                self.stdout.write(f"{username}: {line}")

    def _print_accounts(self):
        self.stdout.write(self.style.SUCCESS("\nDemo accounts:"))
        for username, password, *_, purpose in ACCOUNTS:
            self.stdout.write(f"  {username:<8} password {password:<22} {purpose}")
