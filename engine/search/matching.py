"""Matching: from the faces nearest the query to whole appearances that match it.

Single frames are noisy: among thousands of frames of strangers a few come close to any query.
So frames only nominate candidates (down to CANDIDATE_MARGIN below the threshold); the decision
is taken per track (a face followed through a video, see `tracking`): a track matches when the
mean of its faces matches the query, faces cut by the edge of the frame counting less. A
matching track contributes all its faces, so segments cover the whole appearance, blurred
frames included. A matching track seen in the same frames as one that matches better is
someone else (one person, one face in a frame): a stranger just above the threshold beside the
person does not stretch the person's segment over the stranger's own time on screen.

Below the threshold, down to a lower similarity, appearances are possible matches: listed
after every match, marked, for files with no match (the way a face service lets its caller
lower the match threshold and see what comes close). When nothing in the library matches, the
files nearest the query below that floor are listed as possible matches too, each with only its
best appearances: a search of degraded footage, where the person's own faces score 0.1 to 0.3,
still ranks the likeliest videos first instead of answering nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from engine.library.catalog import Catalog, FileRecord
from engine.library.stores.base import VectorStore
from engine.search.ranking import FileInfo, Matches
from engine.vocabulary import MediaKind

CANDIDATE_MARGIN = 0.10
POSSIBLE_CANDIDATES = 32  # faces nearest the query, per result asked for, that may nominate
# possible appearances (at least 256): enough to fill the page, and a search stays fast
# with no match anywhere, possible matches reach down to CLOSEST_FLOOR, a file below the
# possible floor listing only its appearances within NEAR_BEST of its best one
CLOSEST_FLOOR = 0.0
NEAR_BEST = 0.05
# a matched video's weaker appearances are its possible segments down to this far below the
# threshold (and not below the possible floor): a stranger in the same video scores 0.2 to
# 0.3 (the pianist of the Hamilton clip 0.27), the person degraded 0.35 and up
WEAKER_MARGIN = 0.10


def match_appearances(
    query: np.ndarray,
    catalog: Catalog,
    vectors: VectorStore,
    threshold: float,
    possible: float | None = None,
    top: int = 20,
    closest: bool = True,
) -> Matches:
    """The appearances whose tracks match `query` at `threshold`. With `possible` (a lower
    similarity), a file with no such appearance is still given with its tracks at or above
    `possible`, marked a possible match (`Matches.possible`); a file with a match lists its
    appearances within WEAKER_MARGIN below `threshold` (and above `possible`) too, marked
    (`Matches.weak`): its possible segments, which never change its score or place. When no
    file matches, files whose best track is below `possible` (down to CLOSEST_FLOOR) are possible matches too, with their tracks within
    NEAR_BEST of that best (`Matches.floor` says how low the list reaches); `closest=False`
    replays the rule before that (evaluation)."""
    floor = threshold if possible is None else min(possible, threshold)
    keys, _ = vectors.search(query, threshold - CANDIDATE_MARGIN, one_per_track=True)
    if floor < threshold:  # the nearest faces below: enough to fill a page, bounded in time
        more, _ = vectors.search(  # faces, not tracks: every store nominates the same ones
            query,
            (min(floor, CLOSEST_FLOOR) if closest else floor) - CANDIDATE_MARGIN,
            one_per_track=False,
            limit=max(256, POSSIBLE_CANDIDATES * top),
        )
        keys = np.union1d(keys, more)
    nominated = catalog.faces(keys)
    tracks_by_file: dict[int, set[int]] = defaultdict(set)
    for fid, track in zip(nominated.file_ids.tolist(), nominated.tracks.tolist(), strict=True):
        tracks_by_file[fid].add(track)
    records = catalog.files_by_id(tracks_by_file)
    faces = catalog.tracks_faces((f, t) for f, tracks in tracks_by_file.items() for t in tracks)
    assert faces.vectors is not None
    if not len(faces.ids):
        return Matches.none()
    # every appearance scored at once: the weighted mean of its faces against the query
    size = np.asarray(
        [(records[f].width or 0, records[f].height or 0) if f in records else (0, 0)
         for f in faces.file_ids.tolist()], dtype=np.float64,
    ).reshape(-1, 2)  # fmt: skip
    weights = visible_share(faces.boxes, size[:, 0], size[:, 1]) ** 2
    keys = (faces.file_ids.astype(np.int64) << 32) | faces.tracks.astype(np.int64)
    appearances, which = np.unique(keys, return_inverse=True)
    scores = appearance_similarities(faces.vectors, weights, which, len(appearances), query)
    files, file_of = np.unique(appearances >> 32, return_inverse=True)
    best = np.full(len(files), -np.inf)
    np.maximum.at(best, file_of, scores)
    reach = floor  # how low a file's best appearance may be and the file still listed
    if closest and floor < threshold and not (best >= threshold).any():
        reach = min(floor, CLOSEST_FLOOR)  # nothing matches: the closest files, best first
    # a file with a match: its matches, and its weaker appearances within WEAKER_MARGIN below
    # the threshold (listed as possible segments); a file below the floor: its best moments
    weaker = max(floor, threshold - WEAKER_MARGIN)
    cut = np.where(best >= threshold, weaker, floor)
    cut = np.where(best < floor, np.maximum(best - NEAR_BEST, reach), cut)
    keep = (scores[which] >= cut[file_of[which]]) & (best[file_of[which]] >= reach)
    if not keep.any():
        return Matches.none()
    listed = best >= reach
    # one person is not twice in a frame: a match seen at the same moment as a better one of
    # its file is someone else, listed at most as a possible segment
    below = (scores < threshold) | outmatched(appearances, which, faces.times, scores, threshold)
    weak = below[which] & (best[file_of[which]] >= threshold)
    return Matches(
        faces.file_ids[keep],
        faces.times[keep],
        faces.boxes[keep],
        np.clip(faces.vectors[keep] @ query, 0.0, 1.0),
        {int(f): float(b) for f, b in zip(files[listed], best[listed], strict=True)},
        frozenset(int(f) for f in files[listed & (best < threshold)]),
        faces.tracks[keep],
        file_infos(catalog, records, files[listed].tolist()),
        reach if possible is not None else None,
        weak[keep],
    )


def outmatched(
    appearances: np.ndarray,
    which: np.ndarray,
    times: np.ndarray,
    scores: np.ndarray,
    threshold: float,
) -> np.ndarray:
    """Per appearance (`appearances`: file id << 32 | track; `which` numbers each face's), whether
    it matches (`scores` at `threshold`) while another appearance of its file that matches
    better shows a face at one of the same sampled times. The query is one person, and one
    person has one face in a frame: the weaker of two faces side by side is someone else (a
    stranger who scores near the threshold, beside the person who scores well above it)."""
    out = np.zeros(len(appearances), bool)
    matching = scores[which] >= threshold
    if np.unique(appearances[which[matching]] >> 32, return_counts=True)[1].max(initial=0) < 2:
        return out  # no file has two matching appearances
    k = which[matching]
    ms = np.round(np.asarray(times, dtype=np.float64)[matching] * 1000).astype(np.int64)
    _, at = np.unique(np.stack([appearances[k] >> 32, ms], axis=1), axis=0, return_inverse=True)
    at = at.reshape(-1)
    best = np.full(at.max() + 1, -np.inf)
    np.maximum.at(best, at, scores[k])  # per file and sampled time: its best match
    out[k[scores[k] < best[at]]] = True
    return out


def file_infos(
    catalog: Catalog, records: dict[int, FileRecord], ids: Iterable[int]
) -> dict[int, FileInfo]:
    """What ranking needs of each of these files (those with a record): their videos' shot
    cuts read with them."""
    wanted = [int(f) for f in ids if int(f) in records]
    videos = [f for f in wanted if records[f].kind == MediaKind.VIDEO]
    cuts = catalog.cuts(videos) if videos else {}
    return {
        f: FileInfo(
            (r := records[f]).path,
            r.kind,
            r.duration,
            r.samples,
            r.step,
            tuple(float(c) for c in cuts.get(f, ())),
        )
        for f in wanted
    }


def appearance_similarities(
    vectors: np.ndarray, weights: np.ndarray, which: np.ndarray, count: int, query: np.ndarray
) -> np.ndarray:
    """Per appearance (`which` numbers each face's, 0 to count - 1, each used), the similarity
    of the query to the normalised weighted mean of its faces (their plain mean where every
    weight is 0)."""
    order = np.argsort(which, kind="stable")
    starts = np.flatnonzero(np.r_[True, which[order][1:] != which[order][:-1]])
    w = weights[order]
    totals = np.add.reduceat(w, starts)
    plain = np.repeat(totals <= 0, np.diff(np.r_[starts, len(order)]))
    w = np.where(plain, 1.0, w)
    sums = np.add.reduceat(vectors[order] * w[:, None], starts, axis=0)
    norms = np.maximum(np.linalg.norm(sums, axis=1), 1e-12)
    return (sums @ query) / norms


def visible_share(boxes: np.ndarray, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    """How much of each face box lies inside its frame of `w` x `h` pixels (1: all of it; a
    size of 0: unknown, taken as all). A face cut by the edge of the frame embeds unlike the
    same face whole, so it counts less in its track's mean."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    known = (w > 0) & (h > 0)
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-9) * np.maximum(boxes[:, 3] - boxes[:, 1], 1e-9)
    inside_w = np.clip(np.minimum(boxes[:, 2], w) - np.maximum(boxes[:, 0], 0), 0, None)
    inside_h = np.clip(np.minimum(boxes[:, 3], h) - np.maximum(boxes[:, 1], 0), 0, None)
    return np.where(known, np.clip(inside_w * inside_h / area, 0.0, 1.0), 1.0)
