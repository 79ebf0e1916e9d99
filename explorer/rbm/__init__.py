"""Physics layer for RBMs: numpy and scipy only (no torch, no UI)."""

from .exact import (
    DEFAULT_ENUMERATION_LIMIT,
    Thermodynamics,
    clamped_free_energy,
    entropy,
    free_energy,
    heat_capacity,
    internal_energy,
    log_likelihood,
    log_partition,
    marginals,
    thermodynamics,
)
from .model import RBM

__all__ = [
    "RBM", "DEFAULT_ENUMERATION_LIMIT", "Thermodynamics", "clamped_free_energy", "entropy",
    "free_energy", "heat_capacity", "internal_energy", "log_likelihood", "log_partition",
    "marginals", "thermodynamics",
]
