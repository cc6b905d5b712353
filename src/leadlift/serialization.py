"""Results and configs as plain data: the one converter to JSON/YAML-safe Python values."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["to_plain"]


def to_plain(obj: Any, *, finite: bool = False, drop_private: bool = False) -> Any:
    """NumPy scalars/arrays, tuples and paths → plain Python (dicts, lists, numbers, strings).

    Args:
        obj: any nesting of dicts, lists, tuples, arrays and scalars.
        finite: NaN/inf → None (JSON has no NaN).
        drop_private: leave out dict keys that start with ``_`` (in-memory extras such as arrays
            kept for figures).
    """
    if isinstance(obj, dict):
        return {str(k): to_plain(v, finite=finite, drop_private=drop_private) for k, v in obj.items()
                if not (drop_private and str(k).startswith("_"))}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, finite=finite, drop_private=drop_private) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_plain(obj.tolist(), finite=finite, drop_private=drop_private)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return None if finite and not math.isfinite(v) else v
    if isinstance(obj, Path):
        return str(obj)
    return obj
