"""How a member's ratings change what an interaction counts for. One policy, used everywhere the model reads a
member's history (For you, the preview of a fix, Why?, the drift check).

An item you disliked should not be the reason for new recommendations; one you found so-so counts less.
Unrated interactions count fully, as the model was trained on them.

Ratings are read on their dataset's scale (``Dataset.rating_low`` to ``rating_high``: the lowest and highest rating
the imported files hold, editable in the admin). The thresholds sit at the same share of the scale's top on every
scale: 1.5, 2.5 and 4 on five stars, 3, 5 and 8 on a 1-10 scale, 0.3, 0.5 and 0.8 on a 0-1 scale. Only a scale whose
top is 5 is called stars. A dataset whose files hold no ratings gets the five-star scale, the one its members rate on.
"""

import math
from dataclasses import dataclass

DISLIKED_SHARE = 0.3  # rated at most 30 % of the top (1.5 stars): not used to find recommendations (still never
# recommended)
SO_SO_SHARE = 0.5  # above that, up to half the top (2 to 2.5 stars): counts half
LIKED_SHARE = 0.8  # at least 80 % of the top (4 stars): the drift check never suggests removing it
SO_SO_FACTOR = 0.5
MEMBER_STEPS = 10  # a member rates in about tenths of the scale: half stars, whole numbers on 1-10
STAR_TOP = 5.0


@dataclass(frozen=True)
class RatingScale:
    low: float
    high: float

    @property
    def stars(self) -> bool:
        return self.high == STAR_TOP and 0 <= self.low <= 1

    @property
    def _zero(self) -> float:
        """Where the shares are counted from: 0, or the low end of a scale that reaches below it (-10 to 10)."""
        return min(self.low, 0.0)

    def _at_share(self, share: float) -> float:
        return round(self._zero + share * (self.high - self._zero), 9)

    @property
    def disliked_at_most(self) -> float:
        return self._at_share(DISLIKED_SHARE)

    @property
    def so_so_at_most(self) -> float:
        return self._at_share(SO_SO_SHARE)

    @property
    def liked_at_least(self) -> float:
        return self._at_share(LIKED_SHARE)

    @property
    def member_step(self) -> float:
        """About a tenth of the scale, rounded down to 1, 2 or 5 times a power of ten: half stars on five stars,
        whole numbers on 1-10, halves on 1-7, tenths on 0-1."""
        tenth = (self.high - self._zero) / MEMBER_STEPS
        power = 10.0 ** math.floor(math.log10(tenth))
        return round(max(m * power for m in (1, 2, 5) if m * power <= tenth * (1 + 1e-9)), 9)

    @property
    def member_lowest(self) -> float:
        """The lowest rating a member gives: half a star on stars, one step on a scale from 0, else its low end."""
        return self.member_step if self.stars or self.low == 0 else self.low

    @property
    def named(self) -> str:
        """What the scale is, for a sentence: "stars", or "this dataset's scale of 1 to 10"."""
        return "stars" if self.stars else f"this dataset's scale of {self.low:g} to {self.high:g}"

    def factor(self, rating: float | None) -> float:
        if rating is None or rating > self.so_so_at_most:
            return 1.0
        if rating <= self.disliked_at_most:
            return 0.0
        return SO_SO_FACTOR

    def is_low(self, rating: float | None) -> bool:
        """Rated so-so or worse: evidence against the interaction when the drift check finds it unusual too."""
        return rating is not None and rating <= self.so_so_at_most

    def is_liked(self, rating: float | None) -> bool:
        return rating is not None and rating >= self.liked_at_least

    def amount(self, value: float) -> str:
        """ "1.5 stars", "1 star"; on another scale the bare number ("8"), which sentences name the scale for."""
        if not self.stars:
            return f"{value:g}"
        return f"{value:g} star" + ("" if value == 1 else "s")

    def at_most(self, value: float) -> str:
        return f"{self.amount(value)} or lower"

    def at_least(self, value: float) -> str:
        return f"{self.amount(value)} or more"

    @property
    def disliked_words(self) -> str:
        """ "1.5 stars or lower": not used to find recommendations."""
        return self.at_most(self.disliked_at_most)

    @property
    def low_words(self) -> str:
        """ "2.5 stars or lower": evidence for the drift check where it finds the title unusual too."""
        return self.at_most(self.so_so_at_most)

    @property
    def liked_words(self) -> str:
        """ "4 stars or more": never suggested for removal."""
        return self.at_least(self.liked_at_least)

    def rated(self, rating: float) -> str:
        """ "you rated it 4.5 stars", "you rated it 8 on this dataset's scale of 1 to 10"."""
        return f"you rated it {self.amount(rating)}" + ("" if self.stars else f" on {self.named}")

    def is_member_rating(self, rating: float) -> bool:
        """A rating a member can give (the catalogue's input, member_step apart); imported files may hold finer."""
        steps = (rating - self.member_lowest) / self.member_step
        return self.member_lowest <= rating <= self.high and abs(steps - round(steps)) < 1e-6

    @property
    def member_rule(self) -> str:
        if self.stars:
            return "A rating must be 0.5 to 5 stars in half-star steps (0.5, 1, 1.5 … 5)."
        lowest, step = self.member_lowest, self.member_step
        return (f"A rating must be {lowest:g} to {self.high:g} in steps of {step:g} ({lowest:g}, {lowest + step:g}, "
                f"{lowest + 2 * step:g} … {self.high:g}), on {self.named}.")


STARS = RatingScale(low=0.5, high=STAR_TOP)


def scale_of(dataset) -> RatingScale:
    """``dataset``: a ``recsys.Dataset`` or None. Without imported ratings (or with one value only, or none above 0: no
    share of a top to place thresholds at), the five-star scale members rate on."""
    if dataset is None or dataset.rating_high is None or dataset.rating_high <= max(dataset.rating_low or 0, 0):
        return STARS
    return RatingScale(low=dataset.rating_low, high=dataset.rating_high)


def policy(words, rated: bool, scale: RatingScale) -> str:
    """The policy in a sentence for the member's pages; ``rated``: the member has rated something (else the
    rating rules are left out, as they do not apply to them). ``words``: ``recsys.vocabulary.Words``."""
    never_again = f"Nothing you {words.verb} is recommended to you again"
    if not rated:
        return never_again + "."
    if scale.stars:
        rules = (f"{words.an_item} you rated 1.5 stars or lower is not used to find recommendations, one you rated "
                 f"2 or 2.5 counts half, and {words.items} you rated 3 or more (or did not rate) count fully")
    else:
        low, so_so = scale.disliked_at_most, scale.so_so_at_most
        rules = (f"on {scale.named}, {words.an_item} you rated {low:g} or lower is not used to find "
                 f"recommendations, one you rated above {low:g} up to {so_so:g} counts half, and {words.items} you "
                 f"rated above {so_so:g} (or did not rate) count fully")
    return f"Your ratings: {rules}. {never_again}, whatever you rated it."


def model_weight(weight: float, rating: float | None, *, scale: RatingScale, active: bool = True) -> float:
    """What one interaction counts for in the model's input: 0 when removed, else its weight times the rating's."""
    return weight * scale.factor(rating) if active else 0.0
