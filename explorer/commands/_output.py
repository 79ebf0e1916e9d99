"""What every sub-command prints: JSON with plain types (numpy converted, non-finite numbers as null).

Lives here, not in :mod:`explorer.cli`, so that the command modules never import the dispatcher
that imports them.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np


def to_jsonable(obj):
    """Convert numpy scalars and arrays (recursively) to plain JSON types; non-finite → None."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    return obj


def print_json(obj, stream=None):
    json.dump(to_jsonable(obj), stream or sys.stdout, indent=2, allow_nan=False)
    (stream or sys.stdout).write("\n")
