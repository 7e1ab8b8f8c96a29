"""Cosine similarity on unit face vectors: the one normalised mean that stands for several faces
(a person of a query clip, a track, a track's recent faces)."""

from __future__ import annotations

import numpy as np


def unit_mean(vectors: np.ndarray) -> np.ndarray:
    """The mean of some face vectors, scaled back to unit length (float32)."""
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
