"""Hyper-parameters of a sequential recommender, stored beside its weights."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

LOSSES = ("full", "sampled", "gbce")
SAMPLING_PROPOSALS = ("uniform", "popularity")


@dataclass
class ModelConfig:
    """Everything needed to rebuild and retrain a model.

    Defaults follow SASRec (Kang & McAuley 2018) on MovieLens-1M, with d=64 and
    full-softmax cross-entropy instead of one-negative binary cross-entropy.
    """

    num_items: int = 0  # N; item indices are 1..N, 0 is padding
    max_len: int = 200  # L, the longest history the model reads
    hidden: int = 64  # d, embedding and hidden size
    blocks: int = 2  # SASRec attention blocks / GRU layers / TCN residual blocks
    heads: int = 1  # SASRec attention heads
    dropout: float = 0.2
    lr: float = 1e-3
    l2: float = 0.0  # weight decay applied by AdamW when > 0
    batch_size: int = 128
    epochs: int = 200
    patience: int = 20  # epochs without a better validation NDCG@10 before stopping
    eval_every: int = 1  # validate every k epochs; 0: chosen from the measured cost (see valid_share)
    valid_share: float = 0.25  # with eval_every == 0: most of the time validation may take
    valid_users: int = 10_000  # seeded sample of validation users (0: all); the test always uses all
    loss: str = "full"  # "full" softmax over the catalogue, "sampled" softmax or "gbce" (gSASRec)
    num_sampled: int = 1000  # negatives shared by a batch when loss is "sampled" or "gbce"
    gbce_t: float = 0.75  # gBCE calibration t (Petrov & Macdonald 2023): 0 = plain BCE, 1 = fully calibrated
    sampling_proposal: str = "popularity"  # proposal Q of sampled negatives (log-Q corrected); gbce: uniform
    proposal_power: float = 0.75  # Q(i) proportional to count(i) ** power
    kernel_size: int = 3  # TCN convolution width
    dilations: list[int] = field(default_factory=lambda: [1, 4])  # TCN, per block: d then 2d
    length_buckets: int = 8  # training batches are padded to one of this many lengths
    jit_compile: bool = True  # XLA for the training step
    seed: int = 42
    auto: dict[str, str] = field(default_factory=dict)  # field -> why it was chosen from the data

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.sampling_proposal not in SAMPLING_PROPOSALS:
            raise ValueError(f"sampling_proposal must be one of {SAMPLING_PROPOSALS}")
        if self.max_len < 1 or self.hidden < 1 or self.blocks < 1 or self.heads < 1:
            raise ValueError("max_len, hidden, blocks and heads must be positive")
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        if self.eval_every < 0 or self.valid_users < 0:
            raise ValueError("eval_every and valid_users must be >= 0 (0: automatic / every user)")
        if not 0.0 < self.valid_share < 1.0:
            raise ValueError("valid_share must be in (0, 1)")
        if not 0.0 <= self.gbce_t <= 1.0:
            raise ValueError("gbce_t must be in [0, 1]")
        if min(self.epochs, self.batch_size, self.num_sampled, self.kernel_size, self.length_buckets) < 1:
            raise ValueError("epochs, batch_size, num_sampled, kernel_size and length_buckets must be positive")
        if self.lr < 0 or self.l2 < 0 or self.patience < 0:
            raise ValueError("lr, l2 and patience must be >= 0")

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def check_given(cls, data: object) -> None:
        """Raise ValueError unless ``data`` is a dict of known fields, each of its field's JSON type.

        For what a person typed (a form, the API): a field of the wrong type would otherwise fail deep inside
        training, minutes later on a worker (epochs "ten", epochs 1e9).
        """
        if not isinstance(data, dict):
            raise ValueError("hyper-parameters must be an object of ModelConfig fields, e.g. {\"epochs\": 20}")
        cls._refuse_unknown(data)
        types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
        for name, value in data.items():
            if not _has_type(value, types[name]):
                raise ValueError(f"{name} must be {_TYPE_WORDS.get(types[name], types[name])}, got {value!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        cls._refuse_unknown(data)
        return cls(**data)

    @classmethod
    def _refuse_unknown(cls, data: dict[str, Any]) -> None:
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {sorted(unknown)}")


_TYPE_WORDS = {"int": "a whole number", "float": "a number", "str": "text", "bool": "true or false",
               "list[int]": "a list of whole numbers", "dict[str, str]": "an object of texts"}


def _has_type(value: object, annotation: str) -> bool:
    """Whether a JSON value fits a ModelConfig field's annotation (a bool is not a number here)."""
    if annotation == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if annotation == "int":
        return isinstance(value, int)
    if annotation == "float":
        return isinstance(value, int | float)
    if annotation == "str":
        return isinstance(value, str)
    if annotation == "list[int]":
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if annotation == "dict[str, str]":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return True
