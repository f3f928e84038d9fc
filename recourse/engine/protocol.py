"""What the engine needs of a model (the one Protocol lives in recsys/ml/protocol.py, see CONTRACT.md)."""
from __future__ import annotations

from recsys.ml.protocol import Scorer, ScoringModel

__all__ = ["ExplainerUnavailable", "Scorer", "ScoringModel"]


class ExplainerUnavailable(RuntimeError):
    """The requested explanation method does not apply to this model."""
