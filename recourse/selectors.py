"""Reads of the recourse app shared by pages, API, jobs and the account export.

Histories and categories come from recsys.selectors (the only place they are read) and are turned
into what the engine works on: Histories over a model's item indices and a CategoryIndex.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from recourse.engine.alignment import CategoryIndex
from recourse.engine.sequences import History, as_history
from recsys import selectors as recsys_selectors
from recsys.models import Dataset, Interaction
from recsys.ratings import model_weight

from .models import Explanation, ExplanationFeedback


@dataclass
class MemberHistory:
    """The member's active interactions the model knows, as a History over model item indices.

    Weights are what each interaction counts for in the model (its weight and the rating policy of
    ``recsys.ratings``), exactly as ``recsys.services.serving`` feeds them to the model.
    """

    interactions: list[Interaction]
    history: History
    titles: dict[int, str]  # model index -> title
    fingerprint: str


def member_history(user, dataset: Dataset, recommender) -> MemberHistory:
    """The member's active history restricted to the items the model knows, oldest first."""
    rows = recsys_selectors.member_history(user, dataset)
    known = [row for row in rows if str(row.item_id) in recommender.index]
    items = np.array([recommender.index.index_of(str(row.item_id)) for row in known], dtype=np.int64)
    weights = np.array([model_weight(row.weight, row.rating) for row in known], dtype=np.float32)
    titles = {int(i): row.item.title for i, row in zip(items, known, strict=True)}
    return MemberHistory(known, History(items, weights), titles, history_fingerprint(user, dataset))


def history_fingerprint(user, dataset: Dataset) -> str:
    """Changes whenever any of the member's interactions is added, removed, excluded, re-weighted or re-rated,
    or an item is hidden ("Not interested") or shown again: anything that changes their top 10."""
    rows = Interaction.objects.filter(sequence__user=user, sequence__dataset=dataset).order_by("pk")
    state = list(rows.values_list("pk", "state", "weight", "rating"))
    hidden = sorted(recsys_selectors.not_interested_item_ids(user, dataset))
    return hashlib.sha256(repr((state, hidden)).encode()).hexdigest()


def model_histories(sequence_ids: Iterable[int], index) -> dict[int, History]:
    """{sequence id: History over the model's item indices} of active interactions the model knows, oldest first."""
    histories = {}
    for sequence_key, entries in recsys_selectors.sequence_histories(sequence_ids=sequence_ids).items():
        known = [(index.index_of(item), weight) for item, weight in entries if item in index]
        if known:
            histories[int(sequence_key)] = as_history([i for i, _ in known], [w for _, w in known])
    return histories


def category_index(dataset: Dataset, index) -> CategoryIndex:
    """Multi-hot [N+1, C] of the categories of the model's items (row 0 = padding)."""
    by_pk = recsys_selectors.item_categories(dataset)
    return CategoryIndex.of_items([by_pk.get(int(key), []) for key in index.keys])


def export_for_user(user) -> dict:
    explanations = Explanation.objects.filter(user=user).select_related("target_item").order_by("created_at")
    feedback = ExplanationFeedback.objects.filter(user=user).order_by("created_at")
    return {
        "explanations": [
            {"id": e.pk, "model_id": e.trained_model_id, "item": e.target_item.title, "method": e.method,
             "interaction_ids": e.interaction_ids, "raw_scores": e.raw_scores, "created_at": e.created_at.isoformat()}
            for e in explanations
        ],
        "explanation_feedback": [
            {"explanation_id": f.explanation_id, "helpful": f.helpful, "comment": f.comment,
             "created_at": f.created_at.isoformat()}
            for f in feedback
        ],
    }
