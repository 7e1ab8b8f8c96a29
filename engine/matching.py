"""Matching: from the faces nearest the query to whole appearances that match it.

Single frames are noisy: among thousands of frames of strangers a few come close to any query.
So frames only nominate candidates (down to CANDIDATE_MARGIN below the threshold); the decision
is taken per track (a face followed through a video, see `tracking`): a track matches when the
mean of its faces matches the query, faces cut by the edge of the frame counting less. A
matching track contributes all its faces, so segments cover the whole appearance, blurred
frames included.

Below the threshold, down to a lower similarity, appearances are possible matches: listed
after every match, marked, for files with no match (the way a face service lets its caller
lower the match threshold and see what comes close).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .catalog import Catalog
from .ranking import Matches
from .similarity import unit_mean
from .stores.base import VectorStore

CANDIDATE_MARGIN = 0.10
POSSIBLE_CANDIDATES = 2048  # faces nearest the query that may nominate possible appearances


def match_appearances(
    query: np.ndarray,
    catalog: Catalog,
    vectors: VectorStore,
    threshold: float,
    possible: float | None = None,
) -> Matches:
    """The appearances whose tracks match `query` at `threshold`. With `possible` (a lower
    similarity), a file with no such appearance is still given with its tracks at or above
    `possible`, marked a possible match (`Matches.possible`); files with a match never list
    their merely possible appearances."""
    floor = threshold if possible is None else min(possible, threshold)
    keys, _ = vectors.search(query, threshold - CANDIDATE_MARGIN, one_per_track=True)
    if floor < threshold:  # the nearest faces below: enough to fill a page, bounded in time
        more, _ = vectors.search(
            query, floor - CANDIDATE_MARGIN, one_per_track=True, limit=POSSIBLE_CANDIDATES
        )
        keys = np.union1d(keys, more)
    nominated = catalog.faces(keys)
    tracks_by_file: dict[int, set[int]] = defaultdict(set)
    for fid, track in zip(nominated.file_ids.tolist(), nominated.tracks.tolist(), strict=True):
        tracks_by_file[fid].add(track)
    parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    quality: dict[int, float] = {}
    maybe: set[int] = set()
    records = catalog.files_by_id(tracks_by_file)
    for fid, tracks in tracks_by_file.items():
        faces = catalog.track_faces(fid, tracks)
        assert faces.vectors is not None
        sims = faces.vectors @ query
        record = records.get(fid)
        size = (record.width, record.height) if record is not None else (None, None)
        weights = visible_share(faces.boxes, *size) ** 2
        members = {track: faces.tracks == track for track in tracks}
        scores = {
            track: track_similarity(faces.vectors[m], query, weights[m])
            for track, m in members.items()
        }
        best = max(scores.values())
        if best < floor:
            continue
        cut = threshold if best >= threshold else floor
        if best < threshold:
            maybe.add(fid)
        quality[fid] = best
        for track, score in scores.items():
            if score >= cut:
                m = members[track]
                parts.append((fid, faces.times[m], faces.boxes[m], sims[m], faces.tracks[m]))
    if not parts:
        return Matches.none()
    return Matches(
        np.concatenate([np.full(len(p[1]), p[0]) for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        np.clip(np.concatenate([p[3] for p in parts]), 0.0, 1.0),
        quality,
        frozenset(maybe),
        np.concatenate([p[4] for p in parts]),
    )


def track_similarity(
    track_vectors: np.ndarray, query: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """Cosine similarity of the query to the normalised (weighted) mean of a track's faces."""
    if weights is not None and float(weights.sum()) > 0:
        track_vectors = track_vectors * (weights / weights.mean())[:, None]
    return float(unit_mean(track_vectors) @ query)


def visible_share(boxes: np.ndarray, width: int | None, height: int | None) -> np.ndarray:
    """How much of each face box lies inside the frame (1: all of it). A face cut by the edge
    of the frame embeds unlike the same face whole, so it counts less in its track's mean."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not width or not height:
        return np.ones(len(boxes))
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-9) * np.maximum(boxes[:, 3] - boxes[:, 1], 1e-9)
    inside_w = np.clip(np.minimum(boxes[:, 2], width) - np.maximum(boxes[:, 0], 0), 0, None)
    inside_h = np.clip(np.minimum(boxes[:, 3], height) - np.maximum(boxes[:, 1], 0), 0, None)
    return np.clip(inside_w * inside_h / area, 0.0, 1.0)
