"""Pooled clip embeddings: one vector per clip from its examples' embeddings."""

from __future__ import annotations

import numpy as np

from .exceptions import ParameterError

POOLS = ("none", "mean", "mean-std")


def pool_embeddings(embeddings: np.ndarray, *, pool: str = "none") -> np.ndarray:
    """Pool the example axis of a stack of clips.

    Args:
        embeddings: float array ``(clips, examples, dim)``.
        pool: ``"none"`` (unchanged), ``"mean"`` (the mean over examples, ``(clips, dim)``) or
            ``"mean-std"`` (the mean, then the standard deviation, ``(clips, 2 * dim)``). Both
            are computed in float64 and returned as float32.

    Returns:
        float32 array.

    Raises:
        ParameterError: Unknown pool, or ``embeddings`` is not three-dimensional.
    """
    if pool not in POOLS:
        raise ParameterError(f"pool has to be one of {', '.join(map(repr, POOLS))}, not {pool!r}")
    embeddings = np.asarray(embeddings)
    if pool == "none":
        return embeddings.astype(np.float32, copy=False)
    if embeddings.ndim != 3:
        raise ParameterError(f"embeddings to pool have to have shape (clips, examples, dim), not {embeddings.shape}")
    values = embeddings.astype(np.float64)
    parts = [values.mean(axis=1)] + ([values.std(axis=1)] if pool == "mean-std" else [])
    return np.concatenate(parts, axis=1).astype(np.float32)
