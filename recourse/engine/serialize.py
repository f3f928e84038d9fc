"""Turn engine results (dataclasses holding numpy values) into JSON-ready Python values."""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np


def to_plain(value: Any) -> Any:
    """Recursively convert dataclasses, numpy arrays and numpy scalars; NaN/inf become None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return [to_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return to_plain(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value
