"""Tag sentiment sub-model: TF-IDF + a linear log-loss classifier learns, from the tag author's own rating,
which tags signal dissatisfaction. An item's score is the highest negative probability among its tags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier

MIN_DOCUMENT_FREQUENCY = 3  # the paper's min_df
MIN_EXAMPLES_PER_CLASS = 3


@dataclass
class TagSentiment:
    vectorizer: TfidfVectorizer
    classifier: SGDClassifier
    n_tags: int
    n_negative: int

    def negative_probability(self, tags: list[str]) -> np.ndarray:
        return np.asarray(self.classifier.predict_proba(self.vectorizer.transform(tags))[:, 1], dtype=np.float64)

    def top_terms(self, k: int = 10) -> dict[str, list[tuple[str, float]]]:
        """The terms that push a tag most towards negative and most towards positive (the glass box)."""
        terms = self.vectorizer.get_feature_names_out()
        weights = self.classifier.coef_[0]
        order = np.argsort(weights)
        return {
            "negative": [(str(terms[i]), round(float(weights[i]), 4)) for i in order[::-1][:k]],
            "positive": [(str(terms[i]), round(float(weights[i]), 4)) for i in order[:k]],
        }


@dataclass(frozen=True)
class SentimentOutcome:
    model: TagSentiment | None
    reason: str  # why there is no model, or a one-line summary of the model


def fit_tag_sentiment(
    tags: pd.DataFrame | None, ratings: pd.DataFrame, *, negative_rating: float, seed: int
) -> SentimentOutcome:
    """Learns on tags whose author rated the tagged item (both at or before the cutoff)."""
    if tags is None or tags.empty:
        return SentimentOutcome(None, "The dataset has no tags, so the tag-sentiment feature is absent.")
    labelled = tags.merge(ratings[["user_id", "item_id", "rating"]], on=["user_id", "item_id"], how="inner")
    if labelled.empty:
        return SentimentOutcome(None, "No tag's author rated the tagged item before the cutoff; "
                                      "the tag-sentiment feature is absent.")
    negative = (labelled["rating"] <= negative_rating).to_numpy()
    if negative.sum() < MIN_EXAMPLES_PER_CLASS or (~negative).sum() < MIN_EXAMPLES_PER_CLASS:
        return SentimentOutcome(None, f"Too few negative ({int(negative.sum())}) or positive "
                                      f"({int((~negative).sum())}) tag examples to learn sentiment; "
                                      "the tag-sentiment feature is absent.")
    vectorizer = TfidfVectorizer(min_df=MIN_DOCUMENT_FREQUENCY, stop_words="english")
    try:
        matrix = vectorizer.fit_transform(labelled["tag"].str.lower())
    except ValueError:  # every term rarer than min_df
        return SentimentOutcome(None, "No tag term appears in three or more tags; the tag-sentiment feature "
                                      "is absent.")
    classifier = SGDClassifier(loss="log_loss", class_weight="balanced", random_state=seed, max_iter=2000)
    classifier.fit(matrix, negative.astype(int))
    model = TagSentiment(vectorizer, classifier, n_tags=len(labelled), n_negative=int(negative.sum()))
    return SentimentOutcome(model, f"Learned from {len(labelled):,} tags whose author rated the item "
                                   f"({int(negative.sum()):,} negative: rating ≤ {negative_rating}).")


def item_scores(model: TagSentiment, tags: pd.DataFrame) -> pd.Series:
    """Highest negative probability over each item's tags (items without tags are absent)."""
    if tags.empty:
        return pd.Series(dtype=np.float64)
    probabilities = model.negative_probability(tags["tag"].str.lower().tolist())
    return pd.Series(probabilities, index=tags["item_id"].to_numpy()).groupby(level=0).max()
