"""User sequences, leave-one-out split and exports, on plain Python/NumPy data.

Histories are ``{user_key: [(item_key, weight), ...]}`` in chronological order
(a bare ``item_key`` means weight 1). Weight 0 means "left out of the
sequence": such interactions are dropped here, exactly as if they never
happened. Weights in (0, 1] are kept and later scale the item's input
embedding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PAD = 0
MIN_EVAL_LENGTH = 3  # train >= 1 item, then one validation and one test item

HistoryEntry = str | tuple[str, float]
Histories = Mapping[str, Sequence[HistoryEntry]]


class ItemIndex:
    """Bijection between external item keys and model indices 1..N (0 = padding)."""

    def __init__(self, keys: Sequence[str]):
        self._keys = [str(key) for key in keys]
        self._index = {key: position + 1 for position, key in enumerate(self._keys)}
        if len(self._index) != len(self._keys):
            raise ValueError("item keys must be unique")

    @classmethod
    def fit(cls, keys: Iterable[str]) -> ItemIndex:
        """Index keys in order of first appearance (deterministic for a given input)."""
        return cls(list(dict.fromkeys(str(key) for key in keys)))

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return str(key) in self._index

    @property
    def keys(self) -> list[str]:
        return list(self._keys)

    def index_of(self, key: str) -> int:
        return self._index[str(key)]

    def key_of(self, index: int) -> str:
        if not 1 <= index <= len(self._keys):
            raise KeyError(f"item index {index} is outside 1..{len(self._keys)}")
        return self._keys[index - 1]

    def encode(self, keys: Iterable[str]) -> tuple[np.ndarray, list[str]]:
        """Indices of the known keys (in order) and the list of unknown keys."""
        known, unknown = [], []
        for key in keys:
            index = self._index.get(str(key))
            if index is None:
                unknown.append(str(key))
            else:
                known.append(index)
        return np.asarray(known, dtype=np.int32), unknown

    def decode(self, indices: Iterable[int]) -> list[str]:
        return [self.key_of(int(index)) for index in indices]

    def to_dict(self) -> dict[str, Any]:
        return {"keys": list(self._keys)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemIndex:
        return cls(data["keys"])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> ItemIndex:
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclass(frozen=True)
class Sequences:
    """Chronological item indices and weights, one row per user."""

    users: list[str]
    items: list[np.ndarray]  # int32, values in 1..N
    weights: list[np.ndarray]  # float32, values in (0, 1]

    def __len__(self) -> int:
        return len(self.users)

    def lengths(self) -> np.ndarray:
        return np.asarray([len(row) for row in self.items], dtype=np.int64)


@dataclass(frozen=True)
class EvalSet:
    """Users to evaluate: the model reads ``histories`` and should rank ``targets`` high."""

    histories: Sequences
    targets: np.ndarray  # int32 [U]
    interacted: list[np.ndarray]  # every item of the user, for sampling unseen negatives

    def __len__(self) -> int:
        return len(self.targets)


@dataclass(frozen=True)
class LeaveOneOutSplit:
    """Last item = test, second-to-last = validation, the rest = training.

    Users with fewer than MIN_EVAL_LENGTH interactions keep their whole
    sequence in ``train`` and are listed in ``train_only_users`` (the rule of
    the original SASRec code).
    """

    train: Sequences
    valid: EvalSet
    test: EvalSet
    train_only_users: list[str]


def parse_entry(entry: HistoryEntry) -> tuple[str, float]:
    """(item key, weight) from a bare key (weight 1) or a (key, weight) pair."""
    if isinstance(entry, tuple | list):
        key, weight = entry
        return str(key), float(weight)
    return str(entry), 1.0


def _check_weight(weight: float, user: str) -> None:
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight {weight} of user {user!r} is outside [0, 1]")


def build_sequences(histories: Histories, index: ItemIndex | None = None) -> tuple[Sequences, ItemIndex, list[str]]:
    """Encode histories; returns (sequences, index, unknown item keys).

    Without ``index`` one is fitted on the kept (weight > 0) items. With an
    index, unknown items are dropped and reported.
    """
    if not histories:
        raise ValueError("no histories: at least one user with one interaction is needed")
    kept = {}
    for user, entries in histories.items():
        pairs = [parse_entry(entry) for entry in entries]
        for _, weight in pairs:
            _check_weight(weight, str(user))
        kept[str(user)] = [(key, weight) for key, weight in pairs if weight > 0]
    if index is None:
        index = ItemIndex.fit(key for pairs in kept.values() for key, _ in pairs)
    if len(index) == 0:
        raise ValueError("no interactions with weight > 0")
    users: list[str] = []
    items: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    unknown: list[str] = []
    for user, pairs in kept.items():
        known = [(key, weight) for key, weight in pairs if key in index]
        unknown.extend(key for key, _ in pairs if key not in index)
        users.append(user)
        items.append(np.asarray([index.index_of(key) for key, _ in known], dtype=np.int32))
        weights.append(np.asarray([weight for _, weight in known], dtype=np.float32))
    return Sequences(users, items, weights), index, unknown


def histories_from_frame(frame: Any, weight_column: str | None = None) -> dict[str, list[Any]]:
    """Chronological histories from an interactions DataFrame.

    Expects user_id, item_id, timestamp and position (source order, the
    tie-breaker for equal timestamps), as produced by ``recsys.importers``.
    """
    order = ["user_id", "timestamp", "position"] if "position" in frame else ["user_id", "timestamp"]
    ordered = frame.sort_values(order, kind="stable")
    histories: dict[str, list[Any]] = {}
    weights = ordered[weight_column] if weight_column else None
    for row, (user, item) in enumerate(zip(ordered["user_id"], ordered["item_id"], strict=True)):
        entry = (str(item), float(weights.iloc[row])) if weights is not None else str(item)
        histories.setdefault(str(user), []).append(entry)
    return histories


def _subset(sequences: Sequences, rows: Sequence[int], stop_offset: int) -> Sequences:
    """Per selected user, the items before ``len - stop_offset``."""
    cut = [len(sequences.items[row]) - stop_offset for row in rows]
    return Sequences(
        [sequences.users[row] for row in rows],
        [sequences.items[row][:end] for row, end in zip(rows, cut, strict=True)],
        [sequences.weights[row][:end] for row, end in zip(rows, cut, strict=True)],
    )


def _eval_set(sequences: Sequences, rows: list[int], target_offset: int) -> EvalSet:
    histories = _subset(sequences, rows, target_offset)
    targets = np.asarray(
        [sequences.items[row][len(sequences.items[row]) - target_offset] for row in rows],
        dtype=np.int32,
    )
    interacted = [np.unique(sequences.items[row]) for row in rows]
    return EvalSet(histories, targets, interacted)


def sample_users(eval_set: EvalSet, count: int, seed: int) -> EvalSet:
    """A fixed, seeded sample of ``count`` users (all of them when ``count`` is 0 or not smaller).

    Validation during training uses it so its cost stops growing with the number of users (the SASRec
    paper validates on 10,000 users as well); the final test always ranks every user."""
    if count <= 0 or count >= len(eval_set):
        return eval_set
    rows = np.sort(np.random.default_rng(seed).choice(len(eval_set), count, replace=False))
    histories = eval_set.histories
    return EvalSet(
        Sequences([histories.users[r] for r in rows], [histories.items[r] for r in rows],
                  [histories.weights[r] for r in rows]),
        eval_set.targets[rows],
        [eval_set.interacted[r] for r in rows],
    )


class TooShortHistories(ValueError):
    """No history is long enough to split into training, validation and test items: the data, not the code."""


def leave_one_out(sequences: Sequences) -> LeaveOneOutSplit:
    """Deterministic leave-one-out split (no randomness involved)."""
    lengths = sequences.lengths()
    evaluated = [row for row in range(len(sequences)) if lengths[row] >= MIN_EVAL_LENGTH]
    if not evaluated:
        raise TooShortHistories(f"no user has the {MIN_EVAL_LENGTH} interactions a split needs")
    offsets = [2 if lengths[row] >= MIN_EVAL_LENGTH else 0 for row in range(len(sequences))]
    train = Sequences(
        list(sequences.users),
        [items[: len(items) - off] for items, off in zip(sequences.items, offsets, strict=True)],
        [w[: len(w) - off] for w, off in zip(sequences.weights, offsets, strict=True)],
    )
    train_only = [sequences.users[row] for row in range(len(sequences)) if not offsets[row]]
    return LeaveOneOutSplit(
        train=train,
        valid=_eval_set(sequences, evaluated, 2),
        test=_eval_set(sequences, evaluated, 1),
        train_only_users=train_only,
    )


def pad_left(rows: Sequence[np.ndarray], length: int, dtype: type[np.generic] = np.int32) -> np.ndarray:
    """Keep the last ``length`` values of each row and left-pad with zeros."""
    out = np.zeros((len(rows), length), dtype=dtype)
    for position, row in enumerate(rows):
        tail = np.asarray(row)[-length:] if length else np.asarray(row)[:0]
        if len(tail):
            out[position, length - len(tail) :] = tail
    return out


@dataclass(frozen=True)
class NextItemExamples:
    """One training row per user: inputs[t] predicts targets[t] at every step."""

    inputs: list[np.ndarray]
    weights: list[np.ndarray]
    targets: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.inputs)

    def lengths(self) -> np.ndarray:
        return np.asarray([len(row) for row in self.inputs], dtype=np.int64)


def next_item_examples(train: Sequences, max_len: int) -> NextItemExamples:
    """Shift each training sequence by one; keep the last ``max_len`` steps."""
    inputs, weights, targets = [], [], []
    for items, item_weights in zip(train.items, train.weights, strict=True):
        if len(items) < 2:
            continue
        inputs.append(items[:-1][-max_len:])
        weights.append(item_weights[:-1][-max_len:])
        targets.append(items[1:][-max_len:])
    if not inputs:
        raise TooShortHistories("no training sequence has two or more items")
    return NextItemExamples(inputs, weights, targets)


def full_sequences(split: LeaveOneOutSplit) -> Sequences:
    """Re-assemble every user's complete sequence from a split."""
    valid_rows = {user: row for row, user in enumerate(split.valid.histories.users)}
    items, weights = [], []
    for user, train_items, train_weights in zip(split.train.users, split.train.items, split.train.weights, strict=True):
        row = valid_rows.get(user)
        if row is None:
            items.append(train_items)
            weights.append(train_weights)
            continue
        test_weights = split.test.histories.weights[row]
        items.append(np.concatenate([train_items, [split.valid.targets[row], split.test.targets[row]]]))
        weights.append(np.concatenate([test_weights, [1.0]]).astype(np.float32))
    return Sequences(list(split.train.users), items, weights)


RECBOLE_HEADER = "user_id:token\titem_id:token\ttimestamp:float\n"


def write_recbole_split(split: LeaveOneOutSplit, index: ItemIndex, directory: str | Path, name: str) -> dict[str, Path]:
    """Write ``name.train.inter``, ``name.valid.inter``, ``name.test.inter``.

    Timestamps are ordinal positions in the user's sequence, so RecBole's
    chronological order equals ours even where real timestamps tie. Load with
    ``benchmark_filename: [train, valid, test]``. Item tokens are the external
    item keys, user tokens the user keys.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {part: directory / f"{name}.{part}.inter" for part in ("train", "valid", "test")}
    with paths["train"].open("w") as out:
        out.write(RECBOLE_HEADER)
        for user, items in zip(split.train.users, split.train.items, strict=True):
            for step, item in enumerate(items):
                out.write(f"{user}\t{index.key_of(int(item))}\t{step}\n")
    for part in ("valid", "test"):
        eval_set = getattr(split, part)
        with paths[part].open("w") as out:
            out.write(RECBOLE_HEADER)
            for user, history, target in zip(
                eval_set.histories.users, eval_set.histories.items, eval_set.targets, strict=True
            ):
                out.write(f"{user}\t{index.key_of(int(target))}\t{len(history)}\n")
    return paths


def write_sasrec_file(split: LeaveOneOutSplit, path: str | Path) -> Path:
    """Write ``user item`` lines (1-based integers, chronological) for the SASRec code.

    SASRec's own ``data_partition`` re-derives exactly this split: last item
    test, second-to-last validation, users with < 3 items train only. User
    numbers follow ``split.train.users``; item numbers are our indices.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for user_number, items in enumerate(full_sequences(split).items, start=1):
            out.writelines(f"{user_number} {int(item)}\n" for item in items)
    return path
