"""A category-free world imported from a ``sasrec``-format file (``user item`` lines, no categories, no times).

Items form 5 "walks" of 10 items; each reference user walks one of them in order (with one stray pick).
The member walks walk 0 and then, at the end, picks 4 items of walk 3 in a scrambled order: an off-taste burst
the model's own predictions can find without any category.
"""

from pathlib import Path

import numpy as np

from recsys.models import InteractionSequence
from recsys.services.imports import import_dataset

WALKS, PER_WALK = 5, 10
MEMBER = "9999"
BURST = [3 * PER_WALK + k + 1 for k in (7, 2, 9, 4)]
MEMBER_ITEMS = [k + 1 for k in range(8)] + BURST
HYPERPARAMETERS = {"max_len": 16, "hidden": 16, "blocks": 1, "epochs": 30, "batch_size": 32, "jit_compile": False,
                   "length_buckets": 1, "dropout": 0.1, "patience": 50}


def write_sasrec_file(folder: Path) -> Path:
    rng = np.random.default_rng(3)
    lines = []
    for user in range(1, 121):
        walk = user % WALKS
        start = int(rng.integers(3))
        items = [walk * PER_WALK + k + 1 for k in range(start, start + 7)]
        items.insert(int(rng.integers(2, 7)), int(rng.integers(1, WALKS * PER_WALK + 1)))
        lines += [f"{user} {item}" for item in dict.fromkeys(items)]
    lines += [f"{MEMBER} {item}" for item in MEMBER_ITEMS]
    path = folder / "clicks.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def import_world(folder: Path, member, name: str = "clicks"):
    """Import the file as a dataset and give the member account the member's history."""
    dataset = import_dataset(name=name, path=write_sasrec_file(folder), format="sasrec", title="Clicks")
    InteractionSequence.objects.filter(dataset=dataset, external_user_id=MEMBER).update(user=member)
    return dataset
