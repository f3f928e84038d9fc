"""What a retrain leaves out: nothing, one user (their whole history) or one item (every interaction with it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from recsys.ml.sequences import Sequences

EntityKind = Literal["none", "user", "item"]


@dataclass(frozen=True)
class Removal:
    kind: EntityKind = "none"
    key: str = ""  # user key, or the item's external key

    @classmethod
    def users(cls, keys: list[str]) -> list[Removal]:
        return [cls("user", key) for key in keys]

    @property
    def label(self) -> str:
        return "nothing" if self.kind == "none" else f"{self.kind} {self.key}"


def without(train: Sequences, removal: Removal, item_index: int | None = None) -> Sequences:
    """Training sequences without the removed user's row, or without the removed item (index given)."""
    if removal.kind == "none":
        return train
    if removal.kind == "user":
        keep = [row for row, user in enumerate(train.users) if user != removal.key]
        return Sequences([train.users[r] for r in keep], [train.items[r] for r in keep],
                         [train.weights[r] for r in keep])
    if item_index is None:
        raise ValueError("removing an item needs its model index")
    masks = [items != item_index for items in train.items]
    return Sequences(list(train.users), [items[m] for items, m in zip(train.items, masks, strict=True)],
                     [w[m] for w, m in zip(train.weights, masks, strict=True)])


def without_users(train: Sequences, keys: set[str]) -> Sequences:
    keep = [row for row, user in enumerate(train.users) if user not in keys]
    return Sequences([train.users[r] for r in keep], [train.items[r] for r in keep], [train.weights[r] for r in keep])


def user_mask(users: list[str], removal: Removal) -> np.ndarray:
    """Evaluated users to keep when comparing: the removed user is left out of both sides."""
    return np.asarray([not (removal.kind == "user" and user == removal.key) for user in users], dtype=bool)
