"""Matching: from the faces nearest the query to whole appearances that match it.

Single frames are noisy: among thousands of frames of strangers a few come close to any query.
So frames only nominate candidates (down to CANDIDATE_MARGIN below the threshold); the decision
is taken per track (a face followed through a video, see `tracking`): a track matches when the
mean of its faces matches the query. A matching track contributes all its faces, so segments
cover the whole appearance, blurred frames included.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .catalog import Catalog
from .ranking import Matches
from .similarity import unit_mean
from .stores.base import VectorStore

CANDIDATE_MARGIN = 0.10


def match_appearances(
    query: np.ndarray, catalog: Catalog, vectors: VectorStore, threshold: float
) -> Matches:
    keys, _ = vectors.search(query, threshold - CANDIDATE_MARGIN, one_per_track=True)
    nominated = catalog.faces(keys)
    tracks_by_file: dict[int, set[int]] = defaultdict(set)
    for fid, track in zip(nominated.file_ids.tolist(), nominated.tracks.tolist(), strict=True):
        tracks_by_file[fid].add(track)
    parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    quality: dict[int, float] = {}
    for fid, tracks in tracks_by_file.items():
        faces = catalog.track_faces(fid, tracks)
        assert faces.vectors is not None
        sims = faces.vectors @ query
        for track in tracks:
            member = faces.tracks == track
            score = track_similarity(faces.vectors[member], query)
            if score >= threshold:
                quality[fid] = max(quality.get(fid, 0.0), score)
                parts.append((fid, faces.times[member], faces.boxes[member], sims[member]))
    if not parts:
        return Matches.none()
    return Matches(
        np.concatenate([np.full(len(p[1]), p[0]) for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        np.clip(np.concatenate([p[3] for p in parts]), 0.0, 1.0),
        quality,
    )


def track_similarity(track_vectors: np.ndarray, query: np.ndarray) -> float:
    """Cosine similarity of the query to the normalised mean of a track's faces."""
    return float(unit_mean(track_vectors) @ query)
