"""Tracking: linking a video's faces across consecutive samples into appearances (tracks).

A face joins the track whose recent faces it resembles most, if that track was seen within a
few sampling steps and no other face of the same frame took it; otherwise it starts a track.
Search then judges whole appearances, not single frames (see `matching`).
"""

from __future__ import annotations

import numpy as np

from .similarity import unit_mean

LINK_SIMILARITY = 0.5  # cosine similarity to a track's recent faces needed to join it
MAX_GAP_STEPS = 2.5  # samples further apart than this many sampling steps break a track
RECENT = 5  # a track is represented by the mean of its last few faces


def assign_tracks(times: np.ndarray, vectors: np.ndarray, step: float) -> np.ndarray:
    """Track number (0, 1, ...) of each face; faces are given with their sample time."""
    tracks = np.full(len(times), -1, dtype=np.int64)
    members: list[list[int]] = []
    for t in np.unique(times):
        here = np.flatnonzero(times == t).tolist()
        open_tracks = [
            k for k, m in enumerate(members) if t - times[m[-1]] <= MAX_GAP_STEPS * step + 1e-6
        ]
        pairs = []
        for k in open_tracks:
            recent = unit_mean(vectors[members[k][-RECENT:]])
            pairs += [(float(vectors[i] @ recent), i, k) for i in here]
        taken_faces: set[int] = set()
        taken_tracks: set[int] = set()
        for sim, i, k in sorted(pairs, reverse=True):
            if sim >= LINK_SIMILARITY and i not in taken_faces and k not in taken_tracks:
                tracks[i] = k
                members[k].append(i)
                taken_faces.add(i)
                taken_tracks.add(k)
        for i in here:
            if tracks[i] < 0:
                tracks[i] = len(members)
                members.append([i])
    return tracks
