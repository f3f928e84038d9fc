"""A small film world with one trained model, shared by the member-loop browser tests.

Training costs tens of seconds, so it happens once per session: the rows are created with fixed
primary keys, the model is trained and calibrated, its artefact is kept and the rows are deleted.
Each test then re-creates the same rows (milliseconds) with a TrainedModel pointing at the kept
artefact, so the live server's cached model is reused from one test to the next.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pytest

from recsys.models import Dataset, Interaction, InteractionSequence, Item, TrainedModel

DATASET_PK = 910_000
FIRST_ITEM_PK = 910_001
GENRES = ["Comedy", "Horror", "Western", "Drama", "Children's"]
PER_GENRE = 8
START = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
DAY = 86_400
MODEL_FIELDS = ("architecture", "hyperparameters", "metrics", "training_curve", "data_snapshot", "calibration",
                "device", "training_seconds")
HYPERPARAMETERS = {"max_len": 12, "hidden": 16, "blocks": 1, "epochs": 12, "batch_size": 32, "jit_compile": False,
                   "length_buckets": 1, "dropout": 0.1, "patience": 50}


def item_pk(genre: int, k: int) -> int:
    return FIRST_ITEM_PK + genre * PER_GENRE + k


def title_of(pk: int) -> str:
    """Some titles are as long as MovieLens's longest, which is what squeezes a chart's plot area."""
    genre, k = divmod(pk - FIRST_ITEM_PK, PER_GENRE)
    subtitle = ", or How I Learned to Stop Worrying and Love the Sequel" if k % 3 == 1 else ""
    return f"{GENRES[genre]} film {k + 1}{subtitle} ({2000 + genre * PER_GENRE + k})"


def reference_histories() -> dict[str, list[int]]:
    """Each reference user walks through one genre, film after film, with one stray pick."""
    rng = np.random.default_rng(7)
    histories = {}
    for user in range(60):
        genre = user % len(GENRES)
        start = int(rng.integers(PER_GENRE))
        walk = [item_pk(genre, (start + step) % PER_GENRE) for step in range(7)]
        stray = item_pk(int(rng.integers(len(GENRES))), int(rng.integers(PER_GENRE)))
        walk.insert(int(rng.integers(1, 7)), stray)
        histories[f"ref{user}"] = walk
    return histories


# The member: comedies (rated 4-5), one comedy rated 2, then a burst of horror.
MEMBER_HISTORY = [(item_pk(0, k), 5.0 if k % 2 else 4.0) for k in range(5)] + [(item_pk(0, 5), 2.0)] + [
    (item_pk(1, k), 3.0) for k in range(3)
]


@dataclass
class World:
    dataset: Dataset
    model: TrainedModel
    member: object

    def titles(self, pks) -> list[str]:
        return [title_of(pk) for pk in pks]


def build_rows(member) -> Dataset:
    dataset = Dataset.objects.create(pk=DATASET_PK, name="loop-films", title="Loop films")
    Item.objects.bulk_create(
        Item(pk=item_pk(g, k), dataset=dataset, external_id=str(item_pk(g, k)), title=title_of(item_pk(g, k)),
             year=2000 + g * PER_GENRE + k, categories=GENRES[g])
        for g in range(len(GENRES)) for k in range(PER_GENRE)
    )
    for external_id, pks in reference_histories().items():
        _history(dataset, external_id, None, [(pk, 4.0) for pk in pks])
    _history(dataset, "member", member, MEMBER_HISTORY)
    Dataset.objects.filter(pk=dataset.pk).update(n_items=len(GENRES) * PER_GENRE)
    return dataset


def _history(dataset, external_id, user, pairs) -> None:
    sequence = InteractionSequence.objects.create(dataset=dataset, external_user_id=external_id, user=user)
    Interaction.objects.bulk_create(
        Interaction(sequence=sequence, item_id=pk, timestamp=START + step * DAY, position=step, rating=rating)
        for step, (pk, rating) in enumerate(pairs)
    )


@pytest.fixture(scope="session")
def trained_world_model(django_db_setup, django_db_blocker) -> dict:
    """Train and calibrate once; returns the TrainedModel fields and the artefact's kept copy."""
    from accounts.models import User
    from recourse.services import context
    from recsys.services import artefacts, serving
    from tests.web.conftest import train_now

    with django_db_blocker.unblock():
        member = User.objects.create_user(username="loop-trainer", password="a-long-test-password")
        dataset = build_rows(member)
        try:
            model = train_now(dataset, **HYPERPARAMETERS)
            context.calibrate_all(model, serving.loaded_model(dataset)[1])
            model.refresh_from_db()
            archive = artefacts.read_bytes(model.artefact_path)
            fields = {name: getattr(model, name) for name in MODEL_FIELDS}
        finally:
            dataset.delete()  # deletes the model's stored artefact too
            member.delete()
    # Kept in the storage under a name of its own, which every test's model row shares.
    return {**fields, "artefact_path": artefacts.save_bytes("models/loop-world", archive, artefacts.ARCHIVE_SUFFIX)}


@pytest.fixture
def world(trained_world_model, make_user) -> World:
    member = make_user("maya")
    dataset = build_rows(member)
    model = TrainedModel.objects.create(dataset=dataset, status=TrainedModel.Status.READY, is_active=True,
                                        **trained_world_model)
    return World(dataset, model, member)
