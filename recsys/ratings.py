"""How a member's star ratings (0.5-5) change what an interaction counts for. One policy, used everywhere
the model reads a member's history (For you, the preview of a fix, Why?, the drift check).

A film you disliked should not be the reason for new recommendations; a film you found so-so counts less.
Unrated interactions count fully, as the model was trained on them.
"""

DISLIKED_AT_MOST = 1.5  # rated 1.5 or lower: not used to find recommendations (it is still never recommended)
SO_SO_AT_MOST = 2.5  # rated 2 to 2.5: counts half
SO_SO_FACTOR = 0.5
MEMBER_RATING_RULE = "A rating must be 0.5 to 5 stars in half-star steps (0.5, 1, 1.5 … 5)."


def is_member_rating(rating: float) -> bool:
    """A rating a member can give (the catalogue's half-star input); imported files may hold finer ones."""
    return 0.5 <= rating <= 5 and (rating * 2).is_integer()


def policy(words, rated: bool) -> str:
    """The policy in a sentence for the member's pages; ``rated``: the member has rated something (else the
    star rules are left out, as they do not apply to them). ``words``: ``recsys.vocabulary.Words``."""
    never_again = f"Nothing you {words.verb} is recommended to you again"
    if not rated:
        return never_again + "."
    return (f"Your ratings: {words.an_item} you rated 1.5 stars or lower is not used to find recommendations, one you "
            f"rated 2 or 2.5 counts half, and {words.items} you rated 3 or more (or did not rate) count fully. "
            f"{never_again}, whatever you rated it.")


def rating_factor(rating: float | None) -> float:
    if rating is None or rating > SO_SO_AT_MOST:
        return 1.0
    if rating <= DISLIKED_AT_MOST:
        return 0.0
    return SO_SO_FACTOR


def model_weight(weight: float, rating: float | None, *, active: bool = True) -> float:
    """What one interaction counts for in the model's input: 0 when removed, else its weight times the rating's."""
    return weight * rating_factor(rating) if active else 0.0
