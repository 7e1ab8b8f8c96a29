"""Grouping the faces of a clip into people, most present first."""

from __future__ import annotations

import numpy as np

from engine.appearances.similarity import unit_mean


def group_people(vectors: np.ndarray, times: np.ndarray, threshold: float) -> list[np.ndarray]:
    """Indices of the faces of each person, people ordered by how many samples show them.

    Average-linkage clustering on cosine distance, cut where faces stop being the same person
    (`threshold`, the same cosine similarity that decides a match).
    """
    n = len(vectors)
    if n == 0:
        return []
    if n == 1:
        labels = np.zeros(1, dtype=np.int64)
    else:
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=1.0 - threshold
        ).fit_predict(vectors)
    groups = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    groups.sort(key=lambda g: (-len(np.unique(times[g])), int(g[0])))
    return groups


def template(vectors: np.ndarray) -> np.ndarray:
    """One unit vector standing for a person: the normalised mean of their faces."""
    return unit_mean(vectors)
